/**
 * Sessions, files, async tasks and streaming.
 * Run: bun examples/sessions-files-async.ts
 */
import { CodeRunner } from "coderunner";

await using runner = new CodeRunner();

// A session of its own, with environment variables
const sessionId = await runner.startSession({ env: { REGION: "local" } });
console.log("session", sessionId, "active:", await runner.isSessionActive());

// Files: upload data, let Python work on it, download the result
await runner.uploadFile("city,population\nParis,2100000\nLyon,520000\n", "cities.csv");
await runner.execute(`
import csv
rows = list(csv.DictReader(open("cities.csv")))
total = sum(int(r["population"]) for r in rows)
open("summary.txt", "w").write(f"{len(rows)} cities, {total} people")
`);
const summary = await runner.downloadFile("summary.txt");
console.log(summary.text()); // "2 cities, 2620000 people"

// Async: queue a long run, do other things, then collect it
const taskId = await runner.executeAsync("import time, os; time.sleep(1); print('done in', os.environ['REGION'])");
const task = await runner.getTaskResult(taskId, { timeout: 60 });
console.log(task.status, task.serialized_stdout.trim());

// Streaming: output as it is produced
for await (const event of runner.executeStream("import time\nfor i in range(3):\n    print(f'step {i}', flush=True)\n    time.sleep(0.2)")) {
  if (event.type === "stdout") process.stdout.write(`  live: ${event.text}`);
  if (event.type === "result") console.log(`finished: ${event.result.status} in ${event.result.execution_time.toFixed(2)} s`);
}

console.log(await runner.getUsage());
// `await using` closes the session here
