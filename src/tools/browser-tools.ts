import { Type } from "@sinclair/typebox";
import { clip, ELEMENT_WAIT_MS, failure, MAX_ELEMENTS, reply, textBlock } from "./render";
import { defineTool, type PageContent, type ToolAnswer } from "./tool";

/** The tools that drive the headless browser: open pages, read them, act on their elements, see them. */

export const createBrowserSession = defineTool({
  name: "create_browser_session",
  title: "Open a browser session",
  description: "Open a new browser session (a fresh page with its own cookies) for web automation.",
  params: Type.Object({
    width: Type.Optional(Type.Integer({ minimum: 16, maximum: 8192, description: "Viewport width in pixels (default 1920)." })),
    height: Type.Optional(Type.Integer({ minimum: 16, maximum: 8192, description: "Viewport height in pixels (default 1080)." })),
  }),
  surfaces: ["frameworks"],
  async run(backend, args) {
    const id = await backend.createBrowserSession({ width: args.width, height: args.height });
    return reply({ session_id: id, message: `Created browser session ${id}` });
  },
});

export const navigateToURL = defineTool({
  name: "navigate_to_url",
  aliases: ["browser_navigate"],
  title: "Open a web page",
  description: "Open a URL in the browser and wait for it to load. Returns the final URL and the page title.",
  params: Type.Object({ url: Type.String({ description: "Absolute URL, including http:// or https://." }) }),
  session: "browser",
  surfaces: ["mcp", "frameworks"],
  annotations: { openWorldHint: true },
  async run(backend, args) {
    const page = await backend.browser(args.session_id).navigate(args.url);
    return reply({ url: page.url, title: page.title, message: `Navigated to ${page.url}` });
  },
});

/** The page as JSON (text and controls) and as a short document: title, URL, text, then one line per control with its selector. */
function pageAnswer(page: PageContent): ToolAnswer {
  const text = page.readable_content.content;
  const controls = page.interactive_elements.slice(0, MAX_ELEMENTS);
  const lines = controls.map((element) => `- [${element.interactive_type}] ${element.text.trim().slice(0, 80)} → ${element.selector}`);
  return {
    json: {
      success: true,
      url: page.url,
      title: page.title,
      content: clip(text),
      length: text.length,
      interactive_elements: controls.map(({ text, selector, interactive_type }) => ({ text, selector, type: interactive_type })),
    },
    content: [textBlock(clip(`# ${page.title}\n${page.url}\n\n${text}\n\n## Interactive elements\n${lines.join("\n")}`))],
    isError: false,
  };
}

export const extractPageContent = defineTool({
  name: "extract_page_content",
  aliases: ["browser_content"],
  title: "Read the page",
  description:
    "Read the current page: its readable text, and its links, buttons and inputs with CSS selectors usable in click_element and fill_input. Give url to open a page first. With a selector, returns the text of the matching elements instead.",
  params: Type.Object({
    selector: Type.Optional(Type.String({ description: "CSS selector to read; omit for the whole page." })),
    url: Type.Optional(Type.String({ description: "A page to open first." })),
  }),
  session: "browser",
  surfaces: ["mcp", "frameworks"],
  annotations: { readOnlyHint: true, openWorldHint: true },
  async run(backend, args) {
    const browser = backend.browser(args.session_id);
    if (!args.selector) return pageAnswer(await browser.content({ url: args.url }));
    if (args.url) await browser.navigate(args.url);
    const elements = await browser.extract(args.selector, ["href"]);
    if (!elements.length) return failure(`No element matches ${args.selector}`);
    const content = elements.map((element) => element.text).join("\n");
    return { ...reply({ content: clip(content), length: content.length, elements: elements.slice(0, MAX_ELEMENTS) }), content: [textBlock(clip(content))] };
  },
});

export const browserSnapshot = defineTool({
  name: "browser_snapshot",
  title: "See the page, compactly",
  description:
    "The current page as a short text tree: one line per heading, text, link, button or field (role, name, state, value), each interactive one with a ref " +
    'to pass as selector "ref=e12" to click_element and fill_input. At most max_tokens (default 3000); pass the returned cursor to read on. ' +
    "query or selector shows only one region. Refs go stale when the page changes: take a new snapshot then.",
  params: Type.Object({
    query: Type.Optional(Type.String({ minLength: 1, description: "Only the parts containing this text (case-insensitive), with what surrounds them." })),
    selector: Type.Optional(Type.String({ minLength: 1, description: "Only this element's part of the page (CSS selector or ref=eN)." })),
    max_tokens: Type.Optional(Type.Integer({ minimum: 50, maximum: 100_000, description: "Cap on the answer, in tokens (characters / 4). Default 3000." })),
    cursor: Type.Optional(Type.String({ description: "The cursor a previous snapshot returned: its next part." })),
  }),
  session: "browser",
  surfaces: ["mcp"],
  annotations: { readOnlyHint: true },
  async run(backend, args) {
    const view = await backend.browser(args.session_id).snapshot({ query: args.query, selector: args.selector, max_tokens: args.max_tokens, cursor: args.cursor });
    const head = view.title === null ? `${view.url} (continued)` : `# ${view.title}\n${view.url}`;
    const more = view.cursor ? `\n\n(lines ${view.lines.from}-${view.lines.to} of ${view.lines.total}; cursor "${view.cursor}" reads on)` : "";
    return { json: { success: true, ...view }, content: [textBlock(`${head}\n\n${view.snapshot}${more}`)], isError: false };
  },
});

const elementWait = Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000, description: `Milliseconds to wait for the element (default ${ELEMENT_WAIT_MS}).` }));

export const clickElement = defineTool({
  name: "click_element",
  aliases: ["browser_click"],
  title: "Click",
  description: 'Click the element matching a CSS selector (e.g. one returned by extract_page_content), or a snapshot ref as "ref=e12".',
  params: Type.Object({ selector: Type.String({ minLength: 1, description: "CSS selector of the element to click." }), timeout: elementWait }),
  session: "browser",
  surfaces: ["mcp", "frameworks"],
  async run(backend, args) {
    const result = (await backend.browser(args.session_id).click(args.selector, args.timeout ?? ELEMENT_WAIT_MS)) as { downloads?: unknown[] } | undefined;
    // A click that downloads says where the files went (the session's downloads/ folder).
    const downloads = result?.downloads;
    if (downloads?.length) return reply({ message: `Clicked ${args.selector}; it downloaded ${downloads.length} file(s)`, downloads });
    return reply({ message: `Clicked ${args.selector}` });
  },
});

export const fillInput = defineTool({
  name: "fill_input",
  aliases: ["browser_fill"],
  title: "Fill an input",
  description: 'Set the value of an input or textarea matching a CSS selector, or a snapshot ref as "ref=e12".',
  params: Type.Object({ selector: Type.String({ minLength: 1, description: "CSS selector of the input." }), value: Type.String({ description: "The text to put in it." }) }),
  session: "browser",
  surfaces: ["mcp", "frameworks"],
  async run(backend, args) {
    await backend.browser(args.session_id).fill(args.selector, args.value, ELEMENT_WAIT_MS);
    return reply({ message: `Filled ${args.selector}` });
  },
});

export const browserExtract = defineTool({
  name: "browser_extract",
  title: "Extract elements",
  description: "The text (and the given attributes) of every element matching a CSS selector.",
  params: Type.Object({
    selector: Type.String({ description: "CSS selector of the elements." }),
    attributes: Type.Optional(Type.Array(Type.String(), { description: "Attributes to read from each, e.g. href." })),
  }),
  session: "browser",
  surfaces: ["mcp"],
  annotations: { readOnlyHint: true },
  async run(backend, args) {
    return reply({ elements: await backend.browser(args.session_id).extract(args.selector, args.attributes) });
  },
});

export const takeScreenshot = defineTool({
  name: "take_screenshot",
  aliases: ["browser_screenshot"],
  title: "Screenshot",
  description: "Take a PNG screenshot of the page.",
  params: Type.Object({ full_page: Type.Optional(Type.Boolean({ description: "Capture the whole page, not just the viewport (default false)." })) }),
  session: "browser",
  surfaces: ["mcp", "frameworks"],
  annotations: { readOnlyHint: true },
  async run(backend, args) {
    const screenshot = await backend.browser(args.session_id).screenshot(args.full_page ?? false);
    return {
      json: { success: true, screenshot_length: screenshot.length, screenshot, media_type: "image/png" },
      content: [{ type: "image", data: screenshot, mimeType: "image/png" }],
      isError: false,
    };
  },
});
