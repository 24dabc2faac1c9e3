/**
 * CodeRunner's tools for models: one catalogue from which the MCP endpoint and the OpenAI / LangChain /
 * Vercel AI adapters are generated.
 */
export { TOOLS, argumentProblems, callTool, findTool, inputSchema, jsonSchemaOf, toolsFor } from "./catalogue";
export { ELEMENT_WAIT_MS, MAX_ELEMENTS, MAX_TOOL_TEXT, clip, failure, renderRun, reply } from "./render";
export { defineTool } from "./tool";
export type * from "./tool";
export * from "./code-tools";
export * from "./file-tools";
export * from "./browser-tools";
