import { describe, expect, test } from "bun:test";
import { OutputCollector, type OutputEvent, stripAnsi } from "../../../src/kernels/output";

describe("OutputCollector", () => {
  test("keeps stdout, stderr and results, and forwards each as an event", () => {
    const events: OutputEvent[] = [];
    const collector = new OutputCollector(1024, (event) => events.push(event));
    collector.stdout("a");
    collector.stderr("\x1b[31mred\x1b[0m");
    collector.result({ "text/plain": "1" });
    collector.stdout("b");
    expect(collector.stdoutText).toBe("ab");
    expect(collector.stderrText).toBe("red");
    expect(collector.results).toEqual([{ "text/plain": "1" }]);
    expect(events.map((event) => event.type)).toEqual(["stdout", "stderr", "result", "stdout"]);
    expect(collector.truncated).toBe(false);
  });

  test("drops output past the cap, flags it, and never splits a UTF-8 character", () => {
    const collector = new OutputCollector(10);
    collector.stdout("12345678é9"); // é is two bytes: 8 + 2 = 10 fits, the 9 does not
    expect(collector.stdoutText).toBe("12345678é");
    expect(collector.truncated).toBe(true);
    collector.stdout("more");
    expect(collector.stdoutText).toBe("12345678é");
    const split = new OutputCollector(9);
    split.stdout("12345678é");
    expect(split.stdoutText).toBe("12345678");
  });

  test("a rich result larger than the room left is dropped whole", () => {
    const collector = new OutputCollector(16);
    collector.result({ "image/png": "x".repeat(100) });
    expect(collector.results).toEqual([]);
    expect(collector.truncated).toBe(true);
  });

  test("a notice is kept past the cap, forwarded, and does not count as output", () => {
    const events: OutputEvent[] = [];
    const collector = new OutputCollector(4, (event) => events.push(event));
    collector.stderr("12345");
    collector.notice("\nExecution timed out.\n");
    expect(collector.stderrText).toBe("1234\nExecution timed out.\n");
    expect(collector.size).toBe(4);
    expect(events.at(-1)).toEqual({ type: "stderr", text: "\nExecution timed out.\n" });
    const roomy = new OutputCollector(100);
    roomy.notice("said");
    roomy.stdout("kept");
    expect([roomy.stdoutText, roomy.truncated]).toEqual(["kept", false]);
  });

  test("errors are stripped of ANSI codes", () => {
    const collector = new OutputCollector(100);
    collector.fail({ ename: "E", evalue: "\x1b[1mv\x1b[0m", traceback: ["\x1b[0;31mline\x1b[0m"] });
    expect(collector.error).toEqual({ ename: "E", evalue: "v", traceback: ["line"] });
  });

  test("stripAnsi handles colour, cursor and OSC sequences", () => {
    expect(stripAnsi("\x1b[0;32mok\x1b[0m \x1b[2K\x1b]0;title\x07done")).toBe("ok done");
  });
});
