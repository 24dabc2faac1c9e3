import { AppError } from "../errors";

/** Variables that hold CodeRunner's own secrets: user code (kernels, shells) never sees them. */
const PRIVATE = ["CODERUNNER_API_KEY", "JUPYTER_TOKEN"];

/** The environment user code starts from: CodeRunner's own, less its secrets. */
export function userEnvironment(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !PRIVATE.includes(name)) result[name] = value;
  }
  return result;
}

/**
 * Refuses an environment no process can have: a name that is empty or holds `=` or NUL, a value that
 * holds NUL, or text with a lone UTF-16 surrogate (no UTF-8 form). Setting it would fail in the new
 * kernel, costing a kernel start and answering 503 with a traceback instead of saying what is wrong.
 */
export function checkEnvironment<T extends Record<string, string> | null | undefined>(env: T): T {
  for (const [name, value] of Object.entries(env ?? {}) as [string, string][]) {
    const problem =
      name === "" ? "is empty" : /[=\0]/.test(name) ? "holds '=' or NUL" : !name.isWellFormed() ? "holds a lone surrogate" : value.includes("\0") ? "has a value holding NUL" : !value.isWellFormed() ? "has a value holding a lone surrogate" : undefined;
    if (problem) throw new AppError("VALIDATION_ERROR", `Invalid body field 'env': the variable ${JSON.stringify(name)} ${problem}.`);
  }
  return env;
}
