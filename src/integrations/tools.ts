import { z } from "zod";
import type { BrowserSession } from "../client/browser";
import type { SandboxClient } from "../client/client";
import type { ExecutionResult } from "../client/types";

/**
 * The tools CodeRunner offers to a model — what each is called, what it takes (one zod schema, from
 * which the OpenAI JSON schema, the LangChain tool and the Vercel AI SDK tool are all derived) and what it
 * does with either client (`CodeRunner` or `InstaVM`). The framework adapters only translate calls.
 */

/** Either client: local `CodeRunner` or cloud `InstaVM`. */
export type Runner = SandboxClient;

/** Per-conversation state: the browser session tools act on (default: the client's default session). */
export interface ToolContext {
  browserSession?: BrowserSession;
}

/** A tool's answer: plain JSON for the model, `success` false with `error` when it could not be done. */
export type ToolOutput = { success: boolean; error?: string; [key: string]: unknown };

export interface ToolSpec<Schema extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  schema: Schema;
  run(runner: Runner, args: z.infer<Schema>, context: ToolContext): Promise<ToolOutput>;
}

const define = <Schema extends z.ZodObject>(spec: ToolSpec<Schema>) => spec;

/** Milliseconds a click or fill waits for its element: short, so a wrong selector comes back to the model quickly. */
export const ELEMENT_WAIT_MS = 5_000;

/** Longest text a tool hands back to the model; the rest is cut with a note. */
export const MAX_TOOL_TEXT = 20_000;

function clip(text: string, limit = MAX_TOOL_TEXT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n[... ${text.length - limit} more characters cut]`;
}

/** A run's result as the model should see it: output, how it ended, and what rich outputs it made. */
export function runOutput(result: ExecutionResult): ToolOutput {
  const output: ToolOutput = {
    success: true,
    status: result.status,
    stdout: clip(result.stdout),
    stderr: clip(result.stderr),
    execution_time: result.execution_time,
    output: clip(result.stdout),
  };
  if (result.error) output.exception = `${result.error.ename}: ${result.error.evalue}`;
  const kinds = [...new Set(result.results.flatMap((rich) => Object.keys(rich)))];
  if (kinds.length) output.rich_outputs = kinds;
  return output;
}

const timeout = z.number().positive().optional().describe("Seconds before the run is interrupted (default 30).");

function browserOf(runner: Runner, context: ToolContext) {
  return context.browserSession ?? runner.browser;
}

export const executePython = define({
  name: "execute_python_code",
  description:
    "Execute Python code in a persistent Jupyter kernel (variables, imports and files survive between calls). Use for calculations, data analysis, file work, plotting and web requests. Print what you want to see.",
  schema: z.object({
    code: z.string().describe("Python code to execute. May include imports, functions and classes."),
    language: z.enum(["python", "bash", "shell"]).optional().describe("python (default), or bash/shell for terminal commands."),
    timeout,
  }),
  async run(runner, args) {
    return runOutput(await runner.execute(args.code, { language: args.language ?? "python", timeout: args.timeout }));
  },
});

export const executeBash = define({
  name: "execute_bash_command",
  description:
    "Execute a bash command in a persistent shell (cd and export carry over to the next call). Use for system operations, file management and installing packages.",
  schema: z.object({
    command: z.string().describe("The bash command, e.g. 'ls -la' or 'pip install requests'."),
    timeout,
  }),
  async run(runner, args) {
    return runOutput(await runner.execute(args.command, { language: "bash", timeout: args.timeout }));
  },
});

export const createBrowserSession = define({
  name: "create_browser_session",
  description: "Open a new browser session (a fresh page with its own cookies) for web automation.",
  schema: z.object({
    width: z.number().int().positive().optional().describe("Viewport width in pixels (default 1920)."),
    height: z.number().int().positive().optional().describe("Viewport height in pixels (default 1080)."),
  }),
  async run(runner, args, context) {
    const session = await runner.browser.createSession({ viewportWidth: args.width, viewportHeight: args.height });
    context.browserSession = session;
    return { success: true, session_id: session.sessionId, message: `Created browser session ${session.sessionId}` };
  },
});

export const navigateToURL = define({
  name: "navigate_to_url",
  description: "Open a URL in the browser and wait for it to load. Returns the final URL and the page title.",
  schema: z.object({ url: z.string().describe("Absolute URL, including http:// or https://.") }),
  async run(runner, args, context) {
    const result = await browserOf(runner, context).navigate(args.url);
    return { success: true, url: result.url, title: result.title, message: `Navigated to ${result.url}` };
  },
});

export const extractPageContent = define({
  name: "extract_page_content",
  description:
    "Read the current page: its readable text, and its links and buttons with CSS selectors usable in click_element. With a selector, returns the text of the matching elements instead.",
  schema: z.object({ selector: z.string().optional().describe("CSS selector to read; omit for the whole page.") }),
  async run(runner, args, context) {
    const browser = browserOf(runner, context);
    if (args.selector) {
      const elements = await browser.extractElements(args.selector, ["href"]);
      const content = elements.map((element) => element.text).join("\n");
      if (!elements.length) return { success: false, error: `No element matches ${args.selector}` };
      return { success: true, content: clip(content), length: content.length, elements: elements.slice(0, 50) };
    }
    const page = await browser.extractContent();
    return {
      success: true,
      url: page.url,
      title: page.title,
      content: clip(page.readable_content.content),
      length: page.readable_content.content.length,
      interactive_elements: page.interactive_elements.slice(0, 40).map(({ text, selector, interactive_type }) => ({ text, selector, type: interactive_type })),
    };
  },
});

export const clickElement = define({
  name: "click_element",
  description: "Click the element matching a CSS selector (e.g. one returned by extract_page_content).",
  schema: z.object({ selector: z.string().describe("CSS selector of the element to click.") }),
  async run(runner, args, context) {
    await browserOf(runner, context).click(args.selector, { timeout: ELEMENT_WAIT_MS });
    return { success: true, message: `Clicked ${args.selector}` };
  },
});

export const fillInput = define({
  name: "fill_input",
  description: "Set the value of an input or textarea matching a CSS selector.",
  schema: z.object({ selector: z.string().describe("CSS selector of the input."), value: z.string().describe("The text to put in it.") }),
  async run(runner, args, context) {
    await browserOf(runner, context).fill(args.selector, args.value, { timeout: ELEMENT_WAIT_MS });
    return { success: true, message: `Filled ${args.selector}` };
  },
});

export const takeScreenshot = define({
  name: "take_screenshot",
  description: "Take a PNG screenshot of the page. Returns it base64-encoded.",
  schema: z.object({ full_page: z.boolean().optional().describe("Capture the whole page, not just the viewport (default true).") }),
  async run(runner, args, context) {
    const screenshot = await browserOf(runner, context).screenshot({ fullPage: args.full_page ?? true });
    return { success: true, screenshot_length: screenshot.length, screenshot, media_type: "image/png" };
  },
});

/** Code tools. */
export const CODE_TOOLS: ToolSpec[] = [executePython, executeBash] as ToolSpec[];
/** Browser tools. */
export const BROWSER_TOOLS: ToolSpec[] = [createBrowserSession, navigateToURL, extractPageContent, clickElement, fillInput, takeScreenshot] as ToolSpec[];

export interface ToolSelection {
  /** Include the browser tools (default true). */
  browser?: boolean;
}

export function selectTools(options: ToolSelection = {}): ToolSpec[] {
  return options.browser === false ? CODE_TOOLS : [...CODE_TOOLS, ...BROWSER_TOOLS];
}

/** Validates `args` against the tool's schema and runs it; every failure becomes `{success: false, error}`. */
export async function runTool(spec: ToolSpec, runner: Runner, args: unknown, context: ToolContext): Promise<ToolOutput> {
  const parsed = spec.schema.safeParse(args ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "arguments"}: ${issue.message}`).join("; ");
    return { success: false, error: `Invalid arguments for ${spec.name}: ${problems}` };
  }
  try {
    return await spec.run(runner, parsed.data, context);
  } catch (error) {
    return { success: false, error: `${spec.name} failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}
