/**
 * A streaming ustar writer, enough for a Docker build context: regular files and directories, each
 * file either in memory or streamed from disk with a declared size, so a 100 MB binary goes to the
 * Engine without being held in memory.
 */
export type TarEntry =
  | { name: string; type: "directory"; mode?: number }
  | { name: string; type?: "file"; mode?: number; data: Uint8Array | string }
  | { name: string; type?: "file"; mode?: number; size: number; stream: () => ReadableStream<Uint8Array> };

const BLOCK = 512;
const MAX_SIZE = 0o77777777777; // 11 octal digits
const encoder = new TextEncoder();

function writeString(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new Error(`tar: "${value}" does not fit in ${length} bytes`);
  header.set(bytes, offset);
}

function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  writeString(header, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

/** Splits a path into ustar's name (100 bytes) and prefix (155 bytes) fields. */
function splitName(path: string): { name: string; prefix: string } {
  if (encoder.encode(path).length <= 100) return { name: path, prefix: "" };
  for (let cut = path.indexOf("/"); cut !== -1; cut = path.indexOf("/", cut + 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) return { name, prefix };
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

/** One 512-byte ustar header. */
export function tarHeader(entry: { name: string; type: "file" | "directory"; mode: number; size: number; mtime?: number }): Uint8Array {
  if (entry.size > MAX_SIZE) throw new Error(`tar: ${entry.name} is larger than ustar allows`);
  const header = new Uint8Array(BLOCK);
  const path = entry.type === "directory" && !entry.name.endsWith("/") ? `${entry.name}/` : entry.name;
  const { name, prefix } = splitName(path);
  writeString(header, 0, 100, name);
  writeOctal(header, 100, 8, entry.mode & 0o7777);
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, entry.type === "file" ? entry.size : 0);
  writeOctal(header, 136, 12, Math.floor(entry.mtime ?? 0));
  header.fill(0x20, 148, 156); // checksum counts as spaces while summing
  header[156] = entry.type === "file" ? 0x30 : 0x35; // '0' or '5'
  writeString(header, 257, 6, "ustar\0");
  writeString(header, 263, 2, "00");
  writeString(header, 265, 32, "root");
  writeString(header, 297, 32, "root");
  writeString(header, 345, 155, prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return header;
}

const padding = (size: number) => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);

/** The entries as one tar stream, ending with the two zero blocks; streamed files must match their size. */
export function tarStream(entries: TarEntry[]): ReadableStream<Uint8Array> {
  async function* generate(): AsyncGenerator<Uint8Array> {
    for (const entry of entries) {
      if (entry.type === "directory") {
        yield tarHeader({ name: entry.name, type: "directory", mode: entry.mode ?? 0o755, size: 0 });
        continue;
      }
      if ("data" in entry) {
        const data = typeof entry.data === "string" ? encoder.encode(entry.data) : entry.data;
        yield tarHeader({ name: entry.name, type: "file", mode: entry.mode ?? 0o644, size: data.length });
        yield data;
        yield padding(data.length);
        continue;
      }
      yield tarHeader({ name: entry.name, type: "file", mode: entry.mode ?? 0o644, size: entry.size });
      let written = 0;
      for await (const chunk of entry.stream()) {
        written += chunk.length;
        if (written > entry.size) throw new Error(`tar: ${entry.name} grew past its declared ${entry.size} bytes`);
        yield chunk;
      }
      if (written !== entry.size) throw new Error(`tar: ${entry.name} has ${written} bytes, not the declared ${entry.size}`);
      yield padding(entry.size);
    }
    yield new Uint8Array(BLOCK * 2);
  }
  const iterator = generate();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const { value, done } = await iterator.next();
        if (done) return controller.close();
        if (value.length > 0) return controller.enqueue(value);
      }
    },
    async cancel() {
      await iterator.return(undefined);
    },
  });
}
