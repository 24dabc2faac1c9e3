import { describe, expect, test } from "bun:test";
import { KernelPool } from "../../../src/kernels/kernel-pool";
import type { PythonKernel } from "../../../src/kernels/python-kernel";
import { silentLogger } from "../../../src/log";

function fakeFactory(options: { failFirst?: number; startMs?: number } = {}) {
  let started = 0;
  let failures = options.failFirst ?? 0;
  const kernels: { id: number; usable: boolean; shutdowns: number; shutdown(): Promise<void> }[] = [];
  return {
    kernels,
    get started() {
      return started;
    },
    async start() {
      started++;
      if (options.startMs) await Bun.sleep(options.startMs);
      if (failures > 0) {
        failures--;
        throw new Error("no kernel today");
      }
      const kernel = { id: started, usable: true, shutdowns: 0, async shutdown() { this.shutdowns++; } };
      kernels.push(kernel);
      return kernel as unknown as PythonKernel;
    },
  };
}

describe("KernelPool", () => {
  test("keeps `size` kernels warm and hands them out, then refills", async () => {
    const factory = fakeFactory();
    const pool = new KernelPool({ factory, size: 2, log: silentLogger, refillDelayMs: 0 });
    pool.start();
    await pool.warm();
    expect(pool.available).toBe(2);
    const kernel = await pool.acquire();
    expect(kernel as unknown).toBe(factory.kernels[0]);
    await pool.warm();
    expect(pool.available).toBe(2);
    expect(factory.started).toBe(3);
    await pool.stop();
    expect(factory.kernels.slice(1).every((k) => k.shutdowns === 1)).toBe(true);
    expect(factory.kernels[0]!.shutdowns).toBe(0); // handed out: its session owns it
  });

  test("with an empty pool, acquire starts a kernel on demand", async () => {
    const factory = fakeFactory();
    const pool = new KernelPool({ factory, size: 0, log: silentLogger });
    pool.start();
    const kernel = await pool.acquire();
    expect(kernel).toBeDefined();
    expect(factory.started).toBe(1);
    await pool.stop();
  });

  test("a caller's own start is tried again when it fails, up to three times in all", async () => {
    const factory = fakeFactory({ failFirst: 2 });
    const pool = new KernelPool({ factory, size: 0, log: silentLogger, retryDelayMs: 1 });
    pool.start();
    expect(await pool.acquire()).toBe(factory.kernels[0] as unknown as PythonKernel);
    expect(factory.started).toBe(3);
    const failing = fakeFactory({ failFirst: 5 });
    const stubborn = new KernelPool({ factory: failing, size: 0, log: silentLogger, retryDelayMs: 1 });
    stubborn.start();
    await expect(stubborn.acquire()).rejects.toThrow("no kernel today");
    expect(failing.started).toBe(3);
    await pool.stop();
    await stubborn.stop();
  });

  test("a kernel that died while idle is skipped and shut down", async () => {
    const factory = fakeFactory();
    const pool = new KernelPool({ factory, size: 2, log: silentLogger, refillDelayMs: 0 });
    pool.start();
    await pool.warm();
    factory.kernels[0]!.usable = false;
    const kernel = await pool.acquire();
    expect(kernel as unknown).toBe(factory.kernels[1]);
    expect(factory.kernels[0]!.shutdowns).toBe(1);
    await pool.stop();
  });

  test("failures to start are retried with backoff, and the pool still fills", async () => {
    const factory = fakeFactory({ failFirst: 1 });
    const pool = new KernelPool({ factory, size: 1, log: silentLogger });
    pool.start();
    await pool.warm();
    expect(pool.available).toBe(1);
    expect(factory.started).toBe(2);
    await pool.stop();
  });

  test("refill waits a moment after a hand-out so the new session's first runs are not slowed", async () => {
    const factory = fakeFactory();
    const pool = new KernelPool({ factory, size: 1, log: silentLogger, refillDelayMs: 50 });
    pool.start();
    await pool.warm();
    await pool.acquire();
    expect(factory.started).toBe(1);
    await pool.warm();
    expect(factory.started).toBe(2);
    expect(pool.available).toBe(1);
    await pool.stop();
  });

  test("kernels are started one at a time", async () => {
    let concurrent = 0;
    let most = 0;
    const factory = {
      async start() {
        most = Math.max(most, ++concurrent);
        await Bun.sleep(10);
        concurrent--;
        return { usable: true, async shutdown() {} } as unknown as PythonKernel;
      },
    };
    const pool = new KernelPool({ factory, size: 3, log: silentLogger });
    pool.start();
    await pool.warm();
    expect(pool.available).toBe(3);
    expect(most).toBe(1);
    await pool.stop();
  });

  test("acquire waits for the kernel already starting instead of starting a second one", async () => {
    const factory = fakeFactory({ startMs: 30 });
    const pool = new KernelPool({ factory, size: 1, log: silentLogger, refillDelayMs: 10_000 });
    pool.start();
    expect(pool.available).toBe(0);
    const kernel = await pool.acquire();
    expect(kernel as unknown).toBe(factory.kernels[0]);
    expect(factory.started).toBe(1);
    await pool.stop();
  });

  test("callers beyond the kernels being started get kernels of their own", async () => {
    const factory = fakeFactory({ startMs: 30 });
    const pool = new KernelPool({ factory, size: 1, log: silentLogger, refillDelayMs: 10_000 });
    pool.start();
    const kernels = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    expect(new Set(kernels).size).toBe(3);
    expect(factory.started).toBe(3);
    await pool.stop();
  });
});
