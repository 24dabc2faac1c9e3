/**
 * Code that runs inside the page. Each function here is serialised with `Function.prototype.toString`
 * and evaluated by Chromium, so it may use only its parameters and browser globals: no imports and no
 * module-level names (the bundler renames those). Shared helpers travel as the `helpers` object that
 * `pageFunction` builds next to the main function.
 */

/** Helpers every page function receives as its first parameter. */
export interface PageHelpers {
  uniqueSelector(element: Element): string | null;
  isVisible(element: Element): boolean;
  normalize(text: string | null | undefined): string;
}

/**
 * A CSS selector that matches `element` and nothing else in its document: `#id` when the id is
 * unique, `tag[name=...]` for a uniquely named form field, else a `>` path with `:nth-of-type` from
 * the nearest uniquely identified ancestor. Verified with `querySelectorAll(...).length === 1`;
 * null when the element is outside the document (shadow roots, detached nodes).
 */
function uniqueSelector(element: Element): string | null {
  const doc = element.ownerDocument;
  if (!doc || !element.isConnected || element.getRootNode() !== doc) return null;
  const unique = (selector: string) => {
    try {
      const found = doc.querySelectorAll(selector);
      return found.length === 1 && found[0] === element;
    } catch {
      return false;
    }
  };
  const idSelector = (node: Element) => (node.id ? `#${CSS.escape(node.id)}` : null);
  const own = idSelector(element);
  if (own && unique(own)) return own;
  const tag = CSS.escape(element.localName);
  const name = element.getAttribute("name");
  if (name && /^(input|select|textarea|button|form)$/.test(element.localName)) {
    const named = `${tag}[name="${CSS.escape(name)}"]`;
    if (unique(named)) return named;
  }
  const parts: string[] = [];
  let node: Element | null = element;
  while (node && node !== doc.documentElement) {
    const anchor = node !== element ? idSelector(node) : null;
    if (anchor && unique(anchor)) {
      parts.unshift(anchor);
      break;
    }
    let part = CSS.escape(node.localName);
    const parent: Element | null = node.parentElement;
    if (parent) {
      const sameTag = Array.from(parent.children).filter((child) => child.localName === node!.localName);
      if (sameTag.length > 1) part += `:nth-of-type(${sameTag.indexOf(node) + 1})`;
    }
    parts.unshift(part);
    const candidate = parts.join(" > ");
    if (unique(candidate)) return candidate;
    node = parent;
  }
  if (node === doc.documentElement) parts.unshift("html");
  const full = parts.join(" > ");
  return unique(full) ? full : null;
}

/** Whether a user could see the element: rendered, with a size, not hidden by CSS. */
function isVisible(element: Element): boolean {
  const rect = element.getBoundingClientRect();
  if (rect.width <= 0 || rect.height <= 0) return false;
  const style = getComputedStyle(element);
  return style.visibility !== "hidden" && style.visibility !== "collapse" && style.display !== "none" && Number(style.opacity) !== 0;
}

/** Whitespace collapsed to single spaces, trimmed. */
function normalize(text: string | null | undefined): string {
  return (text ?? "").replace(/\s+/g, " ").trim();
}

/**
 * Turns `main(helpers, ...args)` into a function Playwright can send to the page, with the helpers
 * (and optional extra source, such as Readability's) defined beside it.
 */
export function pageFunction<Args extends unknown[], R>(main: (helpers: PageHelpers, ...args: Args) => R, prelude = ""): (...args: Args) => R {
  const body = `${prelude}
const helpers = { uniqueSelector: ${uniqueSelector}, isVisible: ${isVisible}, normalize: ${normalize} };
return (${main}).apply(this, [helpers, ...arguments]);`;
  return new Function(body) as (...args: Args) => R;
}

/** One element as `extract` reports it. */
export type ExtractedElement = { tagName: string; text: string; selector: string | null } & Record<string, string | null>;

/** For `locator.evaluateAll`: tag, text, unique selector and the requested attributes of each element. */
export const extractElements = pageFunction(
  (helpers: PageHelpers, elements: Element[], options: { attributes: string[]; limit: number }): ExtractedElement[] =>
    elements.slice(0, options.limit).map((element) => {
      const result: Record<string, string | null> = {};
      for (const attribute of options.attributes) {
        const property = (element as unknown as Record<string, unknown>)[attribute];
        const value = typeof property === "string" || typeof property === "number" || typeof property === "boolean" ? String(property) : element.getAttribute(attribute);
        result[attribute] = value;
      }
      return {
        ...result,
        tagName: element.localName,
        text: helpers.normalize((element as HTMLElement).innerText ?? element.textContent),
        selector: helpers.uniqueSelector(element),
      } as ExtractedElement;
    }),
);

export interface ContentOptions {
  includeInteractive: boolean;
  includeAnchors: boolean;
  maxAnchors: number;
  maxInteractive: number;
}

export interface InteractiveElement {
  text: string;
  selector: string;
  interactive_type: string;
  tag: string;
  href?: string;
  input_type?: string;
  name?: string;
  placeholder?: string;
  disabled?: boolean;
}

export interface ContentAnchor {
  text: string;
  selector: string;
  length: number;
  tag: string;
}

export interface PageContent {
  url: string;
  title: string;
  readable_content: {
    title: string;
    byline: string | null;
    content: string;
    excerpt: string | null;
    site_name: string | null;
    lang: string | null;
    word_count: number;
    length: number;
    is_article: boolean;
  };
  interactive_elements: InteractiveElement[];
  content_anchors: ContentAnchor[];
}

/**
 * The page as an agent wants it, computed on the live DOM: Readability's article (run on a clone of
 * `document`, since it rewrites what it reads) rendered as plain text with paragraph breaks; the
 * visible interactive elements with unique selectors; and text anchors from the article mapped to
 * unique selectors. Needs `READABILITY_SOURCE` as prelude.
 */
export function contentScript(readabilitySource: string) {
  return pageFunction((helpers: PageHelpers, options: ContentOptions): PageContent => {
    const BLOCK = /^(p|div|section|article|header|footer|main|aside|nav|h[1-6]|ul|ol|li|pre|blockquote|table|tr|figure|figcaption|dl|dt|dd|hr|br|address|details|summary)$/;
    const NOISE = /(^|[\s_-])(nav|navbar|menu|header|footer|sidebar|aside|ads?|advert\w*|sponsor\w*|promo\w*|banner|cookie\w*|consent|popup|modal|social|share|sharing|related|recommend\w*|newsletter|subscribe|comments?)($|[\s_-])/i;

    /** Plain text of article HTML: one blank line between blocks, "- " before list items, "#" before headings. */
    const toText = (html: string): string => {
      const doc = document.implementation.createHTMLDocument("");
      doc.body.innerHTML = html;
      const blocks: string[] = [];
      let line = "";
      const flush = () => {
        const text = line.replace(/[ \t\f\v\r\n]+/g, " ").trim();
        if (text) blocks.push(text);
        line = "";
      };
      const walk = (node: Node) => {
        if (node.nodeType === Node.TEXT_NODE) {
          line += node.textContent;
          return;
        }
        if (node.nodeType !== Node.ELEMENT_NODE) return;
        const element = node as Element;
        const tag = element.localName;
        if (tag === "script" || tag === "style" || tag === "noscript" || tag === "template") return;
        if (tag === "br") {
          flush();
          return;
        }
        if (tag === "pre") {
          flush();
          const text = element.textContent ?? "";
          if (text.trim()) blocks.push(text.replace(/\s+$/, ""));
          return;
        }
        const block = BLOCK.test(tag);
        if (block) flush();
        if (/^h[1-6]$/.test(tag)) line += `${"#".repeat(Number(tag[1]))} `;
        if (tag === "li") line += "- ";
        for (const child of Array.from(element.childNodes)) walk(child);
        if (block) flush();
        else if (tag === "td" || tag === "th") line += " ";
      };
      walk(doc.body);
      flush();
      return blocks.join("\n\n");
    };

    // Readability: the prelude declared the function in this scope.
    let article: { title?: string | null; byline?: string | null; content?: string | null; excerpt?: string | null; siteName?: string | null; lang?: string | null } | null = null;
    try {
      const clone = document.cloneNode(true) as Document;
      // @ts-expect-error Readability is declared by the prelude.
      article = new Readability(clone, { charThreshold: 200 }).parse();
    } catch {
      article = null;
    }
    const isArticle = !!(article && article.content && helpers.normalize(article.content.replace(/<[^>]+>/g, " ")));
    const text = isArticle ? toText(article!.content!) : toText(document.body ? document.body.innerHTML : "");
    const words = text.split(/\s+/).filter((word) => /[\p{L}\p{N}]/u.test(word)).length;
    const readable = {
      title: helpers.normalize(article?.title) || document.title,
      byline: article?.byline ? helpers.normalize(article.byline) : null,
      content: text,
      excerpt: article?.excerpt ? helpers.normalize(article.excerpt) : null,
      site_name: article?.siteName ?? null,
      lang: article?.lang ?? (document.documentElement.lang || null),
      word_count: words,
      length: text.length,
      is_article: isArticle,
    };

    const inNoise = (element: Element): boolean => {
      for (let node: Element | null = element; node && node !== document.body; node = node.parentElement) {
        if (/^(nav|aside|footer|header)$/.test(node.localName) && node.closest("article, main") === null) return true;
        const role = node.getAttribute("role");
        if (role && /^(navigation|banner|contentinfo|complementary|search|dialog|alert)$/.test(role)) return true;
        const label = `${node.id} ${typeof node.className === "string" ? node.className : ""}`;
        if (NOISE.test(label)) return true;
        if (node.getAttribute("aria-hidden") === "true") return true;
      }
      return false;
    };

    const interactive: InteractiveElement[] = [];
    if (options.includeInteractive) {
      const query = "a[href], button, input, textarea, select, summary, [role=button], [role=link], [role=checkbox], [role=radio], [role=tab], [role=menuitem], [role=switch], [role=textbox], [role=combobox], [contenteditable=''], [contenteditable=true], [onclick]";
      for (const element of Array.from(document.querySelectorAll(query))) {
        if (interactive.length >= options.maxInteractive) break;
        const input = element as HTMLInputElement;
        if (element.localName === "input" && input.type === "hidden") continue;
        if (!helpers.isVisible(element)) continue;
        const selector = helpers.uniqueSelector(element);
        if (!selector) continue;
        const tag = element.localName;
        const role = element.getAttribute("role");
        let kind: string;
        if (tag === "a") kind = "link";
        else if (tag === "button" || tag === "summary") kind = "button";
        else if (tag === "input") kind = ["submit", "button", "reset", "image"].includes(input.type) ? "button" : ["checkbox", "radio"].includes(input.type) ? input.type : "input";
        else if (tag === "textarea") kind = "textarea";
        else if (tag === "select") kind = "select";
        else if (role) kind = role === "textbox" || role === "combobox" ? "input" : role;
        else if (element.getAttribute("contenteditable") !== null) kind = "input";
        else kind = "clickable";
        const label =
          helpers.normalize((element as HTMLElement).innerText) ||
          helpers.normalize(element.getAttribute("aria-label")) ||
          helpers.normalize(input.value !== undefined && ["submit", "button", "reset"].includes(input.type) ? input.value : "") ||
          helpers.normalize(element.getAttribute("placeholder")) ||
          helpers.normalize(element.getAttribute("title")) ||
          helpers.normalize(element.getAttribute("alt")) ||
          helpers.normalize(element.getAttribute("name"));
        const item: InteractiveElement = { text: label.slice(0, 200), selector, interactive_type: kind, tag };
        if (tag === "a") item.href = (element as HTMLAnchorElement).href;
        if (tag === "input") item.input_type = input.type;
        const name = element.getAttribute("name");
        if (name) item.name = name;
        const placeholder = element.getAttribute("placeholder");
        if (placeholder) item.placeholder = placeholder;
        if ((element as HTMLButtonElement).disabled) item.disabled = true;
        interactive.push(item);
      }
    }

    const anchors: ContentAnchor[] = [];
    if (options.includeAnchors && options.maxAnchors > 0) {
      const haystack = helpers.normalize(text).toLowerCase();
      const seen = new Set<string>();
      for (const element of Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6, p, li, blockquote, pre, figcaption, td, dd, dt"))) {
        if (anchors.length >= options.maxAnchors) break;
        const full = helpers.normalize((element as HTMLElement).innerText);
        const heading = /^h[1-6]$/.test(element.localName);
        if (full.length < (heading ? 2 : 20)) continue;
        // Only text that belongs to the readable content: this leaves navigation, ads and footers out.
        if (isArticle ? !haystack.includes(full.slice(0, 80).toLowerCase()) : inNoise(element)) continue;
        if (!helpers.isVisible(element) || seen.has(full)) continue;
        const selector = helpers.uniqueSelector(element);
        if (!selector) continue;
        seen.add(full);
        anchors.push({ text: full.length > 200 ? `${full.slice(0, 197)}...` : full, selector, length: full.length, tag: element.localName });
      }
    }

    return { url: location.href, title: document.title, readable_content: readable, interactive_elements: interactive, content_anchors: anchors };
  }, readabilitySource);
}
