import { AppError } from "../errors";
import type { ExecutionResult, Language } from "../contract/execute";
import { OutputCollector, type OutputListener } from "./output";
import type { KernelRunOutcome, KernelRunStatus } from "./python-kernel";
import type { Session, SessionStore } from "./session-store";

/**
 * Runs code in sessions: picks the Python kernel or the session's shell, applies the timeout and
 * the output cap, serialises runs of one session, and turns how a run ended into the contract's
 * result (`status`, `stderr` sentences, `error`).
 */

/** The contract's types, re-exported for the engine's callers. */
export type { ExecutionResult, Language };

export interface ExecuteRequest {
  command: string;
  language?: Language;
  /** Seconds. */
  timeout?: number;
  session_id?: string | null;
}

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
  /**
   * A waiting client's deadline, as `performance.now()`: the answer is sent by then. Clients such as
   * InstaVM's use the run's timeout as their read timeout, so a synchronous run counts its timeout
   * from the request's arrival, time queued behind earlier runs included: it is interrupted early
   * enough to answer in time, and answered at the deadline even if its kernel is still stopping.
   */
  answerBy?: number;
}

/** Sent this long before a client's deadline: the answer must be on the wire, not just built. */
export const ANSWER_MARGIN_MS = 50;

/**
 * How long before a client's deadline a run is interrupted: a tenth of its timeout, from 250 ms (a
 * warm kernel answers an interrupt in tens of milliseconds, a busy one in a few hundred) to 1 s.
 */
export function stopReserveMs(timeoutMs: number): number {
  return Math.min(1000, Math.max(250, timeoutMs / 10));
}

/**
 * How long an interrupted run gets to stop before its kernel or shell is given up and replaced (its
 * state lost). Generous, as a waiting client has its answer by its deadline anyway: on a loaded
 * machine a kernel's KeyboardInterrupt took over a second to render.
 */
export const INTERRUPT_GRACE_MS = 3000;

type Engine = "python" | "shell";

/** A waiting client's deadline, shared by a run's queue entry and the run. */
interface Deadline {
  /** The client has its answer. */
  sent: boolean;
  /** While the run is under way: its answer so far. */
  whileRunning: (() => ExecutionResult) | undefined;
}

/** One run as its answer is built from it. */
interface Run {
  session: Session;
  engine: Engine;
  collector: OutputCollector;
  /** Sentences about state lost before this run, put before its stderr. */
  notices: string[];
  timeoutSeconds: number;
  controls: RunControls;
  started: number;
}

const BASH_CELL = /^\s*%%bash[^\n]*(\n|$)/;

/** Which engine runs `command`: `%%bash` cells go to the session's shell like `language: "bash"`. */
export function route(command: string, language: Language = "python"): { engine: Engine; code: string } {
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
    this.graceMs = options.interruptGraceMs ?? INTERRUPT_GRACE_MS;
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

  /**
   * Resolves the session (default when none is named) and runs the request in its queue. With
   * `waiting`, a client waits for the answer with the run's timeout as its own deadline (see
   * `RunControls.answerBy`).
   */
  async execute(request: ExecuteRequest, controls: RunControls = {}, waiting = false): Promise<ExecutionResult> {
    const arrived = performance.now();
    const timeout = this.timeoutSeconds(request.timeout);
    const session = await this.options.sessions.resolve(request.session_id);
    const answerBy = waiting ? arrived + timeout * 1000 - ANSWER_MARGIN_MS : controls.answerBy;
    return this.run(session, request, timeout, { ...controls, answerBy });
  }

  /**
   * Runs in `session` after the runs submitted before it. The answer may come before the run's end
   * (`RunControls.answerBy`); the session's next run still waits for it.
   */
  run(session: Session, request: ExecuteRequest, timeoutSeconds: number, controls: RunControls = {}): Promise<ExecutionResult> {
    this.options.sessions.touch(session);
    const answer = Promise.withResolvers<ExecutionResult>();
    const deadline: Deadline = { sent: false, whileRunning: undefined };
    const reply = (result: ExecutionResult) => {
      deadline.sent = true;
      answer.resolve(result);
    };
    // Queued or running at the client's deadline: answered then, with what there is.
    const timer =
      controls.answerBy === undefined
        ? undefined
        : setTimeout(() => {
            if (deadline.sent) return;
            reply(deadline.whileRunning?.() ?? this.unstarted(session, request, timeoutSeconds));
          }, controls.answerBy - performance.now());
    session.queue
      .run(async () => {
        if (deadline.sent) return; // Its client was answered while it waited: it is not run.
        if (session.closed) throw new AppError("SESSION_GONE", `Session ${session.id} was closed before this run started.`);
        try {
          const result = await this.runNow(session, request, timeoutSeconds, controls, deadline);
          if (!deadline.sent) reply(result);
        } finally {
          this.options.sessions.touch(session);
        }
      })
      .catch(answer.reject)
      .finally(() => clearTimeout(timer));
    return answer.promise;
  }

  /** The answer of a run whose client's deadline came before its turn. */
  private unstarted(session: Session, request: ExecuteRequest, timeoutSeconds: number): ExecutionResult {
    const collector = new OutputCollector(this.options.outputLimitBytes);
    const run: Run = { session, engine: route(request.command, request.language).engine, collector, notices: [], timeoutSeconds, controls: {}, started: performance.now() };
    return this.resultOf(run, { status: "unstarted", cpuTime: 0 });
  }

  /**
   * Runs now, in the session's turn. With `controls.answerBy`, the run is stopped early enough to
   * answer by then; if its kernel or shell is still stopping at that moment, `deadline.whileRunning`
   * gives the output so far while the run finishes stopping, and how it ended reaches the next run.
   */
  private async runNow(session: Session, request: ExecuteRequest, timeoutSeconds: number, controls: RunControls, deadline: Deadline): Promise<ExecutionResult> {
    const { engine, code } = route(request.command, request.language);
    const run: Run = {
      session,
      engine,
      collector: new OutputCollector(this.options.outputLimitBytes, controls.listener),
      notices: [],
      timeoutSeconds,
      controls,
      started: performance.now(),
    };
    const timeoutMs = timeoutSeconds * 1000;
    let budgetMs = timeoutMs;
    if (controls.answerBy !== undefined) {
      budgetMs = Math.min(timeoutMs, controls.answerBy - run.started - stopReserveMs(timeoutMs));
      if (budgetMs <= 0) return this.resultOf(run, { status: "unstarted", cpuTime: 0 });
      deadline.whileRunning = () => this.resultOf(run, { status: "stopping", cpuTime: null });
    }
    const runOptions = { timeoutMs: budgetMs, interruptGraceMs: this.graceMs, collector: run.collector, signal: controls.signal };

    let outcome: KernelRunOutcome & { exitCode?: number | null };
    try {
      if (engine === "python") {
        const kernel = await this.options.sessions.kernelFor(session);
        const notice = session.takeNotice("python");
        if (notice) run.notices.push(notice);
        outcome = await kernel.execute(code, runOptions);
        if (outcome.status === "unresponsive" || outcome.status === "died") this.options.sessions.discardKernel(session);
      } else {
        const shell = this.options.sessions.shellFor(session);
        const notice = session.takeNotice("shell");
        if (notice) run.notices.push(notice);
        const ran = await shell.execute(code, runOptions);
        outcome = ran;
        if (ran.freshShell) run.notices.push("The session's shell had ended; a new one was started and the shell's state was lost.");
      }
    } finally {
      deadline.whileRunning = undefined;
    }
    session.countRun();
    if (deadline.sent && (outcome.status === "unresponsive" || outcome.status === "died")) {
      // The client has its answer already; the session's next run of this engine says what happened.
      const notice = `The previous run did not stop after its timeout, so its ${this.what(engine)} was replaced: ${this.lost(engine)} lost.`;
      session.leaveNotice(engine, notice);
    }
    return this.resultOf(run, outcome);
  }

  private what(engine: Engine): string {
    return engine === "python" ? "Python kernel" : "shell";
  }

  private lost(engine: Engine): string {
    return engine === "python" ? "the session's Python variables were" : "the session's shell state was";
  }

  /** The contract's answer for `run`, which ended as `outcome` (or, answered early, is still stopping, or never started). */
  private resultOf(run: Run, outcome: { status: KernelRunStatus | "stopping" | "unstarted"; cpuTime: number | null; exitCode?: number | null }): ExecutionResult {
    const { session, engine, collector, notices, timeoutSeconds, controls } = run;
    const { status, cpuTime } = outcome;
    const exitCode = outcome.exitCode ?? null;
    const executionTime = (performance.now() - run.started) / 1000;
    const what = this.what(engine);
    let resultStatus: ExecutionResult["status"] = collector.error ? "error" : "ok";
    let error = collector.error;
    if (status === "unstarted") {
      resultStatus = "timeout";
      collector.notice(`Execution timed out after ${timeoutSeconds} s before it could start: it waited behind the session's earlier runs and was not run.\n`);
    } else if (status === "stopping") {
      resultStatus = "timeout";
      collector.notice(`\n${this.stopSentence(controls, timeoutSeconds)}; this answer could not wait for the ${what} to stop: if it does not, the next run says ${this.lost(engine)} lost.\n`);
    } else if (status === "interrupted") {
      resultStatus = "timeout";
      collector.notice(`\n${this.stopSentence(controls, timeoutSeconds)}; the session and its state are intact.\n`);
    } else if (status === "unresponsive") {
      resultStatus = "timeout";
      collector.notice(`\n${this.stopSentence(controls, timeoutSeconds)}, but the ${what} did not stop, so it was replaced: ${this.lost(engine)} lost.\n`);
    } else if (status === "died" && engine === "python") {
      resultStatus = "error";
      error = { ename: "KernelDied", evalue: "The Python kernel died during the run and was replaced; the session's Python state was lost.", traceback: [] };
      collector.notice(`\n${error.evalue}\n`);
    } else if (status === "died") {
      resultStatus = "error";
      const how = exitCode === null ? "ended" : `exited with status ${exitCode}`;
      error = { ename: "ShellExited", evalue: `The shell ${how} during the run; the next run starts a new one (cd, exports and variables are reset).`, traceback: [] };
      collector.notice(`\n${error.evalue}\n`);
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
