/**
 * Timers that can be cancelled. A pending `Bun.sleep` in a `Promise.race` keeps the process alive
 * until it fires, even when the race was long decided; these are cleared as soon as they are moot.
 */

export interface Deadline<T> {
  promise: Promise<T>;
  cancel(): void;
}

/** Resolves to `value` after `ms`, unless cancelled first. */
export function delay<T>(ms: number, value: T): Deadline<T> {
  let timer: Timer | undefined;
  const promise = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(value), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** `promise`, or `fallback` if `ms` pass first; the timer never outlives the race. */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  const deadline = delay(ms, fallback);
  try {
    return await Promise.race([promise, deadline.promise]);
  } finally {
    deadline.cancel();
  }
}

/** Resolves to "stop" at the deadline or when `signal` aborts, whichever comes first. */
export function stopSignal(timeoutMs: number, signal?: AbortSignal): Deadline<"stop"> {
  let timer: Timer | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<"stop">((resolve) => {
    timer = setTimeout(() => resolve("stop"), timeoutMs);
    if (signal) {
      onAbort = () => resolve("stop");
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  return {
    promise,
    cancel: () => {
      clearTimeout(timer);
      if (signal && onAbort) signal.removeEventListener("abort", onAbort);
    },
  };
}
