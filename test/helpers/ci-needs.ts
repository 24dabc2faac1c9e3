/**
 * What the suite's sources need from the machine, read from the sources themselves: the Python modules
 * imported by code strings the tests send to kernels, and the executables the tests spawn. Together
 * with `readNeeds()` (the table in .ci/deps) it lets test/unit/ci-needs.test.ts fail when a test uses
 * something .ci/deps does not install.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { PYTHON_STDLIB_FALLBACK } from "./python-stdlib";

/** One thing a source file uses: a Python module (dotted, as imported) or an executable (as spawned). */
export interface Use {
  kind: "python" | "command";
  name: string;
  /** Path as given to `scanSource` (relative to the repository for `scanTree`). */
  file: string;
  line: number;
}

/** A string literal of a TypeScript source: where it starts (its opening quote) and its cooked value. */
interface Literal {
  start: number;
  value: string;
}

/** Keywords after which a `/` starts a regular expression rather than a division. */
const BEFORE_REGEX = new Set(["return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await"]);
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", 0: "\0" };

/**
 * Splits TypeScript source into its string literals (cooked: escapes decoded; a template's `${…}` parts
 * left out) and `code`: the source, same length, with comments and string contents blanked to spaces
 * (newlines kept), so a pattern run over `code` only ever matches real code.
 */
function lex(source: string): { code: string; literals: Literal[] } {
  const code = source.split("");
  const literals: Literal[] = [];
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (code[k] !== "\n") code[k] = " ";
  };
  // Each open template literal, with the brace depth of its innermost `${…}` expression.
  const templates: { literal: Literal; depth: number }[] = [];
  let i = 0;
  let previous = ""; // the last significant code token's final character (or keyword), for `/`

  /** Reads a string or template body from `i` up to its closing `quote` (or `${`), cooking escapes. */
  const body = (quote: string): { text: string; interpolation: boolean } => {
    let text = "";
    const from = i;
    while (i < source.length) {
      const c = source[i]!;
      if (c === "\\") {
        const next = source[i + 1] ?? "";
        if (next === "x") {
          text += String.fromCharCode(parseInt(source.slice(i + 2, i + 4), 16));
          i += 4;
        } else if (next === "u") {
          const braced = source[i + 2] === "{";
          const hex = braced ? source.slice(i + 3, source.indexOf("}", i)) : source.slice(i + 2, i + 6);
          text += String.fromCodePoint(parseInt(hex, 16));
          i += braced ? hex.length + 4 : 6;
        } else if (next === "\n") {
          i += 2; // a line continuation
        } else {
          text += ESCAPES[next] ?? next;
          i += 2;
        }
        continue;
      }
      if (c === quote) {
        blank(from, i);
        i++;
        return { text, interpolation: false };
      }
      if (quote === "`" && c === "$" && source[i + 1] === "{") {
        blank(from, i);
        i += 2;
        return { text, interpolation: true };
      }
      if (c === "\n" && quote !== "`") break; // an unterminated string: stop at the line's end
      text += c;
      i++;
    }
    blank(from, i);
    return { text, interpolation: false };
  };

  const continueTemplate = (open: { literal: Literal; depth: number }) => {
    const { text, interpolation } = body("`");
    open.literal.value += text;
    if (!interpolation) {
      templates.pop();
      literals.push(open.literal);
    }
  };

  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      blank(i, end < 0 ? source.length : end);
      i = end < 0 ? source.length : end;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      blank(i, end < 0 ? source.length : end + 2);
      i = end < 0 ? source.length : end + 2;
    } else if (c === '"' || c === "'") {
      const start = i++;
      literals.push({ start, value: body(c).text });
      previous = "x";
    } else if (c === "`") {
      const open = { literal: { start: i, value: "" }, depth: 0 };
      templates.push(open);
      i++;
      continueTemplate(open);
      previous = "x";
    } else if (c === "/" && (previous === "" || BEFORE_REGEX.has(previous) || /[(,=:[!&|?{};+\-*%<>~^]/.test(previous))) {
      // A regular expression literal: up to the `/` that is neither escaped nor inside a class.
      let inClass = false;
      i++;
      while (i < source.length && source[i] !== "\n") {
        const r = source[i]!;
        if (r === "\\") i++;
        else if (r === "[") inClass = true;
        else if (r === "]") inClass = false;
        else if (r === "/" && !inClass) break;
        i++;
      }
      i++;
      previous = "x";
    } else if (c === "{" && templates.length) {
      templates.at(-1)!.depth++;
      previous = c;
      i++;
    } else if (c === "}" && templates.length) {
      const open = templates.at(-1)!;
      i++;
      if (open.depth-- === 0) {
        open.depth = 0;
        continueTemplate(open);
        previous = "x";
      } else previous = c;
    } else if (/[A-Za-z_$]/.test(c)) {
      const word = /^[\w$]+/.exec(source.slice(i, i + 64))![0];
      previous = word;
      i += word.length;
    } else {
      if (!/\s/.test(c)) previous = c;
      i++;
    }
  }
  return { code: code.join(""), literals };
}

const NAME = String.raw`[A-Za-z_]\w*`;
const DOTTED = String.raw`${NAME}(?:\.${NAME})*`;
const END = String.raw`\s*(?:#.*)?$`;
/** `import a.b as c, d`: the whole statement, so prose such as "import sends changes" is not one. */
const IMPORT = new RegExp(String.raw`^import\s+(${DOTTED}(?:\s+as\s+${NAME})?(?:\s*,\s*${DOTTED}(?:\s+as\s+${NAME})?)*)${END}`);
/** `from a.b import c, d as e` / `(…` / `*`; relative imports (`from . import x`) are the program's own. */
const FROM = new RegExp(String.raw`^from\s+(${DOTTED})\s+import\s+(?:\*|\(|${NAME}(?:\s+as\s+${NAME})?(?:\s*,\s*${NAME}(?:\s+as\s+${NAME})?)*\s*,?)${END}`);
/** A backend named by module, as in `matplotlib.use('module://matplotlib_inline.backend_inline')`. */
const MODULE_URL = new RegExp(String.raw`module://(${DOTTED})`, "g");

/**
 * The Python modules a piece of Python code imports, dotted as written, in order.
 *
 * @example
 * pythonImports("import os, matplotlib.pyplot as plt\nfrom IPython.display import Image"); // ["os", "matplotlib.pyplot", "IPython.display"]
 */
export function pythonImports(code: string): string[] {
  const modules: string[] = [];
  for (const statement of code.split(/[\n;]/)) {
    const text = statement.trim();
    const imported = IMPORT.exec(text);
    if (imported) modules.push(...imported[1]!.split(",").map((part) => part.trim().split(/\s+/)[0]!));
    const from = FROM.exec(text);
    if (from) modules.push(from[1]!);
  }
  for (const match of code.matchAll(MODULE_URL)) modules.push(match[1]!);
  return modules;
}

/** The package a dotted module belongs to: `matplotlib.pyplot` → `matplotlib`. */
export const topLevel = (module: string): string => module.split(".")[0]!;

/**
 * What one TypeScript source uses: Python modules imported in its string literals (TypeScript's own
 * `import` statements and comments are not strings, so they never count), except modules the file
 * writes itself (a string naming `pkg/__init__.py` or `mod.py` makes `pkg`/`mod` local); and
 * executables it spawns: the first argv element of `Bun.spawn`/`Bun.spawnSync`/`spawn`/`spawnSync`
 * when that is a string literal, and `Bun.which("…")`.
 *
 * @example
 * scanSource(`await run("import numpy as np")`); // [{ kind: "python", name: "numpy", file: "<source>", line: 1 }]
 */
export function scanSource(source: string, file = "<source>"): Use[] {
  const { code, literals } = lex(source);
  const lineAt = (offset: number) => source.slice(0, offset).split("\n").length;
  const local = new Set<string>();
  for (const { value } of literals) {
    if (!/^[\w./-]+\.py$/.test(value)) continue;
    for (const part of value.replace(/\.py$/, "").split("/")) if (/^\w+$/.test(part)) local.add(part);
  }
  const uses: Use[] = [];
  for (const { start, value } of literals) {
    for (const name of pythonImports(value)) {
      if (!local.has(topLevel(name))) uses.push({ kind: "python", name, file, line: lineAt(start) });
    }
  }
  const byStart = new Map(literals.map((literal) => [literal.start, literal.value]));
  const spawned = /\b(?:Bun\.spawn(?:Sync)?\(\s*\[|(?<![.\w])spawn(?:Sync)?\(\s*\[?|Bun\.which\()\s*(?=["'`])/g;
  for (const match of code.matchAll(spawned)) {
    const at = match.index + match[0].length;
    const name = byStart.get(at);
    if (name) uses.push({ kind: "command", name, file, line: lineAt(at) });
  }
  return uses;
}

/** `scanSource` over every `.ts` file under `dirs` (relative to `root`), paths reported relative to `root`. */
export function scanTree(root: string, dirs: string[]): Use[] {
  const uses: Use[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== "node_modules") walk(path);
      else if (entry.isFile() && entry.name.endsWith(".ts")) uses.push(...scanSource(readFileSync(path, "utf8"), relative(root, path)));
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  return uses;
}

/**
 * The standard library's top-level module names: `sys.stdlib_module_names` of /usr/bin/python3 (the
 * interpreter the suite runs), or Debian 12's list when that interpreter is absent.
 */
export function pythonStdlib(): Set<string> {
  const python = Bun.spawnSync(["/usr/bin/python3", "-c", "import sys; print('\\n'.join(sorted(sys.stdlib_module_names)))"], {
    stdout: "pipe",
    stderr: "ignore",
  });
  const names = python.success ? python.stdout.toString().split("\n").filter(Boolean) : PYTHON_STDLIB_FALLBACK;
  return new Set(names);
}

/** The table of .ci/deps (`bash .ci/deps --list`): each Debian package with the probe that shows it installed. */
export interface Needs {
  /** Top-level Python modules with a `py:` probe. */
  python: Set<string>;
  /** Commands with a `cmd:` probe. */
  commands: Set<string>;
  /** Every `package probe` line. */
  lines: { pkg: string; probe: string }[];
}

/** Reads .ci/deps's table through its `--list` mode, so the test sees exactly what the script installs. */
export function readNeeds(root: string): Needs {
  const listed = Bun.spawnSync(["bash", join(root, ".ci/deps"), "--list"], { stdout: "pipe", stderr: "pipe" });
  if (!listed.success) throw new Error(`bash .ci/deps --list failed: ${listed.stderr.toString()}`);
  const lines = listed.stdout
    .toString()
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => {
      const [pkg = "", probe = ""] = line.trim().split(/\s+/);
      return { pkg, probe };
    });
  const probed = (prefix: string) => new Set(lines.filter(({ probe }) => probe.startsWith(prefix)).map(({ probe }) => probe.slice(prefix.length)));
  return { python: new Set([...probed("py:")].map(topLevel)), commands: probed("cmd:"), lines };
}
