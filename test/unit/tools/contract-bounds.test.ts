import { describe, expect, test } from "bun:test";
import type { TSchema } from "@sinclair/typebox";
import { ClickBody, CreateBrowserSessionBody, ExtractBody, FillBody, SnapshotBody } from "../../../src/contract/browser";
import { ExecuteBody } from "../../../src/contract/execute";
import { browserExtract, browserSnapshot, clickElement, createBrowserSession, fillInput } from "../../../src/tools/browser-tools";
import { executeBash, executePython } from "../../../src/tools/code-tools";

/**
 * The tools speak to agents in their own words (descriptions, a few names), so their schemas are
 * their own and stay free of Elysia. What a value may be is the contract's fact, though: a tool
 * parameter that becomes a wire field accepts exactly what that field accepts, so an agent never
 * gets a 422 for a value its tool schema allowed, nor a refusal the server would not give.
 */

const LIMITS = ["type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern"] as const;

/** Members of a wire field's union that are the wire's courtesies, not its limits: null (the contract's optional fields) and the numeric string Elysia's `t.Integer` also takes. */
const courtesy = (member: TSchema) => member.type === "null" || (member.type === "string" && member.format === "integer");

/** The field's own limits; a union with courtesies is judged by its one other member. */
function limitsOf(schema: TSchema | undefined): Record<string, unknown> {
  expect(schema).toBeDefined();
  const members = (schema!.anyOf as TSchema[] | undefined)?.filter((member) => !courtesy(member));
  if (members?.length === 1) return limitsOf(members[0]);
  return Object.fromEntries(LIMITS.filter((key) => schema![key] !== undefined).map((key) => [key, schema![key]]));
}

const field = (body: TSchema, name: string): TSchema => (body as unknown as { properties: Record<string, TSchema> }).properties[name]!;

/** [tool, its parameter, the contract body, the wire field it becomes]. */
const PAIRS: [string, TSchema, TSchema, string][] = [
  ["create_browser_session", createBrowserSession.params.properties.width, CreateBrowserSessionBody, "viewport_width"],
  ["create_browser_session", createBrowserSession.params.properties.height, CreateBrowserSessionBody, "viewport_height"],
  ["browser_snapshot", browserSnapshot.params.properties.max_tokens, SnapshotBody, "max_tokens"],
  ["browser_snapshot", browserSnapshot.params.properties.query, SnapshotBody, "query"],
  ["browser_snapshot", browserSnapshot.params.properties.selector, SnapshotBody, "selector"],
  ["browser_snapshot", browserSnapshot.params.properties.cursor, SnapshotBody, "cursor"],
  ["click_element", clickElement.params.properties.selector, ClickBody, "selector"],
  ["click_element", clickElement.params.properties.timeout, ClickBody, "timeout"],
  ["fill_input", fillInput.params.properties.selector, FillBody, "selector"],
  ["fill_input", fillInput.params.properties.value, FillBody, "value"],
  ["browser_extract", browserExtract.params.properties.selector, ExtractBody, "selector"],
  ["execute_python_code", executePython.params.properties.timeout, ExecuteBody, "timeout"],
  ["execute_bash_command", executeBash.params.properties.timeout, ExecuteBody, "timeout"],
];

describe("tool parameters accept what their wire fields accept", () => {
  for (const [tool, param, body, wire] of PAIRS) {
    test(`${tool}: ${wire}`, () => {
      expect(limitsOf(param)).toEqual(limitsOf(field(body, wire)));
    });
  }
});
