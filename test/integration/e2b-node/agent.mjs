// An agent written for E2B, run by Node as a user would run it: the unchanged `@e2b/code-interpreter`
// and `e2b` packages, pointed at CodeRunner only by E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY.
// Prints what it saw as one JSON line for the test (`e2b.test.ts`) to check.
import { Sandbox } from "@e2b/code-interpreter";
import { CommandExitError } from "e2b";

const seen = {};
const sandbox = await Sandbox.create({ requestTimeoutMs: 600_000 });
try {
  await sandbox.runCode("x = 1");
  seen.state = (await sandbox.runCode("x += 1; x")).text;
  const streamed = [];
  const execution = await sandbox.runCode("import sys\nprint('out')\nprint('err', file=sys.stderr)\n{'a': 1}", {
    onStdout: (message) => streamed.push(`stdout ${message.line.trim()}`),
    onStderr: (message) => streamed.push(`stderr ${message.line.trim()}`),
  });
  seen.streamed = streamed.sort();
  seen.result = execution.text;
  seen.error = (await sandbox.runCode("1 / 0")).error?.name;
  const lines = [];
  const command = await sandbox.commands.run("for i in 1 2 3; do echo line $i; done; pwd", { onStdout: (data) => lines.push(data) });
  seen.command = { exitCode: command.exitCode, stdout: command.stdout, streamed: lines.join("") };
  seen.exit = await sandbox.commands.run("exit 3").then(
    () => "no error",
    (error) => (error instanceof CommandExitError ? error.exitCode : String(error)),
  );
  const background = await sandbox.commands.run("sleep 60", { background: true });
  seen.killed = await background.kill();
  await sandbox.files.write("/home/user/from-node.txt", "written by node");
  seen.file = await sandbox.files.read("/home/user/from-node.txt");
  seen.listed = (await sandbox.files.list("/home/user")).some((entry) => entry.name === "from-node.txt");
} finally {
  await sandbox.kill();
}
seen.after = await Sandbox.connect(sandbox.sandboxId).then(
  () => "still there",
  (error) => error.name,
);
console.log(JSON.stringify(seen));
