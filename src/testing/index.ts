/**
 * Fixtures for scripted use from `bun test` (`coderunner/testing`): each test file, or each test,
 * gets a fresh sandbox of its own, and it is always closed afterwards, whether the tests passed,
 * failed or threw.
 *
 * @example
 * import { expect, test } from "bun:test";
 * import { useSandbox } from "coderunner/testing";
 *
 * const sandbox = useSandbox();                 // one sandbox for this file
 * test("state persists between calls", async () => {
 *   await sandbox.execute("x = 41");
 *   expect((await sandbox.execute("print(x + 1)")).stdout).toBe("42\n");
 * });
 */
import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { CodeRunner, type CodeRunnerOptions } from "../client/coderunner";
import type { SessionOptions } from "../client/types";

export interface SandboxFixtureOptions extends CodeRunnerOptions {
  /** A fresh sandbox for every test (default: one for the file, or the `describe` block it is called in). */
  each?: boolean;
  /** How the sandbox is made: environment, limits, internet, lifetime, metadata. */
  session?: SessionOptions;
  /**
   * Milliseconds the opening hook may take. The first use on a machine may start CodeRunner and
   * build its image (minutes); later ones take milliseconds. Default 10 minutes.
   */
  timeoutMs?: number;
}

/**
 * Registers the hooks that open a sandbox before the tests (or each test) and close it after them,
 * and returns the client bound to it: call `execute`, `uploadFile`, `browser`, … on it inside tests.
 * Call it at the top level of a test file or inside a `describe` block.
 */
export function useSandbox(options: SandboxFixtureOptions = {}): CodeRunner {
  const { each, session, timeoutMs = 600_000, ...client } = options;
  const runner = new CodeRunner(client);
  const open = async () => {
    await runner.startSession(session);
  };
  // Closes the session (and so its sandbox) and every browser session the tests opened through it.
  const close = () => runner.close();
  if (each) {
    beforeEach(open, timeoutMs);
    afterEach(close, timeoutMs);
  } else {
    beforeAll(open, timeoutMs);
    afterAll(close, timeoutMs);
  }
  return runner;
}
