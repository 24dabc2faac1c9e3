import { expect, test } from "bun:test";
import { join } from "node:path";

const LOG = join(import.meta.dir, "../../src/log.ts");

/** Runs `body` in a fresh Bun process (an unhandled rejection is judged by the process, not the test runner). */
function runScript(body: string) {
  const script = `import { createLogger, survivePromiseRejections } from ${JSON.stringify(LOG)};\n${body}`;
  const result = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, stderr: result.stderr.toString() };
}

test("an unhandled rejection ends a plain Bun process (why the guard exists)", () => {
  const { code } = runScript(`void Promise.reject(new Error("stray")); setTimeout(() => process.exit(0), 50);`);
  expect(code).not.toBe(0);
});

test("with the guard, a stray rejection is logged with its stack and the process goes on", () => {
  const { code, stderr } = runScript(
    `survivePromiseRejections(createLogger("info"));
     void Promise.resolve().then(async () => { throw new Error("Kernel connection disconnected"); });
     setTimeout(() => { console.error("still here"); process.exit(0); }, 50);`,
  );
  expect(code).toBe(0);
  expect(stderr).toContain("nobody handled it; the server goes on. Error: Kernel connection disconnected");
  expect(stderr).toContain("still here");
});
