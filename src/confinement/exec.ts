import { dlopen, FFIType, ptr, read } from "bun:ffi";

/**
 * `execve(2)` for Bun, which has no exec of its own: replaces this process (same PID, same open
 * descriptors without close-on-exec) with `argv`. The boot needs it to become the server without
 * leaving a root process behind, and PID 1 to put tini in front of itself. Returns only on failure.
 */
export function exec(argv: string[], env: Record<string, string | undefined>): never {
  const libc = dlopen("libc.so.6", {
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
  const cstring = (text: string) => Buffer.from(`${text}\0`, "utf8");
  const strings = argv.map(cstring);
  const environ = Object.entries(env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => cstring(`${name}=${value}`));
  const table = (items: Buffer[]) => {
    const pointers = new BigUint64Array(items.length + 1);
    items.forEach((item, index) => (pointers[index] = BigInt(ptr(item))));
    return pointers;
  };
  const argvTable = table(strings);
  const envTable = table(environ);
  libc.symbols.execve(ptr(strings[0]!), ptr(argvTable), ptr(envTable));
  const errno = read.i32(libc.symbols.__errno_location()!, 0);
  throw new Error(`execve ${argv[0]} failed (errno ${errno})`);
}
