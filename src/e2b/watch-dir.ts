import type { SessionSandbox } from "../sandboxes/manager";
import { deadlineSeconds, requestMessage, serverStream } from "./connect";
import { ConnectStatus, type ConnectCode, E2BError } from "./errors";
import { closeInnerSession, LONGEST_RUN_SECONDS, openInnerSession, streamRun } from "./inner-api";
import { toSandboxPath } from "./paths";
import type { E2BRegistry } from "./registry";

/**
 * The watcher that runs inside the sandbox as the sandbox user: inotify through the sandbox's own
 * Python and libc (ctypes), so nothing is installed and nothing polls; the kernel tells it of each
 * change as it happens, and a watch costs one sleeping process. One JSON line out per event (names
 * relative to the watched directory), after a first `{"ready": true}` once every watch is in place,
 * or a single `{"error": {code, message}}`. Events map as envd's fsnotify maps them: created or
 * moved in → CREATE, modified → WRITE, deleted → REMOVE, moved out → RENAME, attributes → CHMOD.
 * A non-empty file moved in from outside the watch (how CodeRunner's uploads land: staged
 * elsewhere, then renamed into place) reports CREATE then WRITE, as `files.write` does on E2B, where
 * E2B's own example waits for WRITE. With `recursive`, directories created later are watched too.
 * It ends when the directory itself goes away.
 */
const WATCHER = String.raw`
import base64, ctypes, json, os, struct, sys
a = json.loads(base64.b64decode(sys.argv[1]))
root, recursive = os.path.normpath(a["path"]), a["recursive"]
def out(m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
def fail(code, message):
    out({"error": {"code": code, "message": message}}); sys.exit(0)
if not os.path.lexists(root): fail("not_found", "%s: no such file or directory" % root)
if not os.path.isdir(root): fail("invalid_argument", "%s is not a directory" % root)
libc = ctypes.CDLL("libc.so.6", use_errno=True)
fd = libc.inotify_init1(0)
if fd < 0: fail("internal", "inotify: " + os.strerror(ctypes.get_errno()))
MASK = 0x2 | 0x4 | 0x40 | 0x80 | 0x100 | 0x200
SELF = 0x400 | 0x800
dirs = {}
def watch(rel):
    p = os.path.join(root, rel) if rel else root
    wd = libc.inotify_add_watch(fd, p.encode(), MASK | (SELF if not rel else 0))
    if wd < 0:
        e = ctypes.get_errno()
        if not rel: fail("permission_denied" if e == 13 else "internal", "%s: %s" % (p, os.strerror(e)))
        return
    dirs[wd] = rel
    if not recursive: return
    try: names = sorted(os.listdir(p))
    except OSError: return
    for n in names:
        q = os.path.join(p, n)
        if os.path.isdir(q) and not os.path.islink(q): watch(os.path.join(rel, n))
watch("")
out({"ready": True})
KINDS = ((0x100 | 0x80, "CREATE"), (0x2, "WRITE"), (0x200, "REMOVE"), (0x40, "RENAME"), (0x4, "CHMOD"))
moved = []
while True:
    buf = os.read(fd, 65536)
    i = 0
    while i < len(buf):
        wd, mask, cookie, size = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + size].rstrip(b"\0").decode(errors="replace")
        i += 16 + size
        if wd not in dirs: continue
        rel = dirs[wd]
        if mask & SELF and rel == "": sys.exit(0)
        if mask & 0x8000:
            dirs.pop(wd, None); continue
        if not name: continue
        path = os.path.join(rel, name) if rel else name
        for bit, kind in KINDS:
            if mask & bit: out({"name": path, "type": kind})
        if mask & 0x40: moved = (moved + [cookie])[-64:]
        if mask & 0x80 and not mask & 0x40000000 and cookie not in moved:
            try:
                if os.path.getsize(os.path.join(root, path)) > 0: out({"name": path, "type": "WRITE"})
            except OSError: pass
        if recursive and mask & (0x100 | 0x80) and mask & 0x40000000: watch(path)
`;

const WATCHER_B64 = Buffer.from(WATCHER).toString("base64");

/**
 * envd's `Filesystem/WatchDir` (the server stream the JS SDK's `files.watchDir` calls): the watcher
 * above runs as one streamed run in a bash session of its own; `start` goes out once its watches are
 * in place (so a change made right after `watchDir` resolves is seen), then one `filesystem` event
 * per line. The client leaving or the call's deadline stops the run, which ends the watcher.
 */
export function watchDir(registry: E2BRegistry, id: string, request: Request): Promise<Response> {
  return (async () => {
    const { session } = registry.get(id);
    const message = await requestMessage<{ path?: string; recursive?: boolean }>(request);
    const args = Buffer.from(JSON.stringify({ path: toSandboxPath(message.path), recursive: message.recursive === true })).toString("base64");
    const timeout = Math.min(deadlineSeconds(request) ?? LONGEST_RUN_SECONDS, LONGEST_RUN_SECONDS);
    return serverStream(
      request,
      async ({ send, signal }) => {
        const inner = await openInnerSession(session as SessionSandbox, "bash");
        const abort = new AbortController();
        const stop = () => abort.abort();
        signal.addEventListener("abort", stop, { once: true });
        try {
          const command = `python3 -c "$(printf %s '${WATCHER_B64}' | base64 -d)" '${args}' </dev/null`;
          let buffered = "";
          for await (const event of streamRun(session as SessionSandbox, { command, language: "bash", session_id: inner, timeout }, abort.signal)) {
            if (event.type === "failed") throw new E2BError(500, `The watcher could not run in the sandbox: ${event.detail ?? "no detail"}`);
            if (event.type !== "stdout") continue;
            buffered += event.text;
            let end: number;
            while ((end = buffered.indexOf("\n")) !== -1) {
              const line = JSON.parse(buffered.slice(0, end)) as { ready?: true; error?: { code: ConnectCode; message: string }; name?: string; type?: string };
              buffered = buffered.slice(end + 1);
              if (line.error) throw new E2BError(ConnectStatus[line.error.code] ?? 500, line.error.message);
              if (line.ready) send({ start: {} });
              else send({ filesystem: { name: line.name, type: `EVENT_TYPE_${line.type}` } });
            }
          }
        } catch (error) {
          // The client left (or the deadline passed): not an error to report to anyone.
          if (!abort.signal.aborted) throw error;
        } finally {
          signal.removeEventListener("abort", stop);
          abort.abort();
          void closeInnerSession(session as SessionSandbox, inner);
        }
      },
      { message: { keepalive: {} }, everyMs: 30_000 },
    );
  })();
}
