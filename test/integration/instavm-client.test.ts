/**
 * The public InstaVM Python client's calls, made on the wire exactly as it makes them (0.8.x), against
 * a real `coderunner serve` process with an API key: the key in the body of session creation, no key
 * header on usage, form-encoded download, multipart upload with `recursive`, a bare-array list, and
 * an HTTP deadline equal to the run's `timeout` (requests' `timeout=` is the connect and read
 * timeout; a total deadline, as here, is stricter). The client itself is Python on PyPI, which CI
 * cannot reach; this file is its wire behaviour, call by call.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ServeProcess, startServeProcess } from "../helpers/serve-process";

const CLI = [process.execPath, `${import.meta.dir}/../../src/cli.ts`];
const API_KEY = "instavm-wire-key";
/** The client's `timeout` default: the VM's lifetime and every call's HTTP timeout but execute's. */
const CLIENT_TIMEOUT_S = 300;

let server: ServeProcess;
let sessionId: string;

class ClientTimeout extends Error {}

/** `InstaVM._make_request`: one HTTP call with the client's timeout; a timeout is its NetworkError. */
async function request(method: string, path: string, init: { headers?: Record<string, string>; json?: unknown; form?: Record<string, string>; files?: FormData; timeoutS?: number } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  let body: BodyInit | undefined;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(init.form).toString();
  } else if (init.files) body = init.files;
  const timeoutS = init.timeoutS ?? CLIENT_TIMEOUT_S;
  try {
    const response = await fetch(`${server.url}${path}`, { method, headers, body, signal: AbortSignal.timeout(timeoutS * 1000) });
    return { status: response.status, body: (await response.json()) as any };
  } catch (error) {
    if ((error as Error).name === "TimeoutError") throw new ClientTimeout(`Request timeout after ${timeoutS}s`);
    throw error;
  }
}

const withKey = { "X-API-Key": API_KEY };

/** `InstaVM.execute(command, language, timeout)`: the run's timeout is also the call's. */
const execute = (command: string, options: { language?: string; timeout?: number } = {}) =>
  request("POST", "/execute", {
    headers: withKey,
    json: { command, session_id: sessionId, ...(options.language ? { language: options.language } : {}), ...(options.timeout !== undefined ? { timeout: options.timeout } : {}) },
    timeoutS: options.timeout,
  });

beforeAll(async () => {
  server = await startServeProcess(CLI, { env: { CODERUNNER_API_KEY: API_KEY, CODERUNNER_KERNEL_POOL_SIZE: "2" } });
  // `start_session`: the key in the body, no header.
  const started = await request("POST", "/v1/sessions/session", { json: { api_key: API_KEY, vm_lifetime_seconds: CLIENT_TIMEOUT_S } });
  expect(started.status).toBe(200);
  sessionId = started.body.session_id;
});

afterAll(async () => {
  await server?.cleanup();
});

describe("the InstaVM client's calls, unchanged", () => {
  test("execute; then get_usage, which sends no key header", async () => {
    expect((await execute("kept = 41\nprint(kept + 1)")).body).toMatchObject({ stdout: "42\n", status: "ok", session_id: sessionId });
    const usage = await request("GET", `/v1/sessions/usage/${sessionId}`);
    expect(usage.status).toBe(200);
    expect(usage.body.session_id).toBe(sessionId);
  });

  test("a run that reaches its timeout answers `timeout` with its output before the client's deadline, Python and bash", async () => {
    const python = await execute("import time\nprint('before', flush=True)\ntime.sleep(10)", { timeout: 2 });
    expect(python.body).toMatchObject({ status: "timeout", stdout: "before\n", state_lost: false });
    expect((await execute("print(kept)")).body.stdout).toBe("41\n");

    const bash = await execute("export KEPT=yes; echo before; sleep 10", { language: "bash", timeout: 1 });
    expect(bash.body).toMatchObject({ status: "timeout", stdout: "before\n", state_lost: false });
    expect((await execute("echo $KEPT", { language: "bash" })).body.stdout).toBe("yes\n");
  });

  test("a run that ignores the interrupt is still answered by the deadline; the next run says the state was lost", async () => {
    const stubborn = await execute("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('ignoring', flush=True)\ntime.sleep(10)", { timeout: 2 });
    expect(stubborn.body).toMatchObject({ status: "timeout", stdout: "ignoring\n", state_lost: false });
    expect(stubborn.body.stderr).toContain("this answer could not wait for the Python kernel to stop");
    const next = await execute("print('kept' in globals())");
    expect(next.body).toMatchObject({ stdout: "False\n", state_lost: true });
    expect(next.body.stderr).toContain("The previous run did not stop after its timeout, so its Python kernel was replaced");
    expect((await execute("kept = 41")).body.status).toBe("ok");
  });

  test("time queued behind the session's earlier run counts: the late run is answered by its deadline, unrun", async () => {
    const earlier = request("POST", "/execute_async", { headers: withKey, json: { command: "import time\ntime.sleep(3)", session_id: sessionId } });
    expect((await earlier).status).toBe(200);
    const late = await execute("print('never')", { timeout: 1 });
    expect(late.body.status).toBe("timeout");
    expect(late.body.stdout).toBe("");
    expect(late.body.stderr).toContain("waited behind the session's earlier runs and was not run");
  });

  test("upload_file (multipart, recursive='false') and download_file (form-encoded), to an absolute path and back", async () => {
    const files = new FormData();
    files.append("file", new Blob(["a,b\n1,2\n"]), "local.csv");
    files.append("remote_path", "data/in.csv");
    files.append("session_id", sessionId);
    files.append("recursive", "false");
    const up = await request("POST", "/upload", { headers: withKey, files });
    expect(up.body).toMatchObject({ success: true });
    const down = await request("POST", "/download", { headers: withKey, form: { filename: "data/in.csv", session_id: sessionId } });
    expect(Buffer.from(down.body.content, "base64").toString()).toBe("a,b\n1,2\n");
  });

  test("list: a bare array of sandboxes, with the client's fields", async () => {
    const list = await request("GET", "/v1/sessions/sandboxes", { headers: withKey });
    expect(Array.isArray(list.body)).toBe(true);
    const mine = list.body.find((entry: { sandbox_id: string }) => entry.sandbox_id === sessionId);
    expect(Object.keys(mine)).toEqual(expect.arrayContaining(["sandbox_id", "template_id", "name", "metadata", "status", "started_at", "end_at"]));
  });
});
