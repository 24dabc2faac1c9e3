import type { ContentBlock, ExecutionResult, ToolAnswer } from "./tool";

/**
 * How tool answers are written for the model, and the limits that keep them short enough to read.
 */

/** Longest text one field or content block carries; the rest is cut with a note saying how much. */
export const MAX_TOOL_TEXT = 20_000;

/** Most elements (links, buttons, inputs, extracted matches) one answer lists. */
export const MAX_ELEMENTS = 50;

/** Milliseconds a click or fill waits for its element by default: short, so a wrong selector comes back to the model quickly. */
export const ELEMENT_WAIT_MS = 5_000;

export function clip(text: string, limit = MAX_TOOL_TEXT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}\n[... ${text.length - limit} more characters cut]`;
}

export const textBlock = (text: string): ContentBlock => ({ type: "text", text });

/** A successful answer whose content is `fields` as JSON. */
export function reply(fields: Record<string, unknown>): ToolAnswer {
  const json = { success: true, ...fields };
  return { json, content: [textBlock(clip(JSON.stringify(json, null, 2)))], isError: false };
}

/** The tool could not act: `message` says why. */
export function failure(message: string): ToolAnswer {
  return { json: { success: false, error: message }, content: [textBlock(message)], isError: true };
}

const base64 = (value: unknown) => (value as string).replace(/\s+/g, "");

/**
 * A run's answer: its output and how it ended. As JSON, stdout, stderr, the exception and the kinds of rich
 * output; as content, the output text (stderr marked), then images and text results the output did not
 * already show. A run that raised or timed out is a success of the tool and an error for MCP.
 */
export function renderRun(result: ExecutionResult): ToolAnswer {
  const json: ToolAnswer["json"] = {
    success: true,
    status: result.status,
    stdout: clip(result.stdout),
    stderr: clip(result.stderr),
    execution_time: result.execution_time,
    output: clip(result.stdout),
  };
  if (result.error) json.exception = `${result.error.ename}: ${result.error.evalue}`;
  const kinds = [...new Set(result.results.flatMap((rich) => Object.keys(rich)))];
  if (kinds.length) json.rich_outputs = kinds;

  const parts: string[] = [];
  if (result.stdout) parts.push(result.stdout);
  if (result.stderr) parts.push(`[stderr]\n${result.stderr}`);
  if (result.status === "timeout") parts.push("[the run timed out and was interrupted]");
  if (result.truncated) parts.push("[output was truncated at the server's cap]");
  if (!parts.length) parts.push("(no output)");
  const content: ContentBlock[] = [textBlock(clip(parts.join("\n")))];
  for (const rich of result.results) {
    if (typeof rich["image/png"] === "string") content.push({ type: "image", data: base64(rich["image/png"]), mimeType: "image/png" });
    else if (typeof rich["image/jpeg"] === "string") content.push({ type: "image", data: base64(rich["image/jpeg"]), mimeType: "image/jpeg" });
    else if (typeof rich["text/plain"] === "string" && !result.stdout.includes(rich["text/plain"] as string)) content.push(textBlock(clip(rich["text/plain"] as string)));
  }
  return {
    json,
    content,
    isError: result.status !== "ok",
    structured: { status: result.status, session_id: result.session_id, execution_time: result.execution_time, exit_code: result.exit_code },
  };
}
