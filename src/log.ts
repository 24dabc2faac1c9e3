/** Leveled logging to stderr; tests pass `silentLogger`. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LEVELS)[number];

/** A logger printing `time level message` lines at or above `level`. */
export function createLogger(level: string = "info", write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = Math.max(0, LEVELS.indexOf(level as LogLevel));
  const at = (index: number) => (message: string) => {
    if (index >= threshold) write(`${new Date().toISOString()} ${LEVELS[index]!.padEnd(5)} ${message}\n`);
  };
  return { debug: at(0), info: at(1), warn: at(2), error: at(3) };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Keeps a long-running process alive through a promise rejection nobody handled: logged with its
 * stack, not fatal. A stray promise inside a library (a reconnect nobody awaits) must not end a
 * server that every session of a sandbox depends on. Thrown exceptions still end the process.
 */
export function survivePromiseRejections(log: Logger): void {
  process.on("unhandledRejection", (reason) => {
    const detail = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    log.error(`A promise was rejected and nobody handled it; the server goes on. ${detail}`);
  });
}
