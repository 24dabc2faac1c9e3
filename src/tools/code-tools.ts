import { Type } from "@sinclair/typebox";
import { renderRun, reply } from "./render";
import { defineTool } from "./tool";

/** The tools that run code, and the execution sessions they run in. */

const timeout = Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "Seconds before the run is interrupted (default 30)." }));

export const executePython = defineTool({
  name: "execute_python_code",
  aliases: ["execute_python"],
  title: "Run Python",
  description:
    "Execute Python code in a persistent Jupyter kernel: variables, imports and files survive between calls. Use for calculations, data analysis, file work, plotting and web requests. Print what you want to see.",
  params: Type.Object({
    code: Type.String({ description: "Python code to execute. May include imports, functions and classes." }),
    language: Type.Optional(Type.Union([Type.Literal("python"), Type.Literal("bash"), Type.Literal("shell")], { description: "python (default), or bash/shell for terminal commands." })),
    timeout,
  }),
  session: "execution",
  surfaces: ["mcp", "frameworks"],
  annotations: { openWorldHint: true },
  async run(backend, args) {
    const language = args.language === "bash" || args.language === "shell" ? "bash" : "python";
    return renderRun(await backend.execute(args.code, { language, timeout: args.timeout, sessionId: args.session_id }));
  },
});

export const executeBash = defineTool({
  name: "execute_bash_command",
  aliases: ["execute_bash"],
  title: "Run bash",
  description: "Execute a bash command in a persistent shell: cd and export carry over to the next call. Use for system operations, file management and installing packages.",
  params: Type.Object({
    command: Type.String({ description: "The bash command, e.g. 'ls -la' or 'pip install requests'." }),
    timeout,
  }),
  session: "execution",
  surfaces: ["mcp", "frameworks"],
  annotations: { openWorldHint: true },
  async run(backend, args) {
    return renderRun(await backend.execute(args.command, { language: "bash", timeout: args.timeout, sessionId: args.session_id }));
  },
});

export const createSession = defineTool({
  name: "create_session",
  title: "Create a session",
  description: "Start a fresh execution session (its own Python kernel, shell and working directory). Pass its id as session_id to other tools.",
  params: Type.Object({ env: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Environment variables for the session." })) }),
  surfaces: ["mcp"],
  async run(backend, args) {
    return reply({ session_id: await backend.createSession(args.env) });
  },
});

export const closeSession = defineTool({
  name: "close_session",
  title: "Close a session",
  description: "Close an execution session and release its kernel and shell.",
  params: Type.Object({ session_id: Type.String({ description: "The session to close." }) }),
  surfaces: ["mcp"],
  annotations: { destructiveHint: true },
  async run(backend, args) {
    await backend.closeSession(args.session_id);
    return reply({});
  },
});
