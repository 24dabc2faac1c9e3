import { pageFunction, type PageHelpers } from "./page-scripts";

/**
 * The in-page half of `POST /v1/browser/interactions/snapshot` (see `page-scripts.ts` for the rules
 * code that runs in the page follows).
 *
 * Refs live in a store on the page's `window` (under a registered symbol): a map from ref to a weak
 * reference to its element, and back, so an element keeps its ref across snapshots of one document.
 * Ref numbers come from a counter the server keeps per browser session and never reuses, so a ref
 * from an earlier document is never taken for an element of the current one: it is stale.
 */

export interface SnapshotOptions {
  /** Where to start the walk; the body when null. */
  root: Element | null;
  /** A case-insensitive text to keep: matching lines with their ancestors and everything under them. */
  query: string | null;
  /** The next ref number, should the page have no store yet. */
  nextRef: number;
  /** Characters of text kept per line. */
  maxText: number;
  /** Lines made at most (a guard against pages with millions of nodes). */
  maxLines: number;
  /** Milliseconds the walk may take; past them it stops, incomplete. */
  budgetMs: number;
}

export interface SnapshotTree {
  url: string;
  title: string;
  /** Indented lines, two spaces a level. */
  lines: string[];
  /** The counter after this snapshot: the server's next `nextRef`. */
  nextRef: number;
  /** Refs this snapshot shows. */
  refs: number;
  /** True when `maxLines` stopped the walk. */
  incomplete: boolean;
}

/** A page-side node before rendering: its own line and what is under it. */
interface Part {
  line: string;
  children: Part[];
  /** Plain text run (no role): merged with its neighbours. */
  text?: boolean;
  /** Rendered on its parent's line when it is the only child. */
  leaf?: boolean;
}

export const snapshotScript = pageFunction((helpers: PageHelpers, options: SnapshotOptions): SnapshotTree => {
  type Store = { refs: Map<string, WeakRef<Element>>; byElement: WeakMap<Element, string>; next: number };
  const KEY = Symbol.for("coderunner.refs");
  const global = window as unknown as Record<symbol, Store | undefined>;
  // A page may have put something else under the key: a store is only taken as it was made.
  let store = global[KEY];
  if (!store || !(store.refs instanceof Map) || !(store.byElement instanceof WeakMap) || typeof store.next !== "number") {
    store = { refs: new Map(), byElement: new WeakMap(), next: options.nextRef };
    Object.defineProperty(window, KEY, { value: store, configurable: true, enumerable: false, writable: true });
  }
  const refOf = (element: Element): string => {
    let ref = store.byElement.get(element);
    if (!ref) {
      ref = `e${store.next++}`;
      store.byElement.set(element, ref);
      store.refs.set(ref, new WeakRef(element));
    }
    return ref;
  };

  const cut = (text: string, limit = options.maxText) => (text.length > limit ? `${text.slice(0, Math.max(1, limit - 1))}…` : text);
  const quote = (text: string) => JSON.stringify(cut(text, 100));
  const ACTIONABLE = "a[href], button, input, select, textarea, [onclick], [role=button], [role=link]";
  const tag = (element: Element) => element.localName;
  const SKIP = /^(script|style|noscript|template|head|meta|link|iframe|object|embed|canvas|video|audio|source|track|map|br|wbr)$/;
  const INTERACTIVE = new Set(["link", "button", "textbox", "searchbox", "checkbox", "radio", "combobox", "listbox", "slider", "spinbutton", "switch", "tab", "menuitem", "menuitemcheckbox", "menuitemradio", "option", "treeitem", "clickable"]);
  const CONTAINERS = new Set(["navigation", "main", "banner", "contentinfo", "complementary", "form", "search", "region", "dialog", "article", "list", "listitem", "table", "row", "cell", "columnheader", "rowheader", "paragraph", "blockquote", "figure", "group", "tablist", "menu", "menubar", "tree", "alert", "status", "definition", "term"]);

  const implicitRole = (element: Element): string | null => {
    const tag = element.localName;
    const input = element as HTMLInputElement;
    switch (tag) {
      case "a":
      case "area":
        return element.hasAttribute("href") ? "link" : null;
      case "button":
      case "summary":
        return "button";
      case "input": {
        const type = input.type;
        if (type === "hidden") return "hidden";
        if (/^(button|submit|reset|image)$/.test(type)) return "button";
        if (type === "checkbox" || type === "radio") return type;
        if (type === "range") return "slider";
        if (type === "number") return "spinbutton";
        if (type === "search") return "searchbox";
        if (type === "file") return "button";
        return "textbox";
      }
      case "textarea":
        return "textbox";
      case "select":
        return (element as HTMLSelectElement).multiple ? "listbox" : "combobox";
      case "img":
        return element.getAttribute("alt") ? "img" : null;
      case "h1":
      case "h2":
      case "h3":
      case "h4":
      case "h5":
      case "h6":
        return "heading";
      case "nav":
        return "navigation";
      case "main":
        return "main";
      case "header":
        return element.closest("article, aside, main, nav, section") ? null : "banner";
      case "footer":
        return element.closest("article, aside, main, nav, section") ? null : "contentinfo";
      case "aside":
        return "complementary";
      case "form":
        return "form";
      case "dialog":
        return "dialog";
      case "article":
        return "article";
      case "ul":
      case "ol":
      case "menu":
        return "list";
      case "li":
        return "listitem";
      case "table":
        return "table";
      case "tr":
        return "row";
      case "td":
        return "cell";
      case "th":
        return element.closest("thead") || element.getAttribute("scope") === "col" ? "columnheader" : "rowheader";
      case "p":
        return "paragraph";
      case "blockquote":
        return "blockquote";
      case "figure":
        return "figure";
      case "fieldset":
        return "group";
      case "dt":
        return "term";
      case "dd":
        return "definition";
      case "pre":
        return "paragraph";
    }
    if ((element as HTMLElement).isContentEditable && !element.parentElement?.isContentEditable) return "textbox";
    if (element.hasAttribute("onclick")) return "clickable";
    return null;
  };

  // Controls' labels, found once: `element.labels` searches the whole document at each call.
  let labelMap: Map<Element, HTMLLabelElement[]> | undefined;
  const labelsOf = () => {
    if (!labelMap) {
      labelMap = new Map();
      for (const label of Array.from(document.querySelectorAll("label"))) {
        const control = label.control;
        if (control) labelMap.set(control, [...(labelMap.get(control) ?? []), label]);
      }
    }
    return labelMap;
  };

  const labelled = (element: Element): string => {
    const ids = element.getAttribute("aria-labelledby");
    if (ids) {
      const text = ids
        .split(/\s+/)
        .map((id) => document.getElementById(id)?.textContent ?? "")
        .join(" ");
      if (helpers.normalize(text)) return helpers.normalize(text);
    }
    return helpers.normalize(element.getAttribute("aria-label"));
  };

  /** The accessible name, approximately: aria, then labels, then the element's own text, then title / placeholder / alt. */
  const nameOf = (element: Element, role: string): string => {
    const aria = labelled(element);
    if (aria) return aria;
    const input = element as HTMLInputElement;
    const labels = labelsOf().get(element);
    if (labels) {
      // A label's own text, without the text of the control it wraps (a select's options).
      const own = (node: Node): string =>
        node === element ? "" : node.nodeType === 3 ? (node.textContent ?? "") : Array.from(node.childNodes, own).join(" ");
      const text = helpers.normalize(labels.map(own).join(" "));
      if (text) return text;
    }
    if (element.localName === "input" && /^(button|submit|reset)$/.test(input.type)) return helpers.normalize(input.value) || input.type;
    if (element.localName === "img") return helpers.normalize(element.getAttribute("alt"));
    if (!/^(textbox|searchbox|combobox|listbox|slider|spinbutton)$/.test(role)) {
      const text = helpers.normalize((element as HTMLElement).innerText ?? element.textContent);
      if (text) return text;
      const img = element.querySelector("img[alt]");
      if (img) return helpers.normalize(img.getAttribute("alt"));
    }
    return helpers.normalize(element.getAttribute("title")) || helpers.normalize(element.getAttribute("placeholder")) || helpers.normalize(element.getAttribute("name"));
  };

  /** `[checked]`, `[disabled]`, a field's value and the like. */
  const stateOf = (element: Element, role: string): string => {
    const parts: string[] = [];
    const input = element as HTMLInputElement;
    if (role === "heading") parts.push(`[level=${element.localName.startsWith("h") ? element.localName[1] : (element.getAttribute("aria-level") ?? "2")}]`);
    if (role === "checkbox" || role === "radio" || role === "switch") {
      const checked = element.localName === "input" ? input.checked : element.getAttribute("aria-checked") === "true";
      if (checked) parts.push("[checked]");
    }
    if ((element as HTMLButtonElement).disabled || element.getAttribute("aria-disabled") === "true") parts.push("[disabled]");
    const expanded = element.getAttribute("aria-expanded");
    if (expanded) parts.push(`[expanded=${expanded}]`);
    if (element.getAttribute("aria-selected") === "true" || element.getAttribute("aria-current")) parts.push("[selected]");
    if (element.localName === "input" && input.type === "file") parts.push("[file]");
    if (role === "textbox" || role === "searchbox" || role === "spinbutton" || role === "slider") {
      const value = element.localName === "input" || element.localName === "textarea" ? input.value : helpers.normalize((element as HTMLElement).innerText);
      if (value) parts.push(`value=${quote(input.type === "password" ? "•".repeat(Math.min(value.length, 8)) : value)}`);
      else if (element.getAttribute("placeholder") && nameOf(element, role) !== element.getAttribute("placeholder")) parts.push(`placeholder=${quote(element.getAttribute("placeholder")!)}`);
      if ((element as HTMLInputElement).required) parts.push("[required]");
    }
    if (role === "combobox" || role === "listbox") {
      const select = element as HTMLSelectElement;
      if (select.options) {
        const chosen = Array.from(select.selectedOptions, (option) => helpers.normalize(option.text));
        if (chosen.length) parts.push(`value=${quote(chosen.join(", "))}`);
        const all = Array.from(select.options, (option) => helpers.normalize(option.text));
        parts.push(`options=${quote(all.slice(0, 12).join(" | ") + (all.length > 12 ? ` | … ${all.length - 12} more` : ""))}`);
      }
    }
    return parts.length ? ` ${parts.join(" ")}` : "";
  };

  let lineCount = 0;
  let depth = 0;
  let visited = 0;
  const deadline = performance.now() + options.budgetMs;
  let incomplete = false;
  let refs = 0;

  const walk = (element: Element): Part[] => {
    if (lineCount >= options.maxLines) {
      incomplete = true;
      return [];
    }
    const tag = element.localName;
    if (SKIP.test(tag) || element.getAttribute("aria-hidden") === "true" || (element as HTMLElement).hidden) return [];
    if (!element.checkVisibility({ checkVisibilityCSS: true } as CheckVisibilityOptions) && tag !== "option") return [];
    const explicit = element.getAttribute("role");
    let role = explicit && explicit !== "presentation" && explicit !== "none" && explicit !== "generic" ? explicit.split(/\s+/)[0]! : implicitRole(element);
    if (role === "hidden") return [];
    // A label's text names its control; shown again beside it, it would only cost tokens.
    const skipText = tag === "label" && !!(element as HTMLLabelElement).control;
    // A heading holding a link or button is a container, so the link keeps its ref.
    if (role === "heading" && element.querySelector(ACTIONABLE)) return headed(element, `heading${stateOf(element, role)}`, skipText);
    if (role === "img" || role === "heading" || (role && INTERACTIVE.has(role))) {
      const name = nameOf(element, role);
      if (role === "img" && !name) return [];
      lineCount++;
      if (role === "heading" || role === "img") return [{ line: `${role} ${quote(name)}${stateOf(element, role)}`, children: [], leaf: true }];
      refs++;
      const named = name ? ` ${quote(name)}` : "";
      return [{ line: `${role}${named} [ref=${refOf(element)}]${stateOf(element, role)}`, children: [], leaf: true }];
    }
    if (!role || !CONTAINERS.has(role)) return childrenOf(element, skipText); // a generic element: its children stand in its place
    const named = role === "form" || role === "region" || role === "dialog" || role === "group" ? labelled(element) || legendOf(element) : "";
    return headed(element, named ? `${role} ${quote(named)}` : role, skipText);
  };

  const legendOf = (element: Element): string => (element.localName === "fieldset" ? helpers.normalize(element.querySelector(":scope > legend")?.textContent) : "");

  const childrenOf = (element: Element, skipText: boolean): Part[] => {
    // Pages built to be deep or vast end the walk (incomplete) rather than the stack or the time.
    if (depth >= 400 || visited >= 300_000 || performance.now() > deadline) {
      incomplete = true;
      return [];
    }
    depth++;
    try {
      return partsUnder(element, skipText);
    } finally {
      depth--;
    }
  };

  const partsUnder = (element: Element, skipText: boolean): Part[] => {
    const children: Part[] = [];
    // An open shadow root is what renders; its slots' light children are not followed.
    const parent: ParentNode = element.shadowRoot ?? element;
    for (let child = parent.firstChild; child; child = child.nextSibling) {
      visited++;
      if (skipText && child.nodeType === 3) continue;
      if (child.nodeType === 1 && (child as Element).localName === "legend" && tag(element) === "fieldset") continue;
      const found = child.nodeType === 3 ? [{ line: helpers.normalize(child.textContent), children: [], text: true, leaf: true }] : child.nodeType === 1 ? walk(child as Element) : [];
      for (const node of found) {
        if (node.text && !node.line) continue;
        const last = children[children.length - 1];
        if (node.text && last?.text) last.line += ` ${node.line}`;
        else children.push(node);
      }
    }
    return children;
  };

  /** A container's line (`head`) with its children under it, or on the same line when one fits. */
  const headed = (element: Element, head: string, skipText: boolean): Part[] => {
    const role = head.split(" ")[0]!;
    const children = childrenOf(element, skipText);
    if (children.length === 0) return [];
    lineCount++;
    // A row whose cells each fit on one line is one line: `row: a | b | c`.
    if (role === "row" && children.every((cell) => cell.children.every((inner) => inner.leaf) && cell.children.length <= 1)) {
      const cells = children.map((cell) => (cell.line.replace(/^(cell|columnheader|rowheader)(: )?/, "") + (cell.children[0] ? cell.children[0].line : "")).trim());
      return [{ line: `${head}: ${cut(cells.join(" | "), options.maxText * 2)}`, children: [], leaf: true }];
    }
    if (children.length === 1 && children[0]!.leaf) {
      const only = children[0]!;
      return [{ line: `${head}: ${only.text ? cut(only.line) : only.line}`, children: [], leaf: role !== "row" && role !== "list" }];
    }
    return [{ line: `${head}:`, children }];
  };

  const root = options.root ?? document.body ?? document.documentElement;
  let nodes = root ? walk(root) : [];

  if (options.query) {
    const needle = options.query.toLowerCase();
    const matches = (node: Part) => node.line.toLowerCase().includes(needle);
    // A match inside a card-like part (a list item, an article, a form...) brings the whole part: a
    // product's name brings its price and its "Add to cart" button.
    const WHOLE = /^(listitem|form|group|dialog|figure|blockquote|search|row)\b/;
    const keep = (node: Part): Part | null => {
      if (matches(node)) return node;
      const children = node.children.map(keep).filter((child): child is Part => child !== null);
      if (children.length === 0) return null;
      if (WHOLE.test(node.line) && node.children.some(matches)) return node;
      return { ...node, children };
    };
    nodes = nodes.map(keep).filter((node): node is Part => node !== null);
  }

  const lines: string[] = [];
  const render = (node: Part, depth: number) => {
    lines.push(`${"  ".repeat(depth)}- ${node.text ? `text: ${cut(node.line)}` : node.line}`);
    for (const child of node.children) render(child, depth + 1);
  };
  for (const node of nodes) render(node, 0);
  return { url: location.href, title: document.title, lines, nextRef: store.next, refs, incomplete };
});

/** What `resolveRef` finds in the page for a ref. */
export type RefLookup = { found: true; mark: string } | { found: false; reason: "no-store" | "unknown" | "detached" };

/**
 * Finds a ref's element in the page's store and marks it with `data-coderunner-ref` (a value unique
 * to this lookup), so a Playwright locator can act on exactly that element with its usual waiting.
 */
export const resolveRef = pageFunction((_helpers: PageHelpers, args: { ref: string; mark: string }): RefLookup => {
  const store = (window as unknown as Record<symbol, { refs?: unknown } | undefined>)[Symbol.for("coderunner.refs")] as { refs: Map<string, unknown> } | undefined;
  if (!store || !(store.refs instanceof Map)) return { found: false, reason: "no-store" };
  const weak = store.refs.get(args.ref);
  if (!weak) return { found: false, reason: "unknown" };
  const element = weak instanceof WeakRef ? weak.deref() : undefined;
  if (!(element instanceof Element) || !element.isConnected) return { found: false, reason: "detached" };
  element.setAttribute("data-coderunner-ref", args.mark);
  return { found: true, mark: args.mark };
});
