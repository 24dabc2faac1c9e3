import type { SessionSandbox } from "../sandboxes/manager";
import { deadlineSeconds, requestMessage, serverStream, unary } from "./connect";
import { E2BError, unsupported } from "./errors";
import { closeInnerSession, LONGEST_RUN_SECONDS, openInnerSession, type RunEvent, shellQuote, streamRun } from "./inner-api";
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
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** The bash line that runs `config` in a shell of its own, as envd starts it (`cmd args...`, its cwd and envs, no stdin). */
export function commandLine(config: ProcessConfig): string {
  const env = Object.entries(config.envs ?? {}).map(([key, value]) => shellQuote(`${key}=${value}`));
  const argv = [config.cmd, ...(config.args ?? [])].map(shellQuote).join(" ");
  return `cd ${shellQuote((config.cwd ? toSandboxPath(config.cwd) : SANDBOX_HOME))} && ${env.length ? `env ${env.join(" ")} ` : ""}${argv} </dev/null`;
}

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
      case "SendInput":
      case "StreamInput":
        throw unsupported("Writing to a command's stdin (sendStdin)");
      case "CloseStdin":
        throw unsupported("closeStdin");
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

  private async start(id: string, request: Request): Promise<Response> {
    const { session } = this.registry.get(id);
    const message = await requestMessage<{ process?: ProcessConfig; pty?: unknown; tag?: string; stdin?: boolean }>(request);
    if (message.pty) throw unsupported("PTY (sandbox.pty)");
    const config = message.process;
    if (!config || typeof config.cmd !== "string" || config.cmd === "") throw new E2BError(400, "process.cmd is required.");
    const inner = await openInnerSession(session, "bash");
    const process: RunningProcess = { pid: this.nextPid++, tag: message.tag, config, abort: new AbortController(), listeners: new Set(), killed: false };
    const table = this.of(id);
    table.set(process.pid, process);
    const timeout = Math.min(deadlineSeconds(request) ?? LONGEST_RUN_SECONDS, LONGEST_RUN_SECONDS);
    const run = streamRun(session, { command: commandLine(config), language: "bash", session_id: inner, timeout }, process.abort.signal);
    const emit = (event: ProcessEvent) => process.listeners.forEach((listener) => listener(event));
    const finished = this.pump(run, process, emit).finally(() => {
      table.delete(process.pid);
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
