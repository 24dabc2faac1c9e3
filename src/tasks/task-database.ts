import { Database } from "bun:sqlite";
import { closeSync, existsSync, mkdirSync, openSync, renameSync } from "node:fs";
import { dirname } from "node:path";
import { messageOf } from "../errors";
import type { Logger } from "../log";

/**
 * The SQLite file behind the task store (`bun:sqlite`): one row per task, its state, its output so far
 * while it runs and its result once finished. Written crash-safe: WAL with `synchronous = NORMAL`, so
 * a killed server (SIGKILL, out of memory) loses no committed write and never leaves a torn file;
 * only a power cut may lose the last moments. The file is held with an exclusive lock, so a second
 * server pointed at the same state is refused rather than both claiming its tasks.
 */

/** `PRAGMA user_version` of the schema below. */
export const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    finish_seq INTEGER,
    stdout TEXT NOT NULL DEFAULT '',
    stderr TEXT NOT NULL DEFAULT '',
    result TEXT,
    failure TEXT,
    size INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX tasks_finished ON tasks (finished_at, finish_seq) WHERE finished_at IS NOT NULL;
`;

/** A task as stored. `result` and `failure` are JSON; `stdout`/`stderr` hold the output saved while it ran. */
export type TaskRow = {
  id: string;
  session_id: string;
  language: string;
  status: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  finish_seq: number | null;
  stdout: string;
  stderr: string;
  result: string | null;
  failure: string | null;
  size: number;
};

/** A running task's state and the output it printed since its last save (appended to what is stored). */
export type LiveRow = Pick<TaskRow, "id" | "session_id" | "language" | "status" | "created_at" | "started_at" | "stdout" | "stderr">;

/** The database cannot be used at all (its directory or file is not the server's, or another server holds it). */
export class TaskDatabaseError extends Error {
  override name = "TaskDatabaseError";
}

/** SQLite's word that the file is not (or no longer) a database this build can read. */
const DAMAGED = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB"]);

class NewerSchema extends Error {}

function configure(db: Database): void {
  // Before the first access, so the lock is taken at once and WAL needs no shared-memory file.
  db.run("PRAGMA locking_mode = EXCLUSIVE");
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  const { user_version: version } = db.query<{ user_version: number }, []>("PRAGMA user_version").get()!;
  if (version === 0) {
    db.transaction(() => {
      db.run(SCHEMA);
      db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    })();
  } else if (version !== SCHEMA_VERSION) {
    throw new NewerSchema(`it has schema version ${version}, this CodeRunner knows ${SCHEMA_VERSION}`);
  }
}

function connect(path: string): Database {
  const db = new Database(path, { create: true, strict: true });
  try {
    configure(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

export class TaskDatabase {
  private constructor(private readonly db: Database) {}

  /**
   * Opens (or creates, with its directory, owner-only) the database at `path`, or an in-memory one
   * for `:memory:`. A damaged file, or one written by a newer CodeRunner, is moved aside to
   * `<path>.damaged-<time>` and a new one started, with a warning: it holds results kept an hour at
   * most, and refusing to start would cost every session of the sandbox for a cache. Anything else
   * (the path is not writable, another server holds the file) is a `TaskDatabaseError` naming the
   * path: a setup mistake that moving files would not mend.
   */
  static open(path: string, log: Logger): TaskDatabase {
    try {
      if (path !== ":memory:") {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        if (!existsSync(path)) closeSync(openSync(path, "wx", 0o600));
      }
      return new TaskDatabase(connect(path));
    } catch (error) {
      const code = (error as { code?: string }).code ?? "";
      if (path !== ":memory:" && (DAMAGED.has(code) || error instanceof NewerSchema)) {
        const aside = `${path}.damaged-${Date.now()}`;
        for (const suffix of ["", "-wal", "-shm"]) if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
        log.warn(`The task database ${path} could not be read (${messageOf(error)}); it was moved to ${aside} and a new one started: async tasks from before this start answer 404.`);
        return new TaskDatabase(connect(path));
      }
      const why = code === "SQLITE_BUSY" ? "another CodeRunner server is using it" : messageOf(error);
      throw new TaskDatabaseError(`Cannot open the task database ${path}: ${why}. Give this server a state directory of its own (CODERUNNER_STATE_DIR).`, { cause: error });
    }
  }

  /** Runs `fn` in one transaction (one WAL commit). */
  transaction(fn: () => void): void {
    this.db.transaction(fn)();
  }

  /** Inserts a queued or running task, or updates its state and appends the output it printed since. */
  saveLive(row: LiveRow): void {
    this.db
      .query(
        `INSERT INTO tasks (id, session_id, language, status, created_at, started_at, stdout, stderr)
         VALUES ($id, $session_id, $language, $status, $created_at, $started_at, $stdout, $stderr)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
           stdout = stdout || excluded.stdout, stderr = stderr || excluded.stderr`,
      )
      .run(row);
  }

  /** Writes a finished task whole (inserted if it never was). */
  saveFinished(row: TaskRow): void {
    this.db
      .query(
        `INSERT OR REPLACE INTO tasks (id, session_id, language, status, created_at, started_at, finished_at, finish_seq, stdout, stderr, result, failure, size)
         VALUES ($id, $session_id, $language, $status, $created_at, $started_at, $finished_at, $finish_seq, $stdout, $stderr, $result, $failure, $size)`,
      )
      .run(row);
  }

  get(id: string): TaskRow | null {
    return this.db.query<TaskRow, [string]>("SELECT * FROM tasks WHERE id = ?").get(id);
  }

  /** Tasks that were queued or running when the server that wrote them stopped. */
  unfinished(): TaskRow[] {
    return this.db.query<TaskRow, []>("SELECT * FROM tasks WHERE finished_at IS NULL").all();
  }

  /** Finished tasks: how many, their bytes, the oldest's finish time, the last finish sequence number. */
  finishedTotals(): { count: number; bytes: number; oldest: number | null; seq: number } {
    return this.db
      .query<{ count: number; bytes: number; oldest: number | null; seq: number }, []>(
        "SELECT COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes, MIN(finished_at) AS oldest, COALESCE(MAX(finish_seq), 0) AS seq FROM tasks WHERE finished_at IS NOT NULL",
      )
      .get()!;
  }

  oldestFinishedAt(): number | null {
    return this.db.query<{ oldest: number | null }, []>("SELECT MIN(finished_at) AS oldest FROM tasks WHERE finished_at IS NOT NULL").get()!.oldest;
  }

  /** Deletes the task that finished first; its size, or undefined when none has finished. */
  deleteOldestFinished(): number | undefined {
    const row = this.db
      .query<{ size: number }, []>(
        `DELETE FROM tasks WHERE id = (SELECT id FROM tasks WHERE finished_at IS NOT NULL ORDER BY finished_at, finish_seq LIMIT 1) RETURNING size`,
      )
      .get();
    return row?.size;
  }

  /** Deletes the tasks finished at or before `cutoff`; their sizes. */
  deleteFinishedBefore(cutoff: number): number[] {
    return this.db
      .query<{ size: number }, [number]>("DELETE FROM tasks WHERE finished_at IS NOT NULL AND finished_at <= ? RETURNING size")
      .all(cutoff)
      .map((row) => row.size);
  }

  close(): void {
    this.db.close();
  }
}
