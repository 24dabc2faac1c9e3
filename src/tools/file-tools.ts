import { Type } from "@sinclair/typebox";
import { clip, reply, textBlock } from "./render";
import { defineTool, type ToolAnswer } from "./tool";

/** The tools that read and write the sandbox's files (relative paths resolve in the session's working directory). */

export const writeFile = defineTool({
  name: "write_file",
  title: "Write a file",
  description: "Write a text file in the sandbox (relative paths resolve in the session's working directory; parent directories are created).",
  params: Type.Object({ path: Type.String({ description: "Where to write it." }), content: Type.String({ description: "The text to write." }) }),
  session: "execution",
  surfaces: ["mcp"],
  async run(backend, args) {
    const written = await backend.writeFile(args.path, args.content, args.session_id);
    return reply({ path: written.path, size: written.size });
  },
});

/** Text as text, PNG and JPEG as images, anything else as a base64 resource. */
function fileAnswer(requested: string, file: { path: string; content: string }): ToolAnswer {
  const lower = requested.toLowerCase();
  const bytes = Buffer.from(file.content, "base64");
  const json = { success: true, path: file.path, size: bytes.length };
  const image = lower.endsWith(".png") ? "image/png" : /\.jpe?g$/.test(lower) ? "image/jpeg" : undefined;
  if (image) return { json: { ...json, encoding: "base64", content: file.content, media_type: image }, content: [{ type: "image", data: file.content, mimeType: image }], isError: false };
  try {
    const text = clip(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return { json: { ...json, encoding: "utf-8", content: text }, content: [textBlock(text)], isError: false };
  } catch {
    const resource = { uri: `file://${file.path}`, mimeType: "application/octet-stream", blob: file.content };
    return { json: { ...json, encoding: "base64", content: file.content }, content: [{ type: "resource", resource }], isError: false };
  }
}

export const readFile = defineTool({
  name: "read_file",
  title: "Read a file",
  description: "Read a file from the sandbox. Text comes back as text; images as images; other binary files as base64.",
  params: Type.Object({ path: Type.String({ description: "The file to read." }) }),
  session: "execution",
  surfaces: ["mcp"],
  annotations: { readOnlyHint: true },
  async run(backend, args) {
    return fileAnswer(args.path, await backend.readFile(args.path, args.session_id));
  },
});

export const listFiles = defineTool({
  name: "list_files",
  title: "List files",
  description: "List a directory of the sandbox (default: the session's working directory).",
  params: Type.Object({ path: Type.Optional(Type.String({ description: "The directory to list." })) }),
  session: "execution",
  surfaces: ["mcp"],
  annotations: { readOnlyHint: true },
  async run(backend, args) {
    return reply(await backend.listFiles(args.path, args.session_id));
  },
});
