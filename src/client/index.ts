/**
 * The CodeRunner SDK: `CodeRunner` (local, zero-config), the shared types and errors, and the browser
 * objects. The cloud client with the same interface is `coderunner/cloud`.
 */
export { CodeRunner, type CodeRunnerOptions } from "./coderunner";
export { SandboxClient, STREAM_PATH } from "./client";
export { BrowserManager, BrowserSession } from "./browser";
export { HTTPTransport, type Fetch } from "./http";
export { DEFAULT_LOCAL_URL, type EnsureUp } from "./local";
export * from "./errors";
export type * from "./types";
export { CodeRunner as default } from "./coderunner";
