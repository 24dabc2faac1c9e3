import type { SessionSandbox } from "../sandboxes/manager";
import { requestMessage, unary } from "./connect";
import { type ConnectCode, ConnectStatus, E2BError, unsupported } from "./errors";
import { runBash } from "./inner-api";
import { toE2BPath, toSandboxPath } from "./paths";
import type { E2BRegistry } from "./registry";
import { watchDir } from "./watch-dir";

/**
 * The file operations envd has and CodeRunner's file routes do not (stat, list with depth, mkdir,
 * move, remove), run as the sandbox user by the sandbox's own Python: one JSON request in (base64
 * in argv, so no quoting), one JSON answer out (`{"error": {code, message}}` on failure).
 */
const HELPER = String.raw`
import base64, datetime, grp, json, os, pwd, shutil, stat, sys
a = json.loads(base64.b64decode(sys.argv[1]))
def name(db, id):
    try: return db(id)[0]
    except KeyError: return str(id)
def entry(p):
    st = os.lstat(p)
    m = st.st_mode
    kind = "FILE_TYPE_DIRECTORY" if stat.S_ISDIR(m) else "FILE_TYPE_SYMLINK" if stat.S_ISLNK(m) else "FILE_TYPE_FILE" if stat.S_ISREG(m) else "FILE_TYPE_UNSPECIFIED"
    e = {"name": os.path.basename(p.rstrip("/")) or "/", "type": kind, "path": p, "size": str(st.st_size), "mode": stat.S_IMODE(m),
         "permissions": stat.filemode(m), "owner": name(pwd.getpwuid, st.st_uid), "group": name(grp.getgrgid, st.st_gid),
         "modifiedTime": datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc).isoformat()}
    if stat.S_ISLNK(m): e["symlinkTarget"] = os.path.realpath(p)
    return e
def listing(root, depth):
    out = []
    for n in sorted(os.listdir(root)):
        p = os.path.join(root, n)
        out.append(entry(p))
        if depth > 1 and os.path.isdir(p) and not os.path.islink(p): out.extend(listing(p, depth - 1))
    return out
op, p = a["op"], a.get("path")
try:
    if op == "stat": r = {"entry": entry(p)}
    elif op == "list":
        if not os.path.isdir(p): raise NotADirectoryError(p + " is not a directory")
        r = {"entries": listing(p, max(1, a.get("depth") or 1))}
    elif op == "mkdir":
        if os.path.lexists(p): raise FileExistsError(p + " already exists")
        os.makedirs(p); r = {"entry": entry(p)}
    elif op == "move":
        d = a["destination"]
        if not os.path.lexists(p): raise FileNotFoundError(p + " does not exist")
        os.makedirs(os.path.dirname(d) or "/", exist_ok=True); shutil.move(p, d); r = {"entry": entry(d)}
    elif op == "remove":
        if os.path.isdir(p) and not os.path.islink(p): shutil.rmtree(p)
        else: os.remove(p)
        r = {}
except FileNotFoundError as e: r = {"error": {"code": "not_found", "message": "%s: no such file or directory" % (e.filename or p)}}
except FileExistsError as e: r = {"error": {"code": "already_exists", "message": str(e)}}
except PermissionError as e: r = {"error": {"code": "permission_denied", "message": "%s: permission denied" % (e.filename or p)}}
except (NotADirectoryError, IsADirectoryError, OSError) as e: r = {"error": {"code": "invalid_argument", "message": str(e)}}
print(json.dumps(r))
`;

const HELPER_B64 = Buffer.from(HELPER).toString("base64");

type Entry = { path: string; symlinkTarget?: string; [field: string]: unknown };

const shown = (entry: Entry): Entry => ({ ...entry, path: toE2BPath(entry.path), ...(entry.symlinkTarget ? { symlinkTarget: toE2BPath(entry.symlinkTarget) } : {}) });

/** The `E2BError` a helper's Connect code stands for. */
function failure(error: { code: ConnectCode; message: string }): E2BError {
  return new E2BError(ConnectStatus[error.code] ?? 400, error.message);
}

/** Runs one helper operation in the sandbox's files session; throws its error as an E2BError. */
export async function fileOperation(registry: E2BRegistry, id: string, args: Record<string, unknown>): Promise<Record<string, any>> {
  const { session } = registry.get(id);
  const inner = await registry.filesSession(id);
  const request = Buffer.from(JSON.stringify(args)).toString("base64");
  const result = await runBash(session as SessionSandbox, inner, `python3 -c "$(printf %s '${HELPER_B64}' | base64 -d)" '${request}'`);
  let parsed: Record<string, any>;
  try {
    parsed = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    throw new E2BError(500, `The file operation failed in the sandbox: ${result.stderr.trim() || result.stdout.trim() || result.status}`);
  }
  if (parsed.error) throw failure(parsed.error);
  return parsed;
}

/** envd's `filesystem.Filesystem` service over the helper. */
export class FilesystemService {
  constructor(private readonly registry: E2BRegistry) {}

  async handle(id: string, method: string, request: Request): Promise<Response> {
    if (method === "WatchDir") return watchDir(this.registry, id, request);
    const message = await requestMessage<{ path?: string; source?: string; destination?: string; depth?: number }>(request);
    const op = (args: Record<string, unknown>) => fileOperation(this.registry, id, args);
    switch (method) {
      case "Stat":
        return unary({ entry: shown((await op({ op: "stat", path: toSandboxPath(message.path) })).entry) });
      case "ListDir": {
        const listed = await op({ op: "list", path: toSandboxPath(message.path), depth: message.depth ?? 1 });
        return unary({ entries: (listed.entries as Entry[]).map(shown) });
      }
      case "MakeDir":
        return unary({ entry: shown((await op({ op: "mkdir", path: toSandboxPath(message.path) })).entry) });
      case "Move":
        return unary({ entry: shown((await op({ op: "move", path: toSandboxPath(message.source), destination: toSandboxPath(message.destination) })).entry) });
      case "Remove":
        await op({ op: "remove", path: toSandboxPath(message.path) });
        return unary();
      case "CreateWatcher":
      case "GetWatcherEvents":
      case "RemoveWatcher":
        // Only E2B's Python SDK polls a watcher; the JS SDK streams WatchDir.
        throw unsupported("Polled directory watchers (filesystem.Filesystem/CreateWatcher; WatchDir streams are supported)");
    }
    throw new E2BError(501, `filesystem.Filesystem/${method} is not an envd method CodeRunner knows.`);
  }
}
