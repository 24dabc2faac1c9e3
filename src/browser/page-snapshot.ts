import { AppError } from "../errors";

/**
 * The server's half of the page snapshot: token counting, reading a snapshot page by page with a
 * cursor, and refs (`ref=e12`, accepted wherever a selector is).
 */

/** Tokens are estimated as characters / 4 (rounded up): close to what GPT- and Claude-style tokenizers give for English text and markup. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** A selector naming a ref from a snapshot: `ref=e12`. */
const REF_SELECTOR = /^\s*ref\s*=\s*(e\d+)\s*$/;

/** The ref a selector names (`"ref=e12"` → `"e12"`), or null for any other selector. */
export function refOf(selector: string): string | null {
  return REF_SELECTOR.exec(selector)?.[1] ?? null;
}

/** One snapshot as the session keeps it, to be read on with a cursor. */
export interface StoredSnapshot {
  id: string;
  lines: string[];
}

/** A slice of a snapshot that fits a token budget. */
export interface SnapshotSlice {
  text: string;
  tokens: number;
  /** Where the next slice starts, or null when this one reaches the end. */
  next: number | null;
}

/**
 * The lines from `start` that fit in `maxTokens` (newlines counted). A line longer than the whole
 * budget is cut to fit, so every slice moves on and none exceeds the cap.
 */
export function sliceLines(lines: string[], start: number, maxTokens: number): SnapshotSlice {
  const budget = maxTokens * 4;
  const taken: string[] = [];
  let used = 0;
  let index = start;
  for (; index < lines.length; index++) {
    const line = lines[index]!;
    const cost = line.length + (taken.length ? 1 : 0);
    if (used + cost > budget) {
      if (taken.length === 0) {
        taken.push(`${line.slice(0, Math.max(0, budget - 1))}…`);
        index++;
      }
      break;
    }
    taken.push(line);
    used += cost;
  }
  const text = taken.join("\n");
  return { text, tokens: estimateTokens(text), next: index < lines.length ? index : null };
}

/** `<snapshot id>.<line>` */
export function makeCursor(snapshot: StoredSnapshot, line: number): string {
  return `${snapshot.id}.${line}`;
}

/** The line a cursor points at in `snapshot`; 400 when the cursor is malformed or from another snapshot. */
export function cursorLine(cursor: string, snapshot: StoredSnapshot | undefined): number {
  const match = /^([\w-]+)\.(\d+)$/.exec(cursor);
  if (!match) throw new AppError("INVALID_REQUEST", `${JSON.stringify(cursor)} is not a snapshot cursor; pass the cursor a snapshot returned, as it was.`);
  if (!snapshot || snapshot.id !== match[1]) {
    throw new AppError("INVALID_REQUEST", "That cursor belongs to an earlier snapshot of this session; take a new snapshot (without cursor) and read on from its cursor.");
  }
  const line = Number(match[2]);
  if (line >= snapshot.lines.length) throw new AppError("INVALID_REQUEST", `The cursor points past the end of the snapshot (${snapshot.lines.length} lines).`);
  return line;
}
