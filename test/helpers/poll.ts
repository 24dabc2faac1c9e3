/**
 * The suite's one way to wait for a condition: polls `probe` every `everyMs` until it gives a value
 * (anything but undefined, null or false) and returns it; a probe that throws counts as "not yet".
 * After `timeoutMs` it throws, naming `what` (a function: read then, to show the state it ended in)
 * and the probe's last error, so a test never hangs and never sleeps a fixed time on a guess.
 */
export async function until<T>(what: string | (() => string), probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, options: { timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
  const deadline = performance.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`Timed out waiting for ${typeof what === "function" ? what() : what}${lastError ? ` (last error: ${(lastError as Error).message ?? lastError})` : ""}`);
    }
    await Bun.sleep(options.everyMs ?? 25);
  }
}
