import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log";
import { messageOf } from "../errors";
import type { E2BRecord, E2BRegistry } from "./registry";

/**
 * What the E2B surface knows beyond the sessions (templates, access tokens, contexts, lifecycles and
 * timeouts), kept in one JSON file of the host's state directory, so a host that restarts (or is
 * killed) finds its E2B sandboxes again along with the sessions the manager finds. Written when it
 * changed, at most every `everyMs` and when the host stops: a crash loses at most that much. The file
 * holds access tokens, so only its owner may read it.
 */
export class E2BStore {
  private last = "";
  private timer: Timer | undefined;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  /** The records saved last; none when there is no file or it cannot be read. */
  load(): E2BRecord[] {
    try {
      const records = JSON.parse(readFileSync(this.path, "utf8")) as unknown;
      return Array.isArray(records) ? (records as E2BRecord[]) : [];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.log.warn(`E2B state ${this.path} could not be read, so it starts empty: ${messageOf(error)}`);
      return [];
    }
  }

  /** Writes the records if they changed since the last write (a new file, renamed over the old one). */
  save(records: E2BRecord[]): void {
    const text = JSON.stringify(records);
    if (text === this.last) return;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const staged = `${this.path}.${process.pid}.new`;
      writeFileSync(staged, text, { mode: 0o600 });
      chmodSync(staged, 0o600);
      renameSync(staged, this.path);
      this.last = text;
    } catch (error) {
      this.log.warn(`E2B state ${this.path} could not be written: ${messageOf(error)}`);
    }
  }

  /** Restores `registry` from the file, then keeps the file up to date until `stop`. */
  keep(registry: E2BRegistry, everyMs = 1000): { stop(): void } {
    const restored = registry.restore(this.load());
    if (restored > 0) this.log.info(`E2B: ${restored} sandbox(es) found again`);
    this.save(registry.records());
    this.timer = setInterval(() => this.save(registry.records()), everyMs);
    this.timer.unref?.();
    return {
      stop: () => {
        clearInterval(this.timer);
        this.save(registry.records());
      },
    };
  }
}
