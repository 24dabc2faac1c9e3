import type { ContentResult } from "../contract/browser";
import { pageFunction, type PageHelpers } from "./page-scripts";

/**
 * The in-page half of `POST /v1/browser/interactions/content` (see `page-scripts.ts` for the rules
 * code that runs in the page follows).
 */

export interface ContentOptions {
  includeInteractive: boolean;
  includeAnchors: boolean;
  maxAnchors: number;
  maxInteractive: number;
}

/**
 * An interactive element as `content` reports it: the contract's fields, and the extra ones its schema
 * allows (`additionalProperties`) for some kinds of element.
 */
export type InteractiveElement = ContentResult["interactive_elements"][number] & {
  href?: string;
  input_type?: string;
  name?: string;
  placeholder?: string;
  disabled?: boolean;
};

export type ContentAnchor = ContentResult["content_anchors"][number];

/** What the page script computes: the contract's answer but for what the server adds (timing, session). */
export type PageContent = Omit<ContentResult, "interactive_elements" | "extraction_time" | "session_id"> & { interactive_elements: InteractiveElement[] };

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
