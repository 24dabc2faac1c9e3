import { describe, expect, test } from "bun:test";
import { silentLogger } from "../../../src/log";
import type { SandboxHandle } from "../../../src/sandboxes/backend";
import { WarmPool } from "../../../src/sandboxes/warm-pool";

import { until } from "../../helpers/poll";

const handle = (name: string) => ({ id: name, name }) as SandboxHandle;

function pool(size: number, launch: () => Promise<SandboxHandle>) {
  const discarded: string[] = [];
  const warm = new WarmPool({ size, launch, discard: async (sandbox) => void discarded.push(sandbox.name), log: silentLogger });
  return { warm, discarded };
}

describe("WarmPool", () => {
  test("fills to its size side by side, hands one out at once and starts its replacement", async () => {
    let n = 0;
    let concurrent = 0;
    let most = 0;
    const { warm } = pool(3, async () => {
      concurrent += 1;
      most = Math.max(most, concurrent);
      await Bun.sleep(20);
      concurrent -= 1;
      return handle(`s${++n}`);
    });
    expect(warm.take()).toBeUndefined();
    warm.start();
    await warm.settled();
    expect(most).toBe(3);
    expect(warm.stats()).toEqual({ size: 3, ready: 3, starting: 0 });
    expect(warm.take()!.name).toBe("s1");
    expect(warm.stats().starting).toBe(1);
    await warm.settled();
    expect(warm.stats().ready).toBe(3);
    await warm.stop();
  });

  test("a failed start is retried later, not in a tight loop", async () => {
    let attempts = 0;
    const { warm } = pool(1, async () => {
      attempts += 1;
      throw new Error("no engine");
    });
    warm.start();
    await warm.settled();
    await Bun.sleep(200);
    expect(attempts).toBe(1);
    await warm.stop();
  });

  test("adopts what a previous host left, up to its size; stop removes all it holds, those still starting too", async () => {
    let release!: () => void;
    const { warm, discarded } = pool(2, () => new Promise((resolve) => (release = () => resolve(handle("late")))));
    expect(warm.adopt(handle("old-1"))).toBe(true);
    expect(warm.adopt(handle("old-2"))).toBe(true);
    expect(warm.adopt(handle("old-3"))).toBe(false);
    warm.start();
    warm.take();
    const stopping = warm.stop();
    release();
    await stopping;
    expect(discarded.sort()).toEqual(["late", "old-2"]);
  });
});

describe("WarmPool.next", () => {
  test("a caller waits for a sandbox being started rather than starting its own; one per start; then the pool refills", async () => {
    let n = 0;
    const gates: (() => void)[] = [];
    const { warm } = pool(1, () => new Promise((resolve) => gates.push(() => resolve(handle(`s${++n}`)))));
    warm.start();
    const first = warm.next();
    expect(await Promise.race([warm.next(), Bun.sleep(10).then(() => "waited")])).toBeUndefined();
    gates.shift()!();
    expect((await first)!.name).toBe("s1");
    await until("the refill to start", () => gates.length === 1);
    expect(warm.stats()).toEqual({ size: 1, ready: 0, starting: 1 });
    gates.shift()!();
    await warm.settled();
    expect(warm.stats().ready).toBe(1);
    await warm.stop();
  });

  test("a failed start answers its waiter with nothing, so it starts its own", async () => {
    const { warm } = pool(1, async () => {
      throw new Error("no engine");
    });
    warm.start();
    expect(await warm.next()).toBeUndefined();
    await warm.stop();
  });
});
