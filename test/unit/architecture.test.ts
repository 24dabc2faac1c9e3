import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The rooms of `src/` in layers, lowest first. A file may import from its own room or from a room
 * in a lower layer, never from its own layer or above: so no two rooms import each other and no
 * import runs back up. Type-only imports count: they couple the rooms as much as values do.
 * A new room takes its place here; an import that does not fit says which way the code should move.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["(root)"], // config.ts, errors.ts, log.ts, timers.ts, version.ts
  ["contract", "files", "sessions"],
  ["docker", "kernels", "tools"],
  ["browser", "confinement", "mcp", "tasks"],
  ["server"], // `coderunner serve`: the engine's REST API, mounting the features below it
  ["sandboxes"], // the host: one container per session, routing the API into them
  ["e2b"], // the E2B surface, on top of the sandboxes
  ["host"], // host mode, wiring the two above
  ["cli", "client"],
  ["integrations", "npm", "testing"],
  ["(entry)"], // src/cli.ts
];

const SRC = resolve(import.meta.dir, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

function roomOf(path: string): string {
  const parts = relative(SRC, path).split("/");
  if (parts.length > 1) return parts[0]!;
  return parts[0] === "cli.ts" ? "(entry)" : "(root)";
}

/** The relative specifiers a file imports or re-exports, static, dynamic or `typeof import(...)`. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?\bfrom\s*["'](\.[^"']*)["']|import\(\s*["'](\.[^"']*)["']\s*\)/g)) {
    found.push((match[1] ?? match[2])!);
  }
  return found;
}

function target(from: string, specifier: string): string | undefined {
  const path = resolve(dirname(from), specifier);
  if (existsSync(path) && statSync(path).isDirectory()) return join(path, "index.ts");
  if (/\.tsx?$/.test(path)) return path;
  if (existsSync(`${path}.ts`)) return `${path}.ts`;
  if (existsSync(`${path}.tsx`)) return `${path}.tsx`;
  return undefined; // a JSON file, an asset: not a room's code
}

const rank = new Map(LAYERS.flatMap((rooms, layer) => rooms.map((room) => [room, layer] as const)));

const imports = sourceFiles(SRC).flatMap((file) =>
  specifiers(readFileSync(file, "utf8")).flatMap((specifier) => {
    const to = target(file, specifier);
    if (to === undefined || !to.startsWith(`${SRC}/`)) return [];
    return [{ file: relative(SRC, file), specifier, from: roomOf(file), to: roomOf(to) }];
  }),
);

describe("the rooms of src/", () => {
  test("every room has a layer", () => {
    const rooms = new Set(sourceFiles(SRC).map(roomOf));
    expect([...rooms].filter((room) => !rank.has(room)).sort()).toEqual([]);
  });

  test("the scan sees the imports it judges", () => {
    // A guard against a regex that silently matches nothing.
    expect(imports.length).toBeGreaterThan(300);
    expect(imports.some((i) => i.from === "server" && i.to === "kernels")).toBe(true);
  });

  test("no import runs across a layer or back up one", () => {
    const wrong = imports
      .filter((i) => i.from !== i.to && rank.get(i.to)! >= rank.get(i.from)!)
      .map((i) => `${i.file} (${i.from}) imports ${i.specifier} (${i.to})`);
    expect(wrong).toEqual([]);
  });
});
