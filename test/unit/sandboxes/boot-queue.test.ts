import { describe, expect, test } from "bun:test";
import { BootQueue } from "../../../src/sandboxes/boot-queue";

describe("BootQueue", () => {
  test("runs at most `limit` at once, a waiting session's start before the pool's, in order", async () => {
    const queue = new BootQueue(2);
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const gates = new Map<string, () => void>();
    const job = (name: string) => async () => {
      running += 1;
      most = Math.max(most, running);
      order.push(name);
      await new Promise<void>((resolve) => gates.set(name, resolve));
      running -= 1;
      return name;
    };
    const results = [
      queue.run("pool", job("pool-1")),
      queue.run("pool", job("pool-2")),
      queue.run("pool", job("pool-3")),
      queue.run("claim", job("claim-1")),
      queue.run("claim", job("claim-2")),
    ];
    await Bun.sleep(1);
    expect(order).toEqual(["pool-1", "pool-2"]);
    expect(queue.queued).toBe(3);
    gates.get("pool-1")!();
    await Bun.sleep(1);
    gates.get("pool-2")!();
    await Bun.sleep(1);
    expect(order).toEqual(["pool-1", "pool-2", "claim-1", "claim-2"]);
    gates.get("claim-1")!();
    await Bun.sleep(1);
    gates.get("claim-2")!();
    await Bun.sleep(1);
    gates.get("pool-3")!();
    expect(await Promise.all(results)).toEqual(["pool-1", "pool-2", "pool-3", "claim-1", "claim-2"]);
    expect(most).toBe(2);
    expect(queue.queued).toBe(0);
  });

  test("a failed start frees its place", async () => {
    const queue = new BootQueue(1);
    await expect(queue.run("claim", async () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    expect(await queue.run("claim", async () => "next")).toBe("next");
  });
});
