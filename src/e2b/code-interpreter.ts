import { randomUUID } from "node:crypto";
import { AppError } from "../errors";
import type { SessionSandbox } from "../sandboxes/manager";
import { E2BError } from "./errors";
import { closeInnerSession, LONGEST_RUN_SECONDS, openInnerSession, streamRun } from "./inner-api";
import { toE2BPath, toSandboxPath } from "./paths";
import type { CodeContext, E2BRegistry, E2BSandbox } from "./registry";

/** The Jupyter MIME types E2B's `Result` has a field for. */
const FIELD_OF_MIME: Record<string, string> = {
  "text/plain": "text",
  "text/html": "html",
  "text/markdown": "markdown",
  "image/svg+xml": "svg",
  "image/png": "png",
  "image/jpeg": "jpeg",
  "application/pdf": "pdf",
  "text/latex": "latex",
  "application/json": "json",
  "application/javascript": "javascript",
};

/** Statements that never leave a value (IPython shows an `execute_result` only for a final expression). */
const STATEMENT = /^(import|from|def|class|if|elif|else|for|while|with|try|except|finally|return|raise|assert|del|pass|break|continue|global|nonlocal|async|print\(|display\(|@|%|!)/;
const ASSIGNMENT = /^[\w\s.,[\]()'"*]+?(\*\*|\/\/|>>|<<|[-+*/%&|^@:])?=(?!=)/;

/**
 * Whether a Python cell ends with an expression IPython would display (its main result). CodeRunner's
 * results do not say whether they were an `execute_result` or a `display_data`, so the cell's last
 * statement decides: the last result is the main one when the cell ends with an expression that is
 * not a call to show or display something.
 */
export function endsWithExpression(code: string): boolean {
  const lines = code.split("\n").filter((line) => line.trim() !== "" && !line.trim().startsWith("#"));
  const last = lines.at(-1);
  if (last === undefined || /^\s/.test(last)) return false;
  const statement = last.split(";").map((part) => part.trim()).filter(Boolean).at(-1);
  if (!statement || last.trimEnd().endsWith(";")) return false;
  return !STATEMENT.test(statement) && !ASSIGNMENT.test(statement) && !/\.show\(\)$/.test(statement);
}

/** A CodeRunner rich result as E2B's result line. */
function resultLine(data: Record<string, unknown>, main: boolean): Record<string, unknown> {
  const line: Record<string, unknown> = { type: "result", is_main_result: main };
  for (const [mime, value] of Object.entries(data)) line[FIELD_OF_MIME[mime] ?? mime] = value;
  return line;
}

const LANGUAGES = new Set(["python", "bash"]);

function languageOf(raw: unknown): "python" | "bash" {
  const language = typeof raw === "string" && raw !== "" ? raw.toLowerCase() : "python";
  if (!LANGUAGES.has(language)) {
    // A 404, as E2B answers for a language it has no kernel for: the client shows a 404's body, only the status of a 400.
    throw new E2BError(404, `Language "${language}" is not available in CodeRunner's E2B code interpreter: it runs python and bash.`);
  }
  return language as "python" | "bash";
}

/** Ids of the default contexts (the sandbox's main session runs both languages). */
const DEFAULT_CONTEXT = { python: "default-python", bash: "default-bash" } as const;

function defaultContext(e2b: E2BSandbox, session: SessionSandbox, language: "python" | "bash"): CodeContext {
  const id = DEFAULT_CONTEXT[language];
  let context = e2b.contexts.get(id);
  if (!context) e2b.contexts.set(id, (context = { id, language, cwd: "/home/user", inner: session.id, executionCount: 0 }));
  return context;
}

const contextView = (context: CodeContext) => ({ id: context.id, language: context.language, cwd: context.cwd });

/**
 * The code interpreter E2B serves on port 49999: `POST /execute` streams NDJSON lines (stdout,
 * stderr, result, error, number_of_executions, end_of_execution) translated from the sandbox's own
 * streamed run; `/contexts` are sessions of their own inside the same sandbox, each with its own
 * kernel and shell.
 */
export class CodeInterpreter {
  constructor(private readonly registry: E2BRegistry) {}

  async execute(id: string, request: Request): Promise<Response> {
    const { e2b, session } = this.registry.get(id);
    const body = (await request.json().catch(() => undefined)) as { code?: unknown; context_id?: unknown; language?: unknown; env_vars?: unknown } | undefined;
    if (!body || typeof body.code !== "string") throw new E2BError(400, "The body must be JSON with a string field code.");
    if (body.env_vars && typeof body.env_vars === "object" && Object.keys(body.env_vars).length > 0) {
      throw new E2BError(400, "envs per runCode call are not supported by CodeRunner's E2B code interpreter yet: set them on Sandbox.create({ envs }).");
    }
    let context: CodeContext;
    if (typeof body.context_id === "string" && body.context_id !== "") {
      const found = e2b.contexts.get(body.context_id);
      if (!found) throw new E2BError(404, `Context ${body.context_id} not found.`);
      context = found;
    } else context = defaultContext(e2b, session, languageOf(body.language));
    const code = body.code;
    const abort = new AbortController();
    request.signal.addEventListener("abort", () => abort.abort(), { once: true });
    const events = streamRun(session, { command: code, language: context.language, session_id: context.inner, timeout: LONGEST_RUN_SECONDS }, abort.signal);
    const first = await events.next();
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        const write = (line: Record<string, unknown>) => {
          try {
            controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
          } catch {
            abort.abort();
          }
        };
        const keepalive = setInterval(() => write({ type: "keepalive" }), 5000);
        const results: Record<string, unknown>[] = [];
        const timestamp = () => new Date().toISOString();
        try {
          for (let next = first; !next.done; next = await events.next()) {
            const event = next.value;
            if (event.type === "stdout" || event.type === "stderr") write({ type: event.type, text: event.text, timestamp: timestamp() });
            else if (event.type === "result") results.push(event.data);
            else if (event.type === "error") write({ type: "error", name: event.error.ename, value: event.error.evalue, traceback: event.error.traceback.join("\n") });
            else if (event.type === "failed") write({ type: "error", name: event.code ?? "Error", value: event.detail ?? "The run failed.", traceback: "" });
            else if (event.type === "done") {
              if (event.status === "timeout") write({ type: "error", name: "TimeoutError", value: "The run was stopped: it ran out of time.", traceback: "" });
              if (context.language === "bash" && event.status === "error" && !event.error) {
                write({ type: "error", name: "CommandExitError", value: `Exit code ${event.exit_code}`, traceback: "" });
              }
            }
          }
          const main = context.language === "python" && endsWithExpression(code);
          results.forEach((data, index) => write(resultLine(data, main && index === results.length - 1)));
          context.executionCount += 1;
          write({ type: "number_of_executions", execution_count: context.executionCount });
          write({ type: "end_of_execution" });
        } catch (error) {
          if (!abort.signal.aborted) write({ type: "unexpected_end_of_execution", message: (error as Error).message });
        } finally {
          clearInterval(keepalive);
          try {
            controller.close();
          } catch {
            // The client went away.
          }
        }
      },
      cancel() {
        abort.abort();
      },
    });
    return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
  }

  async createContext(id: string, request: Request): Promise<Response> {
    const { e2b, session } = this.registry.get(id);
    const body = ((await request.json().catch(() => ({}))) ?? {}) as { language?: unknown; cwd?: unknown };
    const language = languageOf(body.language);
    const cwd = typeof body.cwd === "string" && body.cwd !== "" ? body.cwd : "/home/user";
    const context: CodeContext = { id: randomUUID(), language, cwd: toE2BPath(toSandboxPath(cwd)), inner: "", executionCount: 0 };
    await this.open(session, context);
    e2b.contexts.set(context.id, context);
    return Response.json(contextView(context));
  }

  listContexts(id: string): Response {
    const { e2b, session } = this.registry.get(id);
    defaultContext(e2b, session, "python");
    return Response.json([...e2b.contexts.values()].map(contextView));
  }

  async removeContext(id: string, contextId: string): Promise<Response> {
    const { e2b, session } = this.registry.get(id);
    const context = this.context(e2b, contextId);
    if (context.inner === session.id) throw new E2BError(400, "The default context cannot be removed.");
    e2b.contexts.delete(contextId);
    await this.registry.closeContext(session, context);
    return Response.json({});
  }

  /** A new kernel (or shell) for the context: its state is gone, its id and working directory stay. */
  async restartContext(id: string, contextId: string): Promise<Response> {
    const { e2b, session } = this.registry.get(id);
    const context = this.context(e2b, contextId);
    if (context.inner === session.id) throw new E2BError(400, "Restarting the default context is not supported yet; create a context of your own to restart it.");
    await this.registry.closeContext(session, context);
    context.executionCount = 0;
    await this.open(session, context);
    return Response.json({});
  }

  private context(e2b: E2BSandbox, contextId: string): CodeContext {
    const context = e2b.contexts.get(contextId);
    if (!context) throw new E2BError(404, `Context ${contextId} not found.`);
    return context;
  }

  /**
   * Opens the context's session inside the sandbox, in its working directory. A `cwd` that is not a
   * directory there is a 404 naming it as the caller wrote it: the SDK shows a 404's body, but only
   * the status of other errors (E2B's own server answers a bare 500 "Failed to set working directory").
   */
  private async open(session: SessionSandbox, context: CodeContext): Promise<void> {
    try {
      context.inner = await openInnerSession(session, context.language, toSandboxPath(context.cwd));
    } catch (error) {
      if (error instanceof AppError && error.code === "VALIDATION_ERROR" && error.message.includes("working_directory")) {
        throw new E2BError(404, `The context's cwd ${JSON.stringify(context.cwd)} is not an existing directory in the sandbox.`, { cause: error });
      }
      throw error;
    }
  }
}
