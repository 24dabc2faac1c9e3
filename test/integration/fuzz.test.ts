import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { coderunnerFuzzOptions, FORM_PAGE, IssuedIds, mcpRequests, uploads } from "../helpers/coderunner-fuzz";
import { FuzzRunner } from "../helpers/fuzz-runner";
import { jsonCaller } from "../helpers/http";
import { type FuzzRequest, type Operation, operationsOf, requestsFor } from "../helpers/openapi-fuzz";
import { servePages } from "../helpers/pages";
import { treeCPUSeconds } from "../helpers/process-tree";
import { MachineWatch } from "../helpers/machine-watch";
import { type ServeProcess, startServeProcess } from "../helpers/serve-process";

/**
 * Property-based fuzzing of the whole REST API: requests generated with fast-check from the server's
 * own OpenAPI document (every operation), sent to a real `coderunner serve` (real Jupyter kernels,
 * real Chromium). Valid-shaped bodies, mutated ones, malformed JSON, wrong content types, odd
 * methods, paths, ids and query strings, multipart uploads and MCP calls. The property: no answer is
 * a 5xx, none hangs, every non-2xx is JSON `{detail, code}`; afterwards the server answers /health,
 * the fixture sessions kept their state and no upload escaped the workspace.
 *
 * CODERUNNER_FUZZ_SEED replays a run (CODERUNNER_FUZZ_PATH, printed with a failure, just its failing
 * batch); CODERUNNER_FUZZ_REQUESTS sets how many requests (10 000); CODERUNNER_FUZZ_BUDGET_S the
 * time they may take (360 s); CODERUNNER_FUZZ_TRACE names a file that gets every request as it is
 * sent and its number as it is answered, so a hang shows what it was waiting for.
 */

const SEED = Number(process.env.CODERUNNER_FUZZ_SEED ?? 20_251_127);
const REQUESTS = Number(process.env.CODERUNNER_FUZZ_REQUESTS ?? 10_000);
/** fast-check's counterexample path of a failed run: with its seed, replays just that batch. */
const PATH = process.env.CODERUNNER_FUZZ_PATH;
/** Requests in one fast-check run (a failure names its run), sent by `CONCURRENCY` clients at once. */
const BATCH = 500;
const CONCURRENCY = 16;
/**
 * Longest a request may take before it counts as a hang: past the server's own longest wait (a browser
 * action sent without a timeout: 30 s and 2 s of grace; runs here are capped at 3 s).
 */
const DEADLINE_MS = 45_000;
/**
 * The fuzz's own time budget (it takes 15-20 s on a quiet 2-core machine): past it no request is
 * started and the test fails with what the machine was doing, rather than being cut off by the
 * runner's timeout with nothing to show and its requests still running under the next tests.
 */
const BUDGET_MS = Number(process.env.CODERUNNER_FUZZ_BUDGET_S ?? 360) * 1000;
const CLI = [process.execPath, `${import.meta.dir}/../../src/cli.ts`];
const TAG = `coderunner-fuzz-escape-${process.pid}`;

let server: ServeProcess;
let pages: ReturnType<typeof servePages>;
let canary: string;
let operations: Operation[];
const ids = new IssuedIds({ sessionCloses: 2, browserCloses: 2 });

beforeAll(async () => {
  pages = servePages({ "*": FORM_PAGE });
  canary = mkdtempSync(join(tmpdir(), "coderunner-fuzz-canary-"));
  server = await startServeProcess(CLI, {
    env: {
      // Caps that keep the fuzz cheap and bounded: a few sessions (each a kernel), short runs, small bodies.
      CODERUNNER_MAX_SESSIONS: "4",
      CODERUNNER_MAX_BROWSER_SESSIONS: "5",
      CODERUNNER_DEFAULT_TIMEOUT: "3",
      CODERUNNER_MAX_TIMEOUT: "3",
      CODERUNNER_MAX_BODY_BYTES: String(2 * 1024 * 1024),
      CODERUNNER_MAX_UPLOAD_BYTES: String(2 * 1024 * 1024),
    },
  });
  const call = jsonCaller(server.url);
  operations = operationsOf((await call("GET", "/docs/json")).body);
  // Fixtures: the default session and one more with state the fuzz must not lose, two browser sessions on the form page.
  expect((await call("POST", "/execute", { command: "fuzz_marker = 42" })).body.session_id).toBe("default");
  ids.sessions.push("default");
  ids.sessions.push((await call("POST", "/v1/sessions/session", {})).body.session_id);
  for (const session_id of ids.sessions.slice(1)) expect((await call("POST", "/execute", { command: "fuzz_marker = 42", session_id })).body.status).toBe("ok");
  for (let i = 0; i < 2; i++) {
    const { session_id } = (await call("POST", "/v1/browser/sessions/", { viewport_width: 800, viewport_height: 600 })).body;
    expect((await call("POST", "/v1/browser/interactions/navigate", { url: `${pages.base}/form`, session_id })).status).toBe(200);
    ids.browsers.push(session_id);
  }
}, 120_000);

afterAll(async () => {
  // SIGTERM: the server stops its kernels, Jupyter and Chromium itself.
  server?.proc.kill("SIGTERM");
  await server?.proc.exited;
  await server?.cleanup();
  pages?.stop();
  if (canary) rmSync(canary, { recursive: true, force: true });
});

describe("fuzzing every operation of the OpenAPI document", () => {
  test(`${REQUESTS} generated requests: no 5xx, no hang, every error {detail, code}`, async () => {
    const options = coderunnerFuzzOptions(pages.base);
    const byOperation = operations.map((op): fc.WeightedArbitrary<FuzzRequest> => {
      if (op.id === "POST /upload") return { weight: 3, arbitrary: fc.oneof({ weight: 3, arbitrary: uploads(canary, TAG) }, { weight: 1, arbitrary: requestsFor(op, options) }) };
      if (op.id === "POST /mcp") return { weight: 3, arbitrary: fc.oneof({ weight: 3, arbitrary: mcpRequests(pages.base, canary, TAG) }, { weight: 1, arbitrary: requestsFor(op, options) }) };
      // A browser action costs Chromium real work, and one Chromium serves them all: fewer of them.
      return { weight: op.method === "POST" && op.path.startsWith("/v1/browser/interactions") ? 1 : 3, arbitrary: requestsFor(op, options) };
    });
    const request = fc.oneof(...byOperation);
    const started = performance.now();
    const runner = new FuzzRunner(server.url, {
      deadlineMs: DEADLINE_MS,
      resolve: ids.resolveDeep,
      onAnswer: (sent, answer) => ids.learn(sent, answer.status, answer.text),
      stopAt: started + BUDGET_MS,
    });
    const watch = new MachineWatch(() => `${String(runner.sent).padStart(5)} sent`);
    console.log(`fuzz: seed ${SEED} (CODERUNNER_FUZZ_SEED replays it), ${REQUESTS} requests over ${operations.length} operations, ${CONCURRENCY} at a time`);

    const cpuBefore = { server: treeCPUSeconds(server.proc.pid), client: process.cpuUsage() };
    // fc.check rather than fc.assert: a failure names its bad requests, not a dump of 500 (some huge) values.
    const details = await fc.check(
      fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const before = runner.problems.length;
        await runner.runAll(batch, CONCURRENCY);
        return runner.problems.length === before && !runner.outOfTime;
      }),
      { seed: SEED, path: PATH, numRuns: Math.ceil(REQUESTS / BATCH), endOnFailure: true },
    );
    watch.stop();
    const seconds = (performance.now() - started) / 1000;
    if (runner.outOfTime) runner.problems.push(`the fuzz spent its ${BUDGET_MS / 1000} s budget after ${runner.sent} of ${REQUESTS} requests`);
    if (details.failed) console.log(`fuzz: failed at seed ${SEED}, path ${details.counterexamplePath} (CODERUNNER_FUZZ_PATH replays it)\n${runner.problems.join("\n")}\nserver log (end):\n${server.log().slice(-4000)}`);
    if (details.failed || seconds > 60) console.log(`fuzz: the machine every 5 s:\n${watch.report()}`);
    const client = process.cpuUsage(cpuBefore.client);
    const serverCPU = Object.entries(treeCPUSeconds(server.proc.pid))
      .map(([name, after]) => [name, after - (cpuBefore.server[name] ?? 0)] as const)
      .filter(([, used]) => used >= 0.5)
      .sort(([, a], [, b]) => b - a);

    const classes = Object.entries(runner.byClass).sort().map(([name, count]) => `${name} ${count}`).join(", ");
    console.log(`fuzz: ${runner.sent} requests (${classes}), ${runner.operations.size}/${operations.length} operations, ${seconds.toFixed(1)} s, seed ${SEED}`);
    const load = readFileSync("/proc/loadavg", "latin1").split(" ")[0];
    const total = serverCPU.reduce((sum, [, used]) => sum + used, 0);
    console.log(
      `fuzz: CPU ${total.toFixed(1)} s in the server's processes (${serverCPU.map(([name, used]) => `${name === "root" ? "serve" : name} ${used.toFixed(1)}`).join(", ")}), ${((client.user + client.system) / 1e6).toFixed(1)} s in this client; load average ${load} on ${navigator.hardwareConcurrency} cores`,
    );
    const slowest = Object.entries(runner.waited).sort(([, a], [, b]) => b.ms - a.ms).slice(0, 8);
    console.log(`fuzz: most time waiting for ${slowest.map(([what, { ms, count }]) => `${what} ${count}× ${Math.round(ms / count)} ms`).join(", ")}`);
    expect(runner.problems).toEqual([]);
    if (!PATH) expect(runner.sent).toBeGreaterThanOrEqual(REQUESTS);
    if (!PATH) expect([...runner.operations].sort()).toEqual(operations.map((op) => op.id).sort());
  }, 600_000);

  test("afterwards the server answers /health and the fixture sessions kept their state", async () => {
    const call = jsonCaller(server.url);
    expect((await call("GET", "/health")).body.status).toBe("healthy");
    for (const session_id of ids.sessions) {
      const run = await call("POST", "/execute", { command: "print(fuzz_marker)", session_id });
      expect({ session_id, stdout: run.body.stdout, stderr: run.body.stderr }).toEqual({ session_id, stdout: "42\n", stderr: "" });
    }
    for (const session_id of ids.browsers) expect((await call("GET", `/v1/browser/sessions/${session_id}`)).status).toBe(200);
  });

  test("no upload or written file escaped the workspace", () => {
    expect(readdirSync(canary)).toEqual([]);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith(TAG))).toEqual([]);
    expect(existsSync(join(server.workspace, "..", TAG))).toBe(false);
  });

  test("what the fuzz opened can be closed", async () => {
    const call = jsonCaller(server.url);
    for (const { session_id } of (await call("GET", "/sessions")).body.sessions) {
      if (!ids.sessions.includes(session_id)) expect((await call("DELETE", `/sessions/${encodeURIComponent(session_id)}`)).status).toBe(200);
    }
    for (const { session_id } of (await call("GET", "/v1/browser/sessions/")).body.sessions) {
      if (!ids.browsers.includes(session_id)) expect((await call("DELETE", `/v1/browser/sessions/${encodeURIComponent(session_id)}`)).status).toBe(200);
    }
    expect((await call("GET", "/sessions")).body.sessions).toHaveLength(ids.sessions.length);
  });
});

describe("what the fuzzer found", () => {
  test("uploads over the limit sent side by side each answer 413 (none left pending)", async () => {
    // Bun's pipeline() could stay pending once an over-limit file part's streams were destroyed, so
    // a few such uploads in each burst never got an answer.
    const boundary = "fuzzboundary";
    const body = new Blob([`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n`, new Uint8Array(2.25 * 1024 * 1024), `\r\n--${boundary}--\r\n`]);
    const send = () =>
      fetch(`${server.url}/upload`, { method: "POST", body, headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, signal: AbortSignal.timeout(DEADLINE_MS) }).then(
        async (response) => `${response.status} ${(await response.json()).code}`,
        (error: Error) => error.name,
      );
    const answers: string[] = [];
    for (let round = 0; round < 4; round++) answers.push(...(await Promise.all(Array.from({ length: 16 }, send))));
    expect(answers.filter((answer) => answer !== "413 PAYLOAD_TOO_LARGE")).toEqual([]);
  }, 120_000);
});
