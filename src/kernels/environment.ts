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
