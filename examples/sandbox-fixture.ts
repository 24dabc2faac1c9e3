/**
 * `coderunner/testing` with `bun test`: a sandbox per test file and one per test, always closed.
 * Run it with `bun test ./examples/sandbox-fixture.ts` (CodeRunner starts itself if it is not running).
 */
import { describe, expect, test } from "bun:test";
import { useSandbox } from "coderunner/testing";

describe("one sandbox for the whole block", () => {
  const sandbox = useSandbox();

  test("state set in one test…", async () => {
    await sandbox.execute("x = 41");
  });

  test("…is there in the next", async () => {
    const result = await sandbox.execute("print(x + 1)");
    expect(result.stdout).toBe("42\n");
  });
});

describe("a fresh sandbox for every test", () => {
  const sandbox = useSandbox({ each: true, session: { env: { STAGE: "test" } } });

  test("starts clean", async () => {
    await sandbox.execute("open('scratch.txt', 'w').write('mine')");
    expect((await sandbox.execute("echo $STAGE; ls", { language: "bash" })).stdout).toBe("test\nscratch.txt\n");
  });

  test("sees nothing the previous test left", async () => {
    const result = await sandbox.execute("import os; print('x' in globals(), os.listdir('.'))");
    expect(result.stdout).toBe("False []\n");
  });
});
