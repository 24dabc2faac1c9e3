import { openapi, toOpenAPISchema } from "@elysiajs/openapi";
import { type AnyElysia, Elysia } from "elysia";
// Swagger UI's assets are embedded in the binary, so the docs work with no internet.
import swaggerBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import swaggerCSS from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import { VERSION } from "../version";

const ASSETS = "/docs/assets";
const SPEC = "/docs/json";

type Operation = { requestBody?: { content?: Record<string, unknown> } };
type Paths = Record<string, Record<string, Operation> | undefined>;
/** What `toOpenAPISchema` reads of an app (Elysia declares both protected). */
type RouteSource = { getGlobalRoutes(): { hooks?: Record<string, unknown> }[]; getGlobalDefinitions(): unknown };

/**
 * Fills in the request bodies @elysiajs/openapi leaves empty. It takes a route's content types from its
 * named parsers only, and `bodyParsing` is a function, so every body would be documented with no content
 * type and no schema. Each is documented as the plugin does for Elysia's own parsers instead (JSON,
 * form-encoded, multipart, with the route's body schema): the types `bodyParsing` and Elysia accept.
 */
function fillRequestBodies(document: { paths?: Paths }, app: AnyElysia): void {
  const empty = (operation: Operation) => operation.requestBody?.content && Object.keys(operation.requestBody.content).length === 0;
  const operations = Object.values(document.paths ?? {}).flatMap((methods) => Object.values(methods ?? {}));
  if (!operations.some(empty)) return;
  const source = app as unknown as RouteSource;
  const withoutParsers = {
    getGlobalRoutes: () => source.getGlobalRoutes().map((route) => ({ ...route, hooks: { ...route.hooks, parse: undefined } })),
    getGlobalDefinitions: () => source.getGlobalDefinitions(),
  } as unknown as AnyElysia;
  const generated = toOpenAPISchema(withoutParsers).paths as Paths;
  for (const [path, methods] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(methods ?? {})) {
      const requestBody = generated[path]?.[method]?.requestBody;
      if (empty(operation) && requestBody) operation.requestBody = requestBody;
    }
  }
}

/** Swagger UI at `/docs` and the OpenAPI 3 document at `/docs/json`, generated from the route schemas. */
export function apiDocs() {
  const docs = new Elysia({ name: "api-docs" });
  return docs
    .get(`${ASSETS}/swagger-ui-bundle.js`, () => new Response(swaggerBundle, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" } }), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui.css`, () => new Response(swaggerCSS, { headers: { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=86400" } }), { detail: { hide: true } })
    .onAfterHandle(({ path, responseValue }) => {
      if (path === SPEC && responseValue && typeof responseValue === "object") fillRequestBodies(responseValue as { paths?: Paths }, docs);
    })
    .use(
      openapi({
        path: "/docs",
        specPath: SPEC,
        provider: "swagger-ui",
        swagger: { cdn: `${ASSETS}/swagger-ui-bundle.js`, theme: `${ASSETS}/swagger-ui.css`, autoDarkMode: false },
        documentation: {
          info: {
            title: "CodeRunner REST API",
            version: VERSION,
            description:
              "Local code sandbox for AI agents: stateful Python and bash sessions, headless browser automation. Speaks the InstaVM REST contract. Errors are always {detail, code}.",
          },
          components: {
            securitySchemes: { apiKey: { type: "apiKey", in: "header", name: "X-API-Key" } },
          },
          security: [{ apiKey: [] }],
        },
      }),
    );
}
