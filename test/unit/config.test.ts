import { describe, expect, test } from "bun:test";
import { ConfigError, isLoopback, loadConfig } from "../../src/config";

describe("config", () => {
  test("defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ host: "127.0.0.1", port: 8223, kernelPoolSize: 2, python: "/usr/bin/python3", outputLimitBytes: 1024 * 1024 });
    expect(config.apiKey).toBeUndefined();
  });

  test("reads environment variables, and a real 0 stays 0", () => {
    const config = loadConfig({ CODERUNNER_PORT: "0", CODERUNNER_KERNEL_POOL_SIZE: "0", CODERUNNER_SESSION_IDLE_SECONDS: "1.5" });
    expect(config.port).toBe(0);
    expect(config.kernelPoolSize).toBe(0);
    expect(config.sessionIdleSeconds).toBe(1.5);
  });

  test.each([
    [{ CODERUNNER_PORT: "eighty" }, /CODERUNNER_PORT.*not a number/],
    [{ CODERUNNER_PORT: "80.5" }, /not an integer/],
    [{ CODERUNNER_KERNEL_POOL_SIZE: "-1" }, /at least 0/],
    [{ CODERUNNER_LOG_LEVEL: "loud" }, /CODERUNNER_LOG_LEVEL/],
    [{ CODERUNNER_HOST: "0.0.0.0" }, /Refusing to listen on 0.0.0.0 without an API key/],
  ])("rejects %p", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  test("a non-loopback address is allowed with an API key", () => {
    expect(loadConfig({ CODERUNNER_HOST: "0.0.0.0", CODERUNNER_API_KEY: "k" }).host).toBe("0.0.0.0");
  });

  test("loopback detection", () => {
    expect(isLoopback("127.0.0.1")).toBe(true);
    expect(isLoopback("127.1.2.3")).toBe(true);
    expect(isLoopback("::1")).toBe(true);
    expect(isLoopback("localhost")).toBe(true);
    expect(isLoopback("0.0.0.0")).toBe(false);
    expect(isLoopback("192.168.1.2")).toBe(false);
  });
});
