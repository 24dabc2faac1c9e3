import type { SessionSandbox } from "../sandboxes/manager";
import { deadlineSeconds, requestMessage, serverStream, unary } from "./connect";
import { E2BError, unsupported } from "./errors";
import { closeInnerSession, LONGEST_RUN_SECONDS, openInnerSession, runBash, type RunEvent, shellQuote, streamRun } from "./inner-api";
import { toSandboxPath } from "./paths";
import { type E2BRegistry, SANDBOX_HOME } from "./registry";

interface ProcessConfig {
  cmd: string;
  args?: string[];
  envs?: Record<string, string>;
  cwd?: string;
}

/** What envd streams about a process: `start`, `data`, `end` (`keepalive` is the stream's). */
type ProcessEvent = { start: { pid: number } } | { data: { stdout: string } | { stderr: string } } | { end: { exitCode: number; exited: boolean; status: string; error?: string } };

interface RunningProcess {
  pid: number;
  tag?: string;
  config: ProcessConfig;
  /** Stops the run (the sandbox ends every process it started). */
  abort: AbortController;
  listeners: Set<(event: ProcessEvent) => void>;
  killed: boolean;
  /** Its stdin FIFO inside the sandbox when started with `stdin: true` (see `commandLine`); undefined once closed. */
  stdin?: string;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** Where the stdin FIFO of process `pid` lives inside its sandbox (`.keeper` beside it holds its keeper's pid). */
export const stdinPath = (pid: number) => `/tmp/.coderunner-e2b-stdin-${pid}`;

/**
 * The bash line that runs `config` in a shell of its own, as envd starts it (`cmd args...`, its cwd
 * and envs). Without `stdin` its stdin is /dev/null. With it, stdin is a FIFO: the shell opens it
 * read-write (which does not block) under a temporary name, hands that descriptor to a `sleep`
 * (the keeper, so the command never sees end-of-file while it lives), and only then renames it into
 * place, so a writer that finds the FIFO always finds it held open and no byte written is lost.
 * Killing the keeper is `closeStdin`: the command reads end-of-file once the last writer is gone.
 * The sandbox's run API has no stdin of its own (its shell reads scripts from its stdin); a FIFO
 * needs nothing new inside the sandbox.
 */
export function commandLine(config: ProcessConfig, stdin?: string): string {
  const env = Object.entries(config.envs ?? {}).map(([key, value]) => shellQuote(`${key}=${value}`));
  const argv = [config.cmd, ...(config.args ?? [])].map(shellQuote).join(" ");
  const run = `cd ${shellQuote(config.cwd ? toSandboxPath(config.cwd) : SANDBOX_HOME)} && ${env.length ? `env ${env.join(" ")} ` : ""}${argv}`;
  if (stdin === undefined) return `${run} </dev/null`;
  const fifo = shellQuote(stdin);
  return [
    `mkfifo -m 600 ${fifo}.new && exec 3<>${fifo}.new && { sleep infinity </dev/null >/dev/null 2>&1 & echo $! >${fifo}.keeper; exec 3>&-; mv ${fifo}.new ${fifo} && ${run} <${fifo}; }`,
    `__e2b_status=$?; kill "$(cat ${fifo}.keeper 2>/dev/null)" 2>/dev/null; rm -f ${fifo} ${fifo}.new ${fifo}.keeper; (exit $__e2b_status)`,
  ].join("; ");
}

/** How long a stdin write may wait for the command to make room in its pipe. */
const STDIN_WRITE_SECONDS = 30;

/** Waits (up to 10 s) for the FIFO a command's shell makes, then runs `then`; prints `gone` when it never came. */
const onceFifo = (fifo: string, then: string) =>
  `for __i in $(seq 200); do [ -p ${fifo} ] && break; sleep 0.05; done; if [ -p ${fifo} ]; then ${then}; else echo gone; fi`;

/**
 * envd's `process.Process` service. Each command runs as one streamed run in a bash session of its
 * own inside the sandbox (so commands run side by side and none sees another's shell state); the
 * pid is the host's number for it. Killing it stops the run, which ends every process it started;
 * a client that disconnects leaves it running, as envd does.
 */
export class ProcessService {
  private nextPid = 1000;
  private readonly processes = new Map<string, Map<number, RunningProcess>>();

  constructor(private readonly registry: E2BRegistry) {}

  async handle(id: string, method: string, request: Request): Promise<Response> {
    switch (method) {
      case "Start":
        return this.start(id, request);
      case "Connect":
        return this.connect(id, request);
      case "List":
        return unary({ processes: [...this.of(id).values()].map((process) => ({ pid: process.pid, tag: process.tag, config: process.config })) });
      case "SendSignal": {
        const message = await requestMessage<{ process?: { pid?: number; tag?: string } }>(request);
        const process = this.find(id, message.process);
        process.killed = true;
        process.abort.abort();
        return unary();
      }
      case "SendInput": {
        const message = await requestMessage<{ process?: { pid?: number; tag?: string }; input?: { stdin?: string; pty?: string } }>(request);
        const process = this.find(id, message.process);
        if (message.input?.pty !== undefined) throw unsupported("PTY (sandbox.pty)");
        await this.writeStdin(id, process, Buffer.from(message.input?.stdin ?? "", "base64"));
        return unary();
      }
      case "StreamInput":
        throw unsupported("Streaming stdin (process.Process/StreamInput)");
      case "CloseStdin": {
        const message = await requestMessage<{ process?: { pid?: number; tag?: string } }>(request);
        const process = this.find(id, message.process);
        const fifo = this.openStdin(process);
        process.stdin = undefined;
        await this.inSandbox(id, process, onceFifo(shellQuote(fifo), `kill "$(cat ${shellQuote(`${fifo}.keeper`)})" 2>/dev/null; echo ok`));
        return unary();
      }
      case "Update":
        throw unsupported("PTY (sandbox.pty)");
    }
    throw new E2BError(501, `process.Process/${method} is not an envd method CodeRunner knows.`);
  }

  private of(id: string): Map<number, RunningProcess> {
    this.registry.get(id);
    let table = this.processes.get(id);
    if (!table) this.processes.set(id, (table = new Map()));
    return table;
  }

  private find(id: string, selector: { pid?: number; tag?: string } | undefined): RunningProcess {
    const table = this.of(id);
    const found = selector?.tag !== undefined ? [...table.values()].find((process) => process.tag === selector.tag) : table.get(Number(selector?.pid));
    if (!found) throw new E2BError(404, `Process ${selector?.tag ?? selector?.pid} not found.`);
    return found;
  }

  /** The FIFO of a process whose stdin is open, else envd's failed_precondition. */
  private openStdin(process: RunningProcess): string {
    if (process.stdin === undefined) throw new E2BError(412, `Process ${process.pid}: stdin is not open (start the command with stdin: true; closeStdin closes it for good).`);
    return process.stdin;
  }

  /** Writes `bytes` to the process's stdin FIFO (through a here-document: no argv limit on its size). */
  private async writeStdin(id: string, process: RunningProcess, bytes: Buffer): Promise<void> {
    const fifo = shellQuote(this.openStdin(process));
    if (bytes.length === 0) return;
    // Opened read-write, so the open never blocks; `timeout` bounds a write into a full pipe nobody reads.
    const data = bytes.toString("base64").replace(/.{1,76}/g, "$&\n");
    // The here-document's lines follow the whole line that opens it.
    const write = `if timeout ${STDIN_WRITE_SECONDS} base64 -d 1<>${fifo} <<'__E2B_STDIN__'; then echo ok; else echo "failed $?"; fi`;
    await this.inSandbox(id, process, `${onceFifo(fifo, write)}\n${data}__E2B_STDIN__\n`);
  }

  /** Runs a stdin helper line in the sandbox's files session; a process gone meanwhile is not_found, as in envd. */
  private async inSandbox(id: string, process: RunningProcess, line: string): Promise<void> {
    const { session } = this.registry.get(id);
    const result = await runBash(session, await this.registry.filesSession(id), line, 45);
    if (result.stdout.trim().endsWith("ok")) return;
    if (!this.of(id).has(process.pid) || result.stdout.includes("gone")) throw new E2BError(404, `Process ${process.pid} not found (it has ended).`);
    if (result.stdout.includes("failed 124")) throw new E2BError(504, `Process ${process.pid} did not read its stdin for ${STDIN_WRITE_SECONDS} s (its pipe is full); not all of the data was written.`);
    throw new E2BError(500, `Writing to process ${process.pid}'s stdin failed in the sandbox: ${result.stderr.trim() || result.status}`);
  }

  private async start(id: string, request: Request): Promise<Response> {
    const { session } = this.registry.get(id);
    const message = await requestMessage<{ process?: ProcessConfig; pty?: unknown; tag?: string; stdin?: boolean }>(request);
    if (message.pty) throw unsupported("PTY (sandbox.pty)");
    const config = message.process;
    if (!config || typeof config.cmd !== "string" || config.cmd === "") throw new E2BError(400, "process.cmd is required.");
    const inner = await openInnerSession(session, "bash");
    const pid = this.nextPid++;
    const process: RunningProcess = { pid, tag: message.tag, config, abort: new AbortController(), listeners: new Set(), killed: false, stdin: message.stdin ? stdinPath(pid) : undefined };
    const table = this.of(id);
    table.set(process.pid, process);
    const timeout = Math.min(deadlineSeconds(request) ?? LONGEST_RUN_SECONDS, LONGEST_RUN_SECONDS);
    const run = streamRun(session, { command: commandLine(config, process.stdin), language: "bash", session_id: inner, timeout }, process.abort.signal);
    const emit = (event: ProcessEvent) => process.listeners.forEach((listener) => listener(event));
    const finished = this.pump(run, process, emit).finally(() => {
      table.delete(process.pid);
      process.stdin = undefined;
      // A killed command's shell never reached its own cleanup.
      if (message.stdin) void this.registry.filesSession(id).then((files) => runBash(session, files, `rm -f ${shellQuote(stdinPath(pid))}{,.new,.keeper}`)).catch(() => undefined);
      void closeInnerSession(session, inner);
    });
    return this.subscribe(request, process, finished, { start: { pid: process.pid } });
  }

  private async connect(id: string, request: Request): Promise<Response> {
    const message = await requestMessage<{ process?: { pid?: number; tag?: string } }>(request);
    const process = this.find(id, message.process);
    return this.subscribe(request, process, undefined, { start: { pid: process.pid } });
  }

  /** A Start/Connect answer: the start event, then the process's events until it ends (or the client leaves). */
  private subscribe(request: Request, process: RunningProcess, finished: Promise<void> | undefined, first: ProcessEvent): Response {
    return serverStream(
      request,
      ({ send, signal }) =>
        new Promise<void>((resolve) => {
          send({ event: first });
          const listener = (event: ProcessEvent) => {
            send({ event });
            if ("end" in event) done();
          };
          const done = () => {
            process.listeners.delete(listener);
            resolve();
          };
          process.listeners.add(listener);
          signal.addEventListener("abort", done, { once: true });
          void finished?.then(done);
        }),
      { message: { event: { keepalive: {} } }, everyMs: 30_000 },
    );
  }

  /** Reads the run's events into the process's listeners, ending with `end`. */
  private async pump(run: AsyncGenerator<RunEvent>, process: RunningProcess, emit: (event: ProcessEvent) => void): Promise<void> {
    let end: ProcessEvent | undefined;
    try {
      for await (const event of run) {
        if (event.type === "stdout") emit({ data: { stdout: b64(event.text) } });
        else if (event.type === "stderr") emit({ data: { stderr: b64(event.text) } });
        else if (event.type === "failed") emit({ data: { stderr: b64(`${event.detail ?? "The command could not run."}\n`) } });
        else if (event.type === "done") {
          const code = typeof event.exit_code === "number" ? event.exit_code : event.status === "ok" ? 0 : -1;
          const status = event.status === "timeout" ? "deadline exceeded" : `exit status ${code}`;
          end = { end: { exitCode: code, exited: event.status !== "timeout", status, ...(code === 0 ? {} : { error: status }) } };
        }
      }
    } catch (error) {
      if (!process.killed) emit({ data: { stderr: b64(`${(error as Error).message}\n`) } });
    }
    if (process.killed || !end) end = { end: { exitCode: -1, exited: false, status: "signal: killed", error: "signal: killed" } };
    emit(end);
  }
}

export type { SessionSandbox };
