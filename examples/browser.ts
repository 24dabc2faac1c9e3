/**
 * Browser automation — the seed's flow in TypeScript.
 * Run: bun examples/browser.ts            (needs internet for httpbin.org)
 *      EXAMPLE_URL=http://127.0.0.1:8000 bun examples/browser.ts   (any page with a link to /get)
 */
import { CodeRunner } from "coderunner";

const site = process.env.EXAMPLE_URL ?? "https://httpbin.org";

await using runner = new CodeRunner();

// Create browser session
const browser = await runner.browser.createSession();

// Navigate and interact
await browser.navigate(site);
await browser.click("a[href='/get']");
const screenshot = await browser.screenshot();
console.log(`screenshot: ${screenshot.length} base64 characters`);

// Extract data
await browser.navigate(site);
const elements = await browser.extractElements("h1", ["class"]);
console.log(elements); // [{ tagName: "h1", text: "httpbin.org", ... }]

// Readable content with selectors usable in click()/fill()
const content = await browser.extractContent();
console.log(content.title, `${content.readable_content.word_count} words`, `${content.interactive_elements.length} interactive elements`);

await browser.close();
