/**
 * What a run produced, collected under a byte cap so a runaway print loop can never exhaust memory,
 * and forwarded as typed events to an optional listener (the streaming endpoint).
 */

import type { OutputEvent, RichResult, RunError } from "../contract/execute";

/** What a run sends its listener: the wire's stream events, as the contract defines them. */
export type { OutputEvent, RichResult, RunError };

export type OutputListener = (event: OutputEvent) => void;

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g;

/** Removes terminal colour and control sequences (IPython colours its tracebacks). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}

/** Byte length of `text` in UTF-8, without allocating an encoded copy. */
function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** Cuts `text` to at most `bytes` UTF-8 bytes without splitting a character. */
function cutToBytes(text: string, bytes: number): string {
  if (bytes <= 0) return "";
  const encoded = Buffer.from(text, "utf8").subarray(0, bytes);
  // A trailing partial character decodes to U+FFFD; drop it.
  return encoded.toString("utf8").replace(/\uFFFD$/, "");
}

export class OutputCollector {
  private readonly stdoutParts: string[] = [];
  private readonly stderrParts: string[] = [];
  readonly results: RichResult[] = [];
  error: RunError | null = null;
  /** True once anything was dropped for the cap, here or at its source (the kernel's own cap). */
  truncated = false;
  private used = 0;

  constructor(
    private readonly limitBytes: number,
    private readonly listener?: OutputListener,
  ) {}

  /** Bytes kept so far. */
  get size(): number {
    return this.used;
  }

  /** True once the cap is reached: any further output is dropped. */
  get full(): boolean {
    return this.used >= this.limitBytes;
  }

  private take(text: string): string {
    const room = this.limitBytes - this.used;
    const length = utf8Length(text);
    if (length <= room) {
      this.used += length;
      return text;
    }
    this.truncated = true;
    const kept = cutToBytes(text, room);
    this.used = this.limitBytes;
    return kept;
  }

  stdout(text: string): void {
    this.stream("stdout", text, this.stdoutParts);
  }

  stderr(text: string): void {
    this.stream("stderr", stripAnsi(text), this.stderrParts);
  }

  private stream(type: "stdout" | "stderr", text: string, parts: string[]): void {
    if (!text) return;
    const kept = this.take(text);
    if (!kept) return;
    parts.push(kept);
    this.listener?.({ type, text: kept });
  }

  /**
   * Appends a sentence of CodeRunner's own to stderr (how the run ended, what was lost). It is kept
   * past the cap, so a run that filled it still says why it stopped, and does not count as output.
   */
  notice(text: string): void {
    this.stderrParts.push(text);
    this.listener?.({ type: "stderr", text });
  }

  result(data: RichResult): void {
    const size = Object.values(data).reduce<number>(
      (sum, value) => sum + (typeof value === "string" ? utf8Length(value) : utf8Length(JSON.stringify(value) ?? "")),
      0,
    );
    if (size > this.limitBytes - this.used) {
      this.truncated = true;
      this.used = this.limitBytes;
      return;
    }
    this.used += size;
    this.results.push(data);
    this.listener?.({ type: "result", data });
  }

  fail(error: RunError): void {
    const clean = { ename: error.ename, evalue: stripAnsi(error.evalue), traceback: error.traceback.map(stripAnsi) };
    this.error = clean;
    this.listener?.({ type: "error", error: clean });
  }

  get stdoutText(): string {
    return this.stdoutParts.join("");
  }

  get stderrText(): string {
    return this.stderrParts.join("");
  }
}
