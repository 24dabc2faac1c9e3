import { describe, expect, test } from "bun:test";
import { Executor, route } from "../../../src/kernels/executor";

describe("route", () => {
  test("python by default; bash, shell and sh go to the shell", () => {
    expect(route("print(1)")).toEqual({ engine: "python", code: "print(1)" });
    for (const language of ["bash", "shell", "sh"] as const) expect(route("ls", language)).toEqual({ engine: "shell", code: "ls" });
  });

  test("a %%bash cell goes to the shell without its magic line", () => {
    expect(route("%%bash\necho hi\npwd")).toEqual({ engine: "shell", code: "echo hi\npwd" });
    expect(route("\n  %%bash --out x\necho hi")).toEqual({ engine: "shell", code: "echo hi" });
    expect(route("x = '%%bash'")).toEqual({ engine: "python", code: "x = '%%bash'" });
    expect(route("!ls")).toEqual({ engine: "python", code: "!ls" });
  });
});

describe("Executor.timeoutSeconds", () => {
  const executor = new Executor({ sessions: {} as never, defaultTimeoutSeconds: 30, maxTimeoutSeconds: 100, outputLimitBytes: 1024 });
  test("default, explicit, and bounds", () => {
    expect(executor.timeoutSeconds(undefined)).toBe(30);
    expect(executor.timeoutSeconds(0.5)).toBe(0.5);
    expect(() => executor.timeoutSeconds(0)).toThrow("positive");
    expect(() => executor.timeoutSeconds(-3)).toThrow("positive");
    expect(() => executor.timeoutSeconds(Number.NaN)).toThrow("positive");
    expect(() => executor.timeoutSeconds(101)).toThrow("at most 100");
  });
});
