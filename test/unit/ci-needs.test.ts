/**
 * Everything the suite uses from the machine is installed by .ci/deps: every Python module the tests,
 * benches and examples import in code they send to kernels has a `py:` probe in its NEEDS table, and
 * every executable they spawn a `cmd:` probe. A test that starts using something new fails here,
 * naming it, instead of on the next fresh machine (issue 9).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pythonStdlib, readNeeds, scanSource, scanTree, topLevel, type Use } from "../helpers/ci-needs";

const ROOT = join(import.meta.dir, "../..");
const SCANNED = ["test", "bench", "examples"];
/** Its fixture strings are examples for the scanner, not things the suite runs. */
const SELF = "test/unit/ci-needs.test.ts";

/** Executables that every Debian has (Essential packages) or that run the suite itself. */
const EVERYWHERE = new Set(["node", "npm", "bun", "bash", "sh", "true", "false", "cat", "echo", "env", "mkdir", "sleep", "grep", "sed", "du", "mkfifo", "perl"]);

/**
 * Files whose Python runs in the CodeRunner image rather than on the host; their modules must be in
 * image/packages.txt (Debian's `python3-<module>` naming) instead of .ci/deps.
 */
const IN_IMAGE = new Set(["test/integration/docker.test.ts", "test/integration/client-container.test.ts"]);

const uses = scanTree(ROOT, SCANNED).filter((use) => use.file !== SELF);
const needs = readNeeds(ROOT);
const stdlib = pythonStdlib();
const imagePackages = new Set(
  readFileSync(join(ROOT, "image/packages.txt"), "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter(Boolean),
);

const where = (use: Use) => `${use.file}:${use.line}`;

describe("the suite needs nothing .ci/deps does not install", () => {
  test("the scan finds what the suite is known to use (it is not vacuous)", () => {
    const python = new Set(uses.filter((use) => use.kind === "python").map((use) => topLevel(use.name)));
    const commands = new Set(uses.filter((use) => use.kind === "command").map((use) => use.name));
    expect([...python]).toEqual(expect.arrayContaining(["matplotlib", "IPython", "jupyter_client", "os", "time"]));
    expect([...commands]).toEqual(expect.arrayContaining(["tar", "unshare", "node"]));
  });

  test("every Python module imported by code sent to a kernel has a py: probe", () => {
    const missing = uses
      .filter((use) => use.kind === "python" && !stdlib.has(topLevel(use.name)))
      .filter((use) => !IN_IMAGE.has(use.file) && !needs.python.has(topLevel(use.name)))
      .map((use) => `${where(use)} imports ${topLevel(use.name)}: add a "python3-… py:${topLevel(use.name)}" line to NEEDS in .ci/deps`);
    expect([...new Set(missing)]).toEqual([]);
  });

  test("every Python module of code run in the CodeRunner container is in image/packages.txt", () => {
    const missing = uses
      .filter((use) => use.kind === "python" && IN_IMAGE.has(use.file) && !stdlib.has(topLevel(use.name)))
      .filter((use) => !imagePackages.has(`python3-${topLevel(use.name).toLowerCase()}`))
      .map((use) => `${where(use)} imports ${topLevel(use.name)} in the container: add its Debian package to image/packages.txt`);
    expect([...new Set(missing)]).toEqual([]);
  });

  test("every executable the tests spawn has a cmd: probe", () => {
    // The py: probes run /usr/bin/python3, so they stand for it.
    const covered = (command: string) =>
      needs.commands.has(command.split("/").at(-1)!) || (command === "/usr/bin/python3" && needs.python.size > 0);
    const missing = uses
      .filter((use) => use.kind === "command" && !EVERYWHERE.has(use.name) && !covered(use.name))
      .map((use) => `${where(use)} runs ${use.name}: add "<package> cmd:${use.name}" to NEEDS in .ci/deps`);
    expect([...new Set(missing)]).toEqual([]);
  });
});

describe("the scanner", () => {
  test("finds the Python imports in code strings, not TypeScript imports or comments", () => {
    const source = [
      `import { x } from "y";`,
      `import type { Z } from "./z";`,
      `// import pandas`,
      `/* from scipy import stats */`,
      `const cell = "import matplotlib.pyplot as plt\\nfrom IPython.display import Image\\nplt.plot([1])";`,
      `const two = 'import json, sqlalchemy.orm'; const prose = "logs; import sends repeated changes";`,
      "const t = `x = 1\n    import requests  # indented, in a template\ny = ${`import nested`}`;",
      `const re = /"import regex_not_a_string"/;`,
    ].join("\n");
    const found = scanSource(source).filter((use) => use.kind === "python");
    expect(found.map((use) => [use.name, use.line])).toEqual([
      ["matplotlib.pyplot", 5],
      ["IPython.display", 5],
      ["json", 6],
      ["sqlalchemy.orm", 6],
      ["nested", 9],
      ["requests", 7],
    ]);
  });

  test("finds spawned executables and Bun.which lookups; modules the file writes itself are local", () => {
    const source = [
      `Bun.spawnSync(["tar", "-xf", file]);`,
      `const p = Bun.spawn([process.execPath, "build.ts"]);`,
      `if (Bun.which("unshare")) spawn("ip", ["addr"]);`,
      `upload([{ name: "pkg/__init__.py" }]); run("import pkg.sub");`,
      `const note = 'Bun.spawn(["not-code"])';`,
    ].join("\n");
    expect(scanSource(source, "f.ts").map(({ kind, name, line }) => [kind, name, line])).toEqual([
      ["command", "tar", 1],
      ["command", "unshare", 3],
      ["command", "ip", 3],
    ]);
  });
});
