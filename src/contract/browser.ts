import type { TUnsafe } from "@sinclair/typebox";
import { t } from "elysia";

/** Longest wait a browser request may ask for, in milliseconds (10 minutes). */
export const MAX_BROWSER_TIMEOUT_MS = 600_000;

const optional = <T extends Parameters<typeof t.Nullable>[0]>(schema: T) => t.Optional(t.Nullable(schema));
const millis = (fallback: number, description: string) =>
  optional(t.Integer({ minimum: 1, maximum: MAX_BROWSER_TIMEOUT_MS, default: fallback, description: `${description} In milliseconds.` }));
const sessionId = optional(t.String({ minLength: 1, description: "Browser session; absent: the default browser session, created on first use." }));
const selector = t.String({
  minLength: 1,
  description: "CSS selector (Playwright selectors such as text=... work too), or `ref=e12`, a ref from a snapshot. Selectors returned by content and extract work as-is.",
});

export const BrowserSessionParams = t.Object({ id: t.String() });

export const DownloadInfo = t.Object({
  url: t.String(),
  suggested_filename: t.String({ description: "The name the page suggested (Content-Disposition, the link's download attribute, or the URL)." }),
  filename: t.String({ description: "The name it was saved under: the suggestion without directories, control characters or leading dots, at most 200 bytes, made unique." }),
  path: t.Nullable(t.String({ description: "Absolute path in the session's files; null until saved." })),
  relative_path: t.Nullable(t.String({ description: "Relative to the session's files (its code session's working directory, else the workspace): usable in /download and the upload interaction." })),
  size: t.Nullable(t.Number({ description: "Bytes saved; null until saved." })),
  status: t.UnionEnum(["in_progress", "completed", "failed"]) as unknown as TUnsafe<"in_progress" | "completed" | "failed">,
  error: t.Nullable(t.String({ description: "Why it failed (over the size cap, cancelled, network error)." })),
  started_at: t.String(),
});

const downloadsField = t.Optional(
  t.Array(DownloadInfo, { description: "Downloads the action started (extension): each as saved, or as it stands when the action's timeout ran out." }),
);


export const CreateBrowserSessionBody = t.Optional(
  t.Object({
    viewport_width: optional(t.Integer({ minimum: 16, maximum: 8192, default: 1920 })),
    viewport_height: optional(t.Integer({ minimum: 16, maximum: 8192, default: 1080 })),
    user_agent: optional(t.String({ description: "Chromium's own user agent when absent." })),
    sandbox_id: optional(
      t.String({
        description:
          "An execution session's id: the browser session runs in that session's sandbox (its network rules and limits) and its id starts with `<sandbox_id>.`. Absent: the default sandbox.",
      }),
    ),
  }),
);

/** Answer of `POST /v1/browser/sessions/`. */
export const BrowserSessionCreated = t.Object({ session_id: t.String() });

const Viewport = t.Object({ width: t.Number(), height: t.Number() });

export const BrowserSessionInfo = t.Object({
  session_id: t.String(),
  viewport: Viewport,
  user_agent: t.Nullable(t.String()),
  status: t.String(),
  url: t.String({ description: "The page's current URL." }),
  created_at: t.String(),
  last_used_at: t.String(),
  actions: t.Number({ description: "Interactions run in this session." }),
});

/** Answer of `GET /v1/browser/sessions/`. */
export const BrowserSessionList = t.Object({ sessions: t.Array(BrowserSessionInfo) });

export const NavigateBody = t.Object({
  url: t.String({ description: "http, https, data: or about:blank. file: is refused (it would read the server's files)." }),
  session_id: sessionId,
  wait_timeout: millis(30_000, "How long the page may take to load."),
});

export const NavigateResult = t.Object({
  success: t.Boolean(),
  url: t.String(),
  title: t.String(),
  status: t.String(),
  http_status: t.Nullable(t.Number()),
  session_id: t.String(),
  downloads: downloadsField,
});

export const ClickBody = t.Object({
  selector,
  session_id: sessionId,
  force: optional(t.Boolean({ default: false, description: "Skip the actionability checks (visible, enabled, not covered)." })),
  timeout: millis(30_000, "How long to wait for the element to be clickable."),
});

export const TypeBody = t.Object({
  selector,
  text: t.String(),
  session_id: sessionId,
  delay: optional(t.Integer({ minimum: 0, maximum: 5_000, default: 100, description: "Pause between key presses, in milliseconds." })),
  timeout: millis(30_000, "How long to wait for the element."),
});

export const FillBody = t.Object({
  selector,
  value: t.String(),
  session_id: sessionId,
  timeout: millis(30_000, "How long to wait for the element."),
});

export const ScrollBody = t.Optional(
  t.Object({
    session_id: sessionId,
    selector: optional(selector),
    x: optional(t.Number({ description: "Absolute horizontal scroll position in CSS pixels." })),
    y: optional(t.Number({ description: "Absolute vertical scroll position in CSS pixels." })),
    timeout: millis(30_000, "How long to wait for the element."),
  }),
);

/**
 * The conditions `wait` knows. The schema takes any string, so that an unknown one is the contract's
 * 400 `INVALID_CONDITION` rather than a validation error.
 */
export const WAIT_CONDITIONS = ["visible", "hidden", "load", "networkidle"] as const;
export type WaitCondition = (typeof WAIT_CONDITIONS)[number];

export const WaitBody = t.Object({
  condition: t.String({ description: "visible, hidden (both need a selector), load or networkidle. Anything else: 400." }),
  session_id: sessionId,
  selector: optional(selector),
  timeout: millis(30_000, "How long to wait."),
});

export const ScreenshotBody = t.Optional(
  t.Object({
    session_id: sessionId,
    full_page: optional(t.Boolean({ default: true, description: "The whole scrollable page rather than the viewport (ignored with clip)." })),
    clip: optional(
      t.Object({
        x: t.Number({ minimum: 0 }),
        y: t.Number({ minimum: 0 }),
        width: t.Number({ exclusiveMinimum: 0 }),
        height: t.Number({ exclusiveMinimum: 0 }),
      }),
    ),
    // Typed as TypeBox's own TUnsafe: the SDK's type declarations then need TypeBox alone, not Elysia.
    format: optional(t.UnionEnum(["png", "jpeg"], { default: "png" }) as unknown as TUnsafe<"png" | "jpeg">),
    quality: optional(t.Integer({ minimum: 0, maximum: 100, description: "JPEG quality; ignored for PNG." })),
    timeout: millis(30_000, "How long the capture may take."),
  }),
);

export const ScreenshotResult = t.Object({
  screenshot: t.String({ description: "The image, base64-encoded." }),
  format: t.String(),
  width: t.Nullable(t.Number()),
  height: t.Nullable(t.Number()),
  session_id: t.String(),
});

export const ExtractBody = t.Optional(
  t.Object({
    session_id: sessionId,
    selector: optional(t.String({ description: "Default \"body *\". An explicit selector matching nothing: 404." })),
    attributes: optional(t.Array(t.String(), { description: "Properties or attributes to report; default href, src, class, id." })),
    limit: optional(t.Integer({ minimum: 1, maximum: 10_000, default: 100 })),
    timeout: millis(30_000, "How long the page may take to answer."),
  }),
);

export const ExtractResult = t.Object({
  elements: t.Array(
    t.Object(
      { tagName: t.String(), text: t.String(), selector: t.Nullable(t.String({ description: "Unique on the page; usable in click and fill." })) },
      { additionalProperties: true },
    ),
  ),
  count: t.Number({ description: "Elements matching the selector (elements holds at most limit)." }),
  session_id: t.String(),
});

export const ContentBody = t.Optional(
  t.Object({
    session_id: sessionId,
    url: optional(t.String({ description: "Navigate here first." })),
    wait_timeout: millis(30_000, "How long the navigation to url may take."),
    include_interactive: optional(t.Boolean({ default: true })),
    include_anchors: optional(t.Boolean({ default: true })),
    max_anchors: optional(t.Integer({ minimum: 0, maximum: 1000, default: 50 })),
    max_interactive: optional(t.Integer({ minimum: 0, maximum: 5000, default: 200 })),
    timeout: millis(30_000, "How long reading the page may take (a page busy in a script answers 408)."),
  }),
);

export const ContentResult = t.Object({
  url: t.String(),
  title: t.String(),
  readable_content: t.Object({
    title: t.String(),
    byline: t.Nullable(t.String()),
    content: t.String({ description: "The article as plain text, blocks separated by blank lines." }),
    excerpt: t.Nullable(t.String()),
    site_name: t.Nullable(t.String()),
    lang: t.Nullable(t.String()),
    word_count: t.Number(),
    length: t.Number(),
    is_article: t.Boolean({ description: "False when Readability found no article and content is the page's text." }),
  }),
  interactive_elements: t.Array(
    t.Object({ text: t.String(), selector: t.String(), interactive_type: t.String(), tag: t.String() }, { additionalProperties: true }),
  ),
  content_anchors: t.Array(t.Object({ text: t.String(), selector: t.String(), length: t.Number(), tag: t.String() })),
  extraction_time: t.Number({ description: "Seconds spent reading the page." }),
  session_id: t.String(),
});

export const SnapshotBody = t.Optional(
  t.Object({
    session_id: sessionId,
    selector: optional(t.String({ minLength: 1, description: "Only this element's part of the page: a selector or `ref=e12`. Matching nothing: 404." })),
    query: optional(t.String({ minLength: 1, description: "Only lines containing this text (case-insensitive), with the lines above them and everything under them." })),
    max_tokens: optional(
      t.Integer({ minimum: 50, maximum: 100_000, default: 3000, description: "Hard cap on the snapshot's length in tokens, counted as characters / 4. Past it, `cursor` reads on." }),
    ),
    max_text: optional(t.Integer({ minimum: 20, maximum: 10_000, default: 200, description: "Characters of text kept per line (longer text ends with …)." })),
    cursor: optional(t.String({ description: "A previous answer's cursor: the next part of that same snapshot (the page is not read again)." })),
    timeout: millis(30_000, "How long reading the page (or finding selector) may take."),
  }),
);

export const SnapshotResult = t.Object({
  url: t.String(),
  title: t.Nullable(t.String({ description: "Null when reading on with a cursor." })),
  snapshot: t.String({
    description:
      "One line per part: `- role \"name\" [ref=e12] [state] value=\"...\"`, two spaces of indent per level; `text:` lines are plain text. Refs work as `selector: \"ref=e12\"` in click, fill, type, scroll, wait and extract.",
  }),
  tokens: t.Integer({ description: "Tokens of snapshot (characters / 4), at most max_tokens." }),
  total_tokens: t.Integer({ description: "Tokens of the whole snapshot, every part read." }),
  lines: t.Object({ from: t.Integer(), to: t.Integer(), total: t.Integer() }, { description: "The lines this answer holds: [from, to) of total." }),
  cursor: t.Nullable(t.String({ description: "Pass it back to read the next part; null at the end." })),
  refs: t.Nullable(t.Integer({ description: "Refs in the whole snapshot (null when reading on with a cursor)." })),
  incomplete: t.Boolean({ description: "True when the page had more than a snapshot reads (50,000 lines, 300,000 nodes, nesting 400 deep, or half of timeout spent walking): focus with selector or query." }),
  session_id: t.String(),
});

export const DownloadList = t.Object({ downloads: t.Array(DownloadInfo), session_id: t.String() });

export const UploadBody = t.Object({
  selector,
  paths: t.Array(t.String({ minLength: 1 }), {
    maxItems: 100,
    description: "Files of the session, relative to its working directory (the code session's when the browser session belongs to one, else the workspace), or absolute inside the workspace. Empty clears the input.",
  }),
  session_id: sessionId,
  timeout: millis(30_000, "How long to wait for the element."),
});

const ActionResult = t.Object({ success: t.Boolean(), status: t.String(), session_id: t.String(), downloads: downloadsField }, { additionalProperties: true });
export { ActionResult };

// The TypeScript types, derived from the schemas above (each named as its schema).
export type BrowserSessionParams = typeof BrowserSessionParams.static;
export type CreateBrowserSessionBody = typeof CreateBrowserSessionBody.static;
export type BrowserSessionCreated = typeof BrowserSessionCreated.static;
export type BrowserSessionInfo = typeof BrowserSessionInfo.static;
export type BrowserSessionList = typeof BrowserSessionList.static;
export type NavigateBody = typeof NavigateBody.static;
export type NavigateResult = typeof NavigateResult.static;
export type ClickBody = typeof ClickBody.static;
export type TypeBody = typeof TypeBody.static;
export type FillBody = typeof FillBody.static;
export type ScrollBody = typeof ScrollBody.static;
export type WaitBody = typeof WaitBody.static;
export type ScreenshotBody = typeof ScreenshotBody.static;
export type ScreenshotResult = typeof ScreenshotResult.static;
export type ExtractBody = typeof ExtractBody.static;
export type ExtractResult = typeof ExtractResult.static;
export type ContentBody = typeof ContentBody.static;
export type ContentResult = typeof ContentResult.static;
export type SnapshotBody = typeof SnapshotBody.static;
export type SnapshotResult = typeof SnapshotResult.static;
export type ActionResult = typeof ActionResult.static;
export type DownloadInfo = typeof DownloadInfo.static;
export type DownloadList = typeof DownloadList.static;
export type UploadBody = typeof UploadBody.static;
