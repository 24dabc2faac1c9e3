import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server";
import { servePages } from "../helpers/pages";

/** Every file in examples/ runs as written (its own `bun` process, importing `coderunner`) against a real server. */

setDefaultTimeout(90_000);

const root = join(import.meta.dir, "../..");
let server: TestServer;
let pages: ReturnType<typeof servePages>;

beforeAll(async () => {
  // A stand-in for httpbin.org, which the browser example uses by default.
  pages = servePages({
    "/get": () => Response.json({ origin: "127.0.0.1" }),
    "*": `<!doctype html><title>httpbin.org</title><h1 class="title">httpbin.org</h1><p>A simple HTTP Request &amp; Response Service.</p><a href="/get">/get</a>`,
  });
  server = await startTestServer({ kernelPoolSize: 1 }, { listen: true });
});

afterAll(async () => {
  await server?.stop();
  pages?.stop();
});

async function run(file: string, env: Record<string, string> = {}, command: string[] = [process.execPath, join("examples", file)]): Promise<string> {
  const child = Bun.spawn(command, {
    cwd: root,
    env: { ...process.env, CODERUNNER_URL: server.url, OPENAI_API_KEY: "", AI_GATEWAY_API_KEY: "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${file} exited with ${code}:\n${stderr}\n${stdout}`);
  return `${stdout}${stderr}`;
}

describe("examples", () => {
  test("basic.ts", async () => {
    const out = await run("basic.ts");
    expect(out).toContain("Hello Local!");
    expect(out).toContain("Hello Bash!");
    expect(out).toContain("area = 12.57");
    expect(out).toContain("error ZeroDivisionError");
  });

  test("browser.ts", async () => {
    const out = await run("browser.ts", { EXAMPLE_URL: pages.base });
    expect(out).toMatch(/screenshot: \d+ base64 characters/);
    expect(out).toContain('text: "httpbin.org"');
    expect(out).toContain("httpbin.org");
  });

  test("sandbox-fixture.ts under bun test: a sandbox per block and per test, each closed after", async () => {
    const before = (await server.call("GET", "/sessions")).body.sessions.length;
    const out = await run("sandbox-fixture.ts", {}, [process.execPath, "test", "./examples/sandbox-fixture.ts"]);
    expect(out).toContain("4 pass");
    expect(out).toContain("0 fail");
    // Three sessions were opened (one for the block, one per test of the other) and none is left.
    expect((await server.call("GET", "/sessions")).body.sessions.length).toBe(before);
  });

  test("cloud-migration.ts", async () => {
    const out = await run("cloud-migration.ts", { INSTAVM_API_KEY: "any", INSTAVM_URL: server.url });
    expect(out).toContain("Hello Cloud!");
    expect(out).toContain("executions: 2");
  });

  test("sessions-files-async.ts", async () => {
    const out = await run("sessions-files-async.ts");
    expect(out).toContain("active: true");
    expect(out).toContain("2 cities, 2620000 people");
    expect(out).toContain("done in local");
    expect(out).toContain("live: step 2");
    expect(out).toContain("finished: ok");
  });

  test("openai-tools.ts (recorded model turn)", async () => {
    const out = await run("openai-tools.ts");
    expect(out).toMatch(/tool execute_python_code -> 12\.0 3\.\d+/);
    expect(out).toContain("assistant:");
  });

  test("langchain-tools.ts", async () => {
    const out = await run("langchain-tools.ts");
    expect(out).toContain("5050");
    expect(out).toContain("execute_python_code: Linux");
    expect(out).toContain("execute_bash_command: 65536");
  });

  test("vercel-ai-tools.ts (scripted model)", async () => {
    const out = await run("vercel-ai-tools.ts");
    expect(out).toContain('stdout: "7.25\\n"');
    expect(out).toContain("assistant: The mean is 7.25.");
  });

  test("mcp-client.ts", async () => {
    const out = await run("mcp-client.ts");
    expect(out).toContain("execute_python_code");
    expect(out).toContain("execute_python_code -> 1,267,650,600,228,229,401,496,703,205,376");
  });
});
