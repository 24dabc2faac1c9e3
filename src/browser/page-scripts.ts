import type { ExtractResult } from "../contract/browser";

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
export type ExtractedElement = ExtractResult["elements"][number] & Record<string, string | null>;

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
