import { AppError } from "../errors";
import type { ExecutionResult as ExecutionResultSchema } from "../server/models/execute";
import { OutputCollector, type OutputListener } from "./output";
import type { KernelRunStatus } from "./python-kernel";
import type { Session, SessionStore } from "./session-store";

/**
 * Runs code in sessions: picks the Python kernel or the session's shell, applies the timeout and
 * the output cap, serialises runs of one session, and turns how a run ended into the contract's
 * result (`status`, `stderr` sentences, `error`).
 */

export type Language = "python" | "bash" | "shell" | "sh";

export interface ExecuteRequest {
  command: string;
  language?: Language;
  /** Seconds. */
  timeout?: number;
  session_id?: string | null;
}

/** What a run answers: the wire object of `POST /execute`, defined once by its schema. */
export type ExecutionResult = typeof ExecutionResultSchema.static;

export interface ExecutorOptions {
  sessions: SessionStore;
  defaultTimeoutSeconds: number;
  maxTimeoutSeconds: number;
  outputLimitBytes: number;
  /** How long an interrupted run gets to stop before its kernel or shell is restarted. */
  interruptGraceMs?: number;
}

export interface RunControls {
  /** Aborting interrupts the run (a streaming client that went away). */
  signal?: AbortSignal;
  /** Receives output as it is produced. */
  listener?: OutputListener;
}

const BASH_CELL = /^\s*%%bash[^\n]*(\n|$)/;

/** Which engine runs `command`: `%%bash` cells go to the session's shell like `language: "bash"`. */
export function route(command: string, language: Language = "python"): { engine: "python" | "shell"; code: string } {
  if (language !== "python") return { engine: "shell", code: command };
  const cell = BASH_CELL.exec(command);
  if (cell) return { engine: "shell", code: command.slice(cell[0].length) };
  return { engine: "python", code: command };
}

function round(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

export class Executor {
  private readonly graceMs: number;

  constructor(private readonly options: ExecutorOptions) {
    this.graceMs = options.interruptGraceMs ?? 1000;
  }

  /** Seconds a request may run: its own timeout within the configured maximum, or the default. */
  timeoutSeconds(requested: number | undefined): number {
    if (requested === undefined) return this.options.defaultTimeoutSeconds;
    if (!(requested > 0)) throw new AppError("VALIDATION_ERROR", "timeout must be a positive number of seconds.");
    if (requested > this.options.maxTimeoutSeconds) {
      throw new AppError("VALIDATION_ERROR", `timeout may be at most ${this.options.maxTimeoutSeconds} seconds.`);
    }
    return requested;
  }

  /** Resolves the session (default when none is named) and runs the request in its queue. */
  async execute(request: ExecuteRequest, controls: RunControls = {}): Promise<ExecutionResult> {
    const timeout = this.timeoutSeconds(request.timeout);
    const session = await this.options.sessions.resolve(request.session_id);
    return this.run(session, request, timeout, controls);
  }

  /** Runs in `session` after the runs submitted before it. */
  run(session: Session, request: ExecuteRequest, timeoutSeconds: number, controls: RunControls = {}): Promise<ExecutionResult> {
    this.options.sessions.touch(session);
    return session.queue.run(async () => {
      if (session.closed) throw new AppError("SESSION_GONE", `Session ${session.id} was closed before this run started.`);
      try {
        return await this.runNow(session, request, timeoutSeconds, controls);
      } finally {
        this.options.sessions.touch(session);
      }
    });
  }

  private async runNow(session: Session, request: ExecuteRequest, timeoutSeconds: number, controls: RunControls): Promise<ExecutionResult> {
    const { engine, code } = route(request.command, request.language);
    const collector = new OutputCollector(this.options.outputLimitBytes, controls.listener);
    const notices: string[] = [];
    const runOptions = { timeoutMs: timeoutSeconds * 1000, interruptGraceMs: this.graceMs, collector, signal: controls.signal };

    const started = performance.now();
    let status: KernelRunStatus;
    let cpuTime: number | null;
    let exitCode: number | null = null;
    if (engine === "python") {
      const kernel = await this.options.sessions.kernelFor(session);
      if (session.pendingNotice) notices.push(session.pendingNotice);
      session.pendingNotice = undefined;
      ({ status, cpuTime } = await kernel.execute(code, runOptions));
      if (status === "unresponsive" || status === "died") this.options.sessions.discardKernel(session);
    } else {
      const shell = this.options.sessions.shellFor(session);
      const outcome = await shell.execute(code, runOptions);
      ({ status, cpuTime, exitCode } = outcome);
      if (outcome.freshShell) notices.push("The session's shell had ended; a new one was started and the shell's state was lost.");
    }
    const executionTime = (performance.now() - started) / 1000;
    session.executions += 1;

    const what = engine === "python" ? "Python kernel" : "shell";
    let resultStatus: ExecutionResult["status"] = collector.error ? "error" : "ok";
    let error = collector.error;
    if (status === "interrupted") {
      resultStatus = "timeout";
      collector.stderr(`\n${this.stopSentence(controls, timeoutSeconds)}; the session and its state are intact.\n`);
    } else if (status === "unresponsive") {
      resultStatus = "timeout";
      collector.stderr(`\n${this.stopSentence(controls, timeoutSeconds)}, but the ${what} did not stop, so it was replaced: the session's ${engine === "python" ? "Python variables were" : "shell state was"} lost.\n`);
    } else if (status === "died" && engine === "python") {
      resultStatus = "error";
      error = { ename: "KernelDied", evalue: "The Python kernel died during the run and was replaced; the session's Python state was lost.", traceback: [] };
      collector.stderr(`\n${error.evalue}\n`);
    } else if (status === "died") {
      resultStatus = "error";
      const how = exitCode === null ? "ended" : `exited with status ${exitCode}`;
      error = { ename: "ShellExited", evalue: `The shell ${how} during the run; the next run starts a new one (cd, exports and variables are reset).`, traceback: [] };
      collector.stderr(`\n${error.evalue}\n`);
    } else if (engine === "shell" && exitCode !== 0 && exitCode !== null) {
      resultStatus = "error";
      error = { ename: "ExitStatus", evalue: `The command exited with status ${exitCode}.`, traceback: [] };
    }
    const stderr = notices.length ? `${notices.join("\n")}\n${collector.stderrText}` : collector.stderrText;
    return {
      stdout: collector.stdoutText,
      stderr,
      execution_time: round(executionTime),
      cpu_time: cpuTime === null ? null : round(cpuTime),
      session_id: session.id,
      status: resultStatus,
      error,
      results: collector.results,
      truncated: collector.truncated,
      state_lost: status === "unresponsive" || status === "died" || notices.length > 0,
      exit_code: exitCode,
    };
  }

  private stopSentence(controls: RunControls, timeoutSeconds: number): string {
    return controls.signal?.aborted
      ? "Execution was cancelled because the client went away and was interrupted"
      : `Execution timed out after ${timeoutSeconds} s and was interrupted`;
  }
}
