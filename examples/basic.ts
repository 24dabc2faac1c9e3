/**
 * Basic code execution — zero configuration: no API key, no setup.
 * Run: bun examples/basic.ts   (starts the local sandbox on first use if nothing answers on :8223)
 */
import { CodeRunner } from "coderunner";

await using runner = new CodeRunner(); // finds or starts the local sandbox on first use

// Execute Python
const result = await runner.execute("print('Hello Local!')");
console.log(result.stdout); // "Hello Local!"

// Execute bash
const bash = await runner.execute("echo 'Hello Bash!'", { language: "bash" });
console.log(bash.stdout); // "Hello Bash!"

// State persists in the session: variables, imports, the shell's cwd
await runner.execute("import math\nradius = 2");
const area = await runner.execute("print(round(math.pi * radius ** 2, 2))");
console.log(`area = ${area.stdout.trim()}`); // 12.57

// A user exception is a result, not a thrown error
const failed = await runner.execute("1 / 0");
console.log(failed.status, failed.error?.ename); // "error ZeroDivisionError"
