import { describe, expect, test } from "bun:test";
import { SerialQueue } from "../../../src/kernels/serial-queue";

describe("SerialQueue", () => {
  test("runs jobs one at a time in submission order", async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    const job = (name: string, ms: number) => () => {
      log.push(`start ${name}`);
      return Bun.sleep(ms).then(() => {
        log.push(`end ${name}`);
        return name;
      });
    };
    const results = await Promise.all([queue.run(job("a", 20)), queue.run(job("b", 1)), queue.run(job("c", 5))]);
    expect(results).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });

  test("a failing job does not block the next", async () => {
    const queue = new SerialQueue();
    const failed = queue.run(() => Promise.reject(new Error("boom")));
    const next = queue.run(async () => "next");
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe("next");
  });

  test("cancelPending rejects jobs not yet started and lets the running one finish", async () => {
    const queue = new SerialQueue();
    let started = 0;
    const first = queue.run(async () => {
      started++;
      await Bun.sleep(10);
      return "first";
    });
    const second = queue.run(async () => {
      started++;
      return "second";
    });
    expect(queue.length).toBe(2);
    expect(queue.cancelPending(new Error("closed"))).toBe(1);
    await expect(second).rejects.toThrow("closed");
    expect(await first).toBe("first");
    expect(started).toBe(1);
    expect(queue.length).toBe(0);
  });
});
