/**
 * The wire contract (the API contract document, in code): every request and response schema, as Elysia
 * `t` (TypeBox) schemas, and the TypeScript types derived from them, each named as its schema.
 * Validation, the OpenAPI document and the types all come from here. The server and the engine import
 * schemas and types; the SDK imports types only (`import type`), so TypeBox stays out of its bundle.
 */
export * from "./browser";
export * from "./common";
export * from "./execute";
export * from "./files";
export * from "./routes";
export * from "./sessions";
export * from "./tasks";
