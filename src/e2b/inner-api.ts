import type { CreateSessionBody, InstaVMSessionCreated } from "../contract/sessions";
import type { SessionSandbox } from "../sandboxes/manager";
import { E2BError } from "./errors";

/** One event of a sandbox's `POST /execute/stream` (see `src/tasks/sse-stream.ts`). */
export interface RunEvent {
  type: string;
  [field: string]: any;
}

/** What `POST /execute` answers inside a sandbox (the fields read here). */
export interface InnerResult {
  stdout: string;
  stderr: string;
  status: "ok" | "error" | "timeout";
  exit_code: number | null;
  error: { ename: string; evalue: string; traceback: string[] } | null;
}

/** The most a run may take inside a sandbox (CodeRunner's default `CODERUNNER_MAX_TIMEOUT`). */
export const LONGEST_RUN_SECONDS = 24 * 3600;

/**
 * Runs `command` in session `sessionId` of the sandbox and yields its events as they come, the last
 * one `done` (or `failed`). Aborting `signal` disconnects, which makes the sandbox stop the run and
 * end every process it started.
 */
export async function* streamRun(
  sandbox: SessionSandbox,
  body: { command: string; language: string; session_id: string; timeout: number },
  signal: AbortSignal,
): AsyncGenerator<RunEvent> {
  const { baseURL, apiKey } = sandbox.sandbox.address!;
  const response = await fetch(`${baseURL}/execute/stream`, {
    method: "POST",
    headers: { "x-api-key": apiKey, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal,
    timeout: false,
  } as RequestInit);
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => "");
    let detail = text;
    try {
      detail = JSON.parse(text).detail ?? text;
    } catch {
      // Not JSON: the text itself.
    }
    throw new E2BError(response.status === 410 ? 404 : response.status, String(detail || `The sandbox answered ${response.status}.`));
  }
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf("\n\n")) !== -1) {
      const message = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const lines = message.split("\n");
      const data = lines.find((line) => line.startsWith("data:"));
      const name = lines.find((line) => line.startsWith("event:"))?.slice(6).trim();
      // The `event:` line names it: `done` carries the /execute result, which has no `type` of its own.
      if (data) yield { ...(JSON.parse(data.slice(5).trim()) as object), type: name ?? "message" } as RunEvent;
    }
  }
}

/** Runs a bash line in session `sessionId` of the sandbox and waits for its result. */
export function runBash(sandbox: SessionSandbox, sessionId: string, command: string, timeoutSeconds = 60): Promise<InnerResult> {
  return sandbox.api.json<InnerResult>("POST", "/execute", { command, language: "bash", session_id: sessionId, timeout: timeoutSeconds }, timeoutSeconds * 1000 + 5000);
}

/**
 * A new session inside the sandbox (bash only: its kernel starts on first Python run), its kernel and
 * shell starting in `workingDirectory` (a sandbox path) when one is given: the sandbox refuses one
 * that is not an existing directory (`VALIDATION_ERROR`, 422), and moves there with the first run,
 * at no cost of its own.
 */
export async function openInnerSession(sandbox: SessionSandbox, language: "python" | "bash", workingDirectory?: string): Promise<string> {
  const body = { language, working_directory: workingDirectory } satisfies CreateSessionBody;
  const created = await sandbox.api.json<InstaVMSessionCreated>("POST", "/v1/sessions/session", body, 120_000);
  return created.session_id;
}

export async function closeInnerSession(sandbox: SessionSandbox, sessionId: string): Promise<void> {
  await sandbox.api.json("DELETE", `/sessions/${encodeURIComponent(sessionId)}`).catch(() => undefined);
}

/** `value` quoted for bash. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
