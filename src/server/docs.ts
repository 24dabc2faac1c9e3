import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
// Swagger UI's assets are embedded in the binary, so the docs work with no internet.
import swaggerBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import swaggerCSS from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import { VERSION } from "../version";

const ASSETS = "/docs/assets";

/** Swagger UI at `/docs` and the OpenAPI 3 document at `/docs/json`, generated from the route schemas. */
export function apiDocs() {
  return new Elysia({ name: "api-docs" })
    .get(`${ASSETS}/swagger-ui-bundle.js`, () => new Response(swaggerBundle, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" } }), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui.css`, () => new Response(swaggerCSS, { headers: { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=86400" } }), { detail: { hide: true } })
    .use(
      openapi({
        path: "/docs",
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
