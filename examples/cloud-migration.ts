/**
 * Cloud migration — one import line. This file is basic.ts with the cloud client:
 *
 *   - import { CodeRunner } from "coderunner";
 *   + import { InstaVM as CodeRunner } from "coderunner/cloud";
 *
 * Run: INSTAVM_API_KEY=... bun examples/cloud-migration.ts
 * (INSTAVM_URL points it at any server speaking the contract, e.g. a CodeRunner started with CODERUNNER_API_KEY.)
 */
import { InstaVM as CodeRunner } from "coderunner/cloud";

await using runner = new CodeRunner({ apiKey: process.env.INSTAVM_API_KEY, baseURL: process.env.INSTAVM_URL }); // Only change needed!

// Everything else works exactly the same
const result = await runner.execute("print('Hello Cloud!')");
console.log(result.stdout);

const bash = await runner.execute("echo 'Hello Bash!'", { language: "bash" });
console.log(bash.stdout);

console.log(await runner.getUsage());
