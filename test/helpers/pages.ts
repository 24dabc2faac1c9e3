/** What a test page answers: HTML text, or a handler returning HTML text or a whole Response. */
export type Page = string | ((url: URL, request: Request) => string | Response | Promise<string | Response>);

/**
 * Serves test pages on 127.0.0.1, port 0 (tests never reach the internet). Keys are paths; `*`
 * answers every path without its own page; anything else is a 404.
 */
export function servePages(pages: Record<string, Page>): { base: string; stop: () => void } {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const page = pages[url.pathname] ?? pages["*"];
      if (page === undefined) return new Response("not found", { status: 404 });
      const answer = typeof page === "string" ? page : await page(url, request);
      return typeof answer === "string" ? new Response(answer, { headers: { "content-type": "text/html; charset=utf-8" } }) : answer;
    },
  });
  return { base: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
