import fc from "fast-check";
import { anyJSON, anyString, hugeString, oddNumber, oddQuery, percentEncode, shortString, spellSegment, urlString } from "./fuzz-values";

/**
 * Requests generated from an OpenAPI document with fast-check: for each operation, bodies valid per
 * its schema, the same bodies mutated (wrong types, missing and extra fields, nasty strings), malformed
 * JSON, wrong content types, odd methods, odd paths and query strings. What a field's value means
 * (code to run, an id the server issued) is the caller's, through `FuzzOptions`.
 */

/** The part of JSON Schema the server's document uses. */
export interface JSONSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JSONSchema[];
  oneOf?: JSONSchema[];
  properties?: Record<string, JSONSchema>;
  required?: string[];
  patternProperties?: Record<string, JSONSchema>;
  additionalProperties?: boolean | JSONSchema;
  items?: JSONSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  format?: string;
}

export interface Operation {
  /** `METHOD /path/{param}` as the document names it. */
  id: string;
  method: string;
  path: string;
  pathParams: string[];
  query: { name: string; schema: JSONSchema }[];
  body?: JSONSchema;
}

interface Document {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema: JSONSchema }[]; requestBody?: { content?: Record<string, { schema?: JSONSchema }> } }>>;
}

/** Every operation of `document` (the docs' own routes left out). */
export function operationsOf(document: Document): Operation[] {
  return Object.entries(document.paths)
    .filter(([path]) => !path.startsWith("/docs"))
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        id: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: (operation.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name),
        query: (operation.parameters ?? []).filter((p) => p.in === "query").map((p) => ({ name: p.name, schema: p.schema })),
        body: operation.requestBody?.content?.["application/json"]?.schema,
      })),
    );
}

/** A request body: JSON (any value), raw bytes or text, or fields sent form-encoded or as multipart. */
export type Body =
  | { json: unknown; contentType?: string }
  | { raw: string | Uint8Array; contentType?: string }
  | { form: Record<string, unknown>; as: "urlencoded" | "multipart" }
  | { parts: MultipartPart[]; boundary: string; damage: MultipartDamage };

/** A multipart part: a file (`content`) or a field (`value`, which may be a placeholder). */
export type MultipartPart = { field: string; filename: string; content: Uint8Array } | { name: string; value: unknown };
/** How a multipart body is broken, if it is. */
export type MultipartDamage = "none" | "truncated" | "no-closing" | "wrong-boundary" | "no-boundary" | "json";

/** A generated request. Values may hold the caller's placeholders (ids it resolves when sending). */
export interface FuzzRequest {
  /** The operation it was generated from, for coverage. */
  op: string;
  /** Which generator made it: valid, mutated, malformed, content-type, method, path, ... */
  kind: string;
  method: string;
  /** The operation's path template; `{name}` filled from `params` when sent. */
  path: string;
  params: Record<string, unknown>;
  /** How path parameters are spelled in the URL (see `segmentSpelling`), as a seed for the sender. */
  spelling: number;
  /** Query parameters (values may be placeholders), then `query` appended raw. */
  queryParams: Record<string, unknown>;
  /** Raw query string, empty or starting with `?` (or `&` after `queryParams`). */
  query: string;
  headers: Record<string, string>;
  body?: Body;
}

export interface FuzzOptions {
  /** Replaces the schema's generator for a field (safe code for `command`, short timeouts, issued ids). */
  field?: (op: Operation, name: string, schema: JSONSchema) => fc.Arbitrary<unknown> | undefined;
  /** Values for a path parameter (ids). */
  pathParam: (op: Operation, name: string) => fc.Arbitrary<unknown>;
  /** Optional fields a valid body always carries (waits, whose defaults are long). */
  alwaysSent?: ReadonlySet<string>;
  /** Fields of `op` that mutations must not fill with arbitrary strings (code the server would run, an id it would close). */
  isProtected?: (op: Operation, name: string) => boolean;
  /** Relative weight of a kind of request (valid, mutated, malformed, content-type, no-body, method, path) for `op`, when not the default. */
  kindWeight?: (op: Operation, kind: string) => number | undefined;
}

const types = (schema: JSONSchema): string[] => (Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : []);

/** Values valid for `schema`, numbers kept small so they mean something. */
export function fromSchema(schema: JSONSchema, field: (name: string, schema: JSONSchema) => fc.Arbitrary<unknown> | undefined = () => undefined, alwaysSent: ReadonlySet<string> = new Set()): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.const !== undefined) return fc.constant(schema.const);
  const alternatives = schema.anyOf ?? schema.oneOf;
  // Elysia documents t.Integer and t.Numeric as "a number, or a string of one": the number is the clear case.
  if (alternatives) return fc.oneof(...alternatives.filter((a) => a.format !== "integer" && a.format !== "numeric").map((a) => fromSchema({ ...schema, anyOf: undefined, oneOf: undefined, ...a }, field, alwaysSent)));
  const kinds = types(schema).filter((kind) => kind !== "null");
  const base = kinds.length ? fc.oneof(...kinds.map((kind) => ofType(kind, schema, field, alwaysSent))) : anyJSON;
  return types(schema).includes("null") ? fc.oneof({ weight: 5, arbitrary: base }, { weight: 1, arbitrary: fc.constant(null) }) : base;
}

function ofType(kind: string, schema: JSONSchema, field: (name: string, schema: JSONSchema) => fc.Arbitrary<unknown> | undefined, alwaysSent: ReadonlySet<string>): fc.Arbitrary<unknown> {
  switch (kind) {
    case "string":
      return fc.oneof({ weight: 6, arbitrary: fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.max(schema.minLength ?? 0, 20) }) }, { weight: 1, arbitrary: shortString.filter((s) => s.length >= (schema.minLength ?? 0)) });
    case "integer":
    case "number": {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (kind === "integer" ? 1 : 1e-3) : -1000);
      const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : Math.max(min, 0) + 1000);
      return kind === "integer" ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
    }
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(schema.items ? fromSchema(schema.items, field, alwaysSent) : anyJSON, { maxLength: 4 });
    case "object": {
      if (schema.properties) {
        const model = Object.fromEntries(Object.entries(schema.properties).map(([name, property]) => [name, field(name, property) ?? fromSchema(property, field, alwaysSent)]));
        const sent = Object.keys(model).filter((name) => alwaysSent.has(name));
        return fc.record(model, { requiredKeys: [...new Set([...(schema.required ?? []), ...sent])] });
      }
      const values = Object.values(schema.patternProperties ?? {})[0] ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : {});
      return fc.dictionary(shortString, fromSchema(values, field, alwaysSent), { maxKeys: 4 });
    }
  }
  return anyJSON;
}

/** Every JSON type `schema` allows, its alternatives' and `nullable` included. */
function allowedTypes(schema: JSONSchema & { nullable?: boolean }): string[] {
  return [...types(schema), ...(schema.nullable ? ["null"] : []), ...(schema.anyOf ?? schema.oneOf ?? []).flatMap(allowedTypes)];
}

/** A JSON value of a type `schema` does not allow. */
export function wrongType(schema: JSONSchema): fc.Arbitrary<unknown> {
  const allowed = new Set(allowedTypes(schema));
  const candidates: [string, fc.Arbitrary<unknown>][] = [
    ["string", anyString],
    ["number", oddNumber],
    ["boolean", fc.boolean()],
    ["null", fc.constant(null)],
    ["array", fc.array(anyJSON, { maxLength: 3 })],
    ["object", fc.dictionary(shortString, anyJSON, { maxKeys: 3 })],
  ];
  const wrong = candidates.filter(([kind]) => !allowed.has(kind) && !(kind === "number" && allowed.has("integer")));
  return fc.oneof(...wrong.map(([, arbitrary]) => arbitrary));
}

/** One mutation of a valid object body: a field of the wrong type or a nasty string, a required field gone, extra fields. */
function mutate(schema: JSONSchema, valid: fc.Arbitrary<unknown>, isProtected: (name: string) => boolean): fc.Arbitrary<{ kind: string; json: unknown }> {
  const names = Object.keys(schema.properties ?? {});
  const strings = names.filter((name) => types(schema.properties![name]!).includes("string") && !isProtected(name));
  const mutations: fc.Arbitrary<{ kind: string; json: unknown }>[] = [
    fc.tuple(valid, fc.dictionary(fc.oneof(shortString, fc.constantFrom("__proto__", "constructor", "prototype", "toString")), anyJSON, { minKeys: 1, maxKeys: 4 })).map(([body, extra]) => ({ kind: "extra-fields", json: { ...(body as object), ...extra } })),
    wrongType({ type: "object" }).map((json) => ({ kind: "not-an-object", json })),
  ];
  if (names.length) {
    mutations.push(
      fc.constantFrom(...names).chain((name) => fc.tuple(valid, wrongType(schema.properties![name]!)).map(([body, value]) => ({ kind: "wrong-type", json: { ...(body as object), [name]: value } }))),
    );
  }
  if (strings.length) {
    mutations.push(fc.tuple(valid, fc.constantFrom(...strings), fc.oneof({ weight: 8, arbitrary: anyString }, { weight: 1, arbitrary: hugeString })).map(([body, name, value]) => ({ kind: "nasty-string", json: { ...(body as object), [name]: value } })));
  }
  if (schema.required?.length) {
    mutations.push(fc.tuple(valid, fc.subarray(schema.required, { minLength: 1 })).map(([body, gone]) => ({ kind: "missing-field", json: Object.fromEntries(Object.entries(body as object).filter(([name]) => !gone.includes(name))) })));
  }
  return fc.oneof(...mutations);
}

/** JSON that does not parse, or parses into something no schema wants, as bytes or text. */
export const malformedJSON: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.constantFrom("{", '{"a":', "[1,]", "{'a': 1}", '{"a":1}}', "\ufeff{}", "NaN", '{"a": NaN}', '{"a": 1e99999}', '{"a": -}', "nul", "tru", "{}{}", '{"a":"\\x41"}', '{"a":"\\ud800"}', '{"__proto__": {"polluted": 1}}', "   ", "\0", "//{}", "[".repeat(100_000), "{\"a\":".repeat(50_000)),
  fc.constantFrom(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]), new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), new Uint8Array([0xc0, 0xaf])),
  fc.string({ unit: "binary", maxLength: 64 }),
  fc.json().map((text) => text.slice(0, Math.max(1, text.length - 1))),
);

const WRONG_CONTENT_TYPES = ["text/xml", "application/octet-stream", "multipart/form-data", "multipart/form-data; boundary=nope", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "application/json;;;", "foo", "*/*", "", "application/vnd.api+json", "text/plain; charset=utf-8", "application/xml", "image/png"];
const ODD_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND", "MKCOL", "QUERY"];

/** The request's path with its parameters filled, each spelled as `spelling` says (see `spellSegment`). */
export function pathOf(request: Pick<FuzzRequest, "path" | "params" | "spelling">, resolve: (value: unknown) => unknown): string {
  let n = request.spelling;
  return request.path.replace(/\{([^}]+)\}/g, (_, name: string) => spellSegment(String(resolve(request.params[name])), n++));
}

/** Every kind of request for `op`. */
export function requestsFor(op: Operation, options: FuzzOptions): fc.Arbitrary<FuzzRequest> {
  const field = (name: string, schema: JSONSchema) => options.field?.(op, name, schema);
  // Path parameters as the method sent would use them: a DELETE gets ids that may be closed.
  const params = (method: string) => fc.record(Object.fromEntries(op.pathParams.map((name) => [name, options.pathParam({ ...op, method }, name)])));
  const queryParams = fc.record(Object.fromEntries(op.query.map((q) => [q.name, fc.oneof(field(q.name, q.schema) ?? fromSchema(q.schema, field), urlString)])), { requiredKeys: [] });
  const query = fc.oneof({ weight: 6, arbitrary: fc.constant("") }, { weight: 1, arbitrary: oddQuery });
  const make = (kind: string, method: string, rest: { headers?: Record<string, string>; body?: Body; path?: string }) =>
    fc.record({ params: params(method), spelling: fc.nat(), queryParams, query }).map((parts) => ({ op: op.id, kind, method, path: rest.path ?? op.path, params: parts.params, spelling: parts.spelling, queryParams: parts.queryParams, query: parts.query, headers: rest.headers ?? {}, body: rest.body }) satisfies FuzzRequest);
  const chained = <T>(arbitrary: fc.Arbitrary<T>, build: (value: T) => fc.Arbitrary<FuzzRequest>) => arbitrary.chain(build);

  const schema = op.body;
  const valid = schema && fromSchema(schema, field, options.alwaysSent);
  const weighted: fc.WeightedArbitrary<FuzzRequest>[] = [];
  const weight = (kind: string, fallback: number) => options.kindWeight?.(op, kind) ?? fallback;
  if (!schema || !valid) {
    weighted.push({ weight: weight("valid", 4), arbitrary: make("valid", op.method, {}) });
  } else {
    const flat = (body: unknown) => body !== null && typeof body === "object" && Object.values(body).every((v) => v === null || typeof v !== "object");
    weighted.push({
      weight: weight("valid", 4),
      arbitrary: chained(fc.tuple(valid, fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "form", "multipart")), ([json, type]) =>
        type === "form" || type === "multipart"
          ? make(flat(json) ? "valid" : "valid-nested-form", op.method, { body: { form: (json ?? {}) as Record<string, unknown>, as: type === "form" ? "urlencoded" : "multipart" } })
          : make("valid", op.method, { body: { json, contentType: type } }),
      ),
    });
    weighted.push({ weight: weight("mutated", 6), arbitrary: chained(mutate(schema, valid, (name) => options.isProtected?.(op, name) ?? false), ({ kind, json }) => make(kind, op.method, { body: { json } })) });
    weighted.push({ weight: weight("malformed", 3), arbitrary: chained(malformedJSON, (raw) => make("malformed", op.method, { body: { raw, contentType: "application/json" } })) });
    weighted.push({ weight: weight("content-type", 2), arbitrary: chained(fc.tuple(valid, fc.constantFrom(...WRONG_CONTENT_TYPES)), ([json, contentType]) => make("content-type", op.method, { body: { json, contentType } })) });
    weighted.push({ weight: weight("no-body", 1), arbitrary: make("no-body", op.method, {}) });
  }
  weighted.push({
    weight: weight("method", 2),
    arbitrary: chained(fc.constantFrom(...ODD_METHODS.filter((m) => m !== op.method)), (method) => make("method", method, method === "GET" || method === "HEAD" ? {} : { body: { json: {} } })),
  });
  weighted.push({
    weight: weight("path", 1),
    arbitrary: chained(fc.constantFrom("/", "//", "/x", "/..", "/%2e%2e", "/%00", "/%FF", "?", "#x"), (suffix) =>
      make("path", op.method, { path: op.path.replace(/\/$/, "") + suffix, body: op.method === "GET" || op.method === "DELETE" ? undefined : { json: {} } }),
    ),
  });
  return fc.oneof(...weighted.filter((entry) => entry.weight > 0));
}
