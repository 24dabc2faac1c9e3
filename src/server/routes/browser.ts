import { Elysia } from "elysia";
import type { BrowserActions } from "../../browser/browser-actions";
import type { BrowserManager } from "../../browser/browser-manager";
import type { BrowserSession } from "../../browser/browser-session";
import type { SessionStore } from "../../kernels/session-store";
import { errors, Success } from "../../contract/common";
import {
  ActionResult,
  BrowserSessionCreated,
  BrowserSessionInfo,
  BrowserSessionList,
  BrowserSessionParams,
  ClickBody,
  ContentBody,
  ContentResult,
  CreateBrowserSessionBody,
  DownloadList,
  ExtractBody,
  ExtractResult,
  FillBody,
  NavigateBody,
  NavigateResult,
  ScreenshotBody,
  ScreenshotResult,
  ScrollBody,
  SnapshotBody,
  SnapshotResult,
  TypeBody,
  UploadBody,
  WaitBody,
} from "../../contract/browser";

function info(session: BrowserSession): typeof BrowserSessionInfo.static {
  return {
    session_id: session.id,
    viewport: session.viewport,
    user_agent: session.userAgent,
    status: "active",
    url: session.page.url(),
    created_at: session.createdAt.toISOString(),
    last_used_at: new Date(session.lastUsedAt).toISOString(),
    actions: session.actions,
  };
}

const tags = ["Browser"];

/**
 * The browser routes of the contract under `/v1/browser`: sessions (each an isolated context in one
 * shared Chromium) and interactions on a session's page. Timeouts are milliseconds.
 */
export function browserRoutes(manager: BrowserManager, actions: BrowserActions, sessions?: Pick<SessionStore, "get">) {
  const createSession = async ({ body }: { body: typeof CreateBrowserSessionBody.static | null }) => {
    // A browser session made for an execution session carries that session's id first, so a host
    // routing by session finds the sandbox it lives in from the id alone.
    const owner = body?.sandbox_id ? sessions?.get(body.sandbox_id).id : undefined;
    const session = await manager.create(
      {
        viewport: { width: body?.viewport_width ?? 1920, height: body?.viewport_height ?? 1080 },
        userAgent: body?.user_agent ?? undefined,
      },
      owner ? `${owner}.${crypto.randomUUID()}` : undefined,
    );
    return { session_id: session.id };
  };
  const createOptions = {
    body: CreateBrowserSessionBody,
    response: { 200: BrowserSessionCreated, ...errors(400, 404, 422, 429, 503) },
    detail: { tags, summary: "Create a browser session (its own cookies and storage)" },
  };
  const listSessions = () => ({ sessions: manager.list().map(info) });
  const listOptions = { response: BrowserSessionList, detail: { tags, summary: "List browser sessions" } };
  const element = errors(400, 404, 408, 410, 422);

  return (
    new Elysia({ name: "browser", prefix: "/v1/browser", seed: manager })
      // The contract's paths end with a slash; both spellings work.
      .post("/sessions/", createSession, createOptions)
      .post("/sessions", createSession, { ...createOptions, detail: { ...createOptions.detail, hide: true } })
      .get("/sessions/", listSessions, listOptions)
      .get("/sessions", listSessions, { ...listOptions, detail: { ...listOptions.detail, hide: true } })
      .get("/sessions/:id", ({ params }) => info(manager.get(params.id)), {
        params: BrowserSessionParams,
        response: { 200: BrowserSessionInfo, ...errors(404, 410) },
        detail: { tags, summary: "Get a browser session" },
      })
      .get("/sessions/:id/downloads", ({ params }) => actions.downloads(params.id), {
        params: BrowserSessionParams,
        response: { 200: DownloadList, ...errors(404, 410) },
        detail: {
          tags,
          summary: "The browser session's downloads (extension)",
          description:
            "What the session's pages downloaded, oldest first: where each was saved (the code session's `downloads/` when the browser session belongs to one, else `browser-downloads/<id>/` in the workspace), its name and size, or why it failed.",
        },
      })
      .delete(
        "/sessions/:id",
        async ({ params }) => {
          if (!(await manager.close(params.id))) manager.get(params.id);
          return { success: true };
        },
        { params: BrowserSessionParams, response: { 200: Success, ...errors(404, 410) }, detail: { tags, summary: "Close a browser session" } },
      )
      .post("/interactions/navigate", ({ body }) => actions.navigate(body), {
        body: NavigateBody,
        response: { 200: NavigateResult, ...errors(400, 404, 408, 410, 422, 429, 502) },
        detail: { tags, summary: "Open a URL", description: "Without session_id, the default browser session is used (created on first use)." },
      })
      .post("/interactions/click", ({ body }) => actions.click(body), {
        body: ClickBody,
        response: { 200: ActionResult, ...element },
        detail: { tags, summary: "Click an element", description: "A selector matching nothing: 404; an element that never becomes clickable: 408." },
      })
      .post("/interactions/type", ({ body }) => actions.type(body), {
        body: TypeBody,
        response: { 200: ActionResult, ...element },
        detail: { tags, summary: "Type text key by key into an element" },
      })
      .post("/interactions/fill", ({ body }) => actions.fill(body), {
        body: FillBody,
        response: { 200: ActionResult, ...element },
        detail: { tags, summary: "Set the value of an input, textarea or contenteditable" },
      })
      .post("/interactions/scroll", ({ body }) => actions.scroll(body ?? {}), {
        body: ScrollBody,
        response: { 200: ActionResult, ...element },
        detail: { tags, summary: "Scroll an element into view, or the page to (x, y)" },
      })
      .post("/interactions/wait", ({ body }) => actions.wait(body), {
        body: WaitBody,
        response: { 200: ActionResult, ...element },
        detail: { tags, summary: "Wait for an element to be visible or hidden, or for load / networkidle" },
      })
      .post("/interactions/screenshot", ({ body }) => actions.screenshot(body ?? {}), {
        body: ScreenshotBody,
        response: { 200: ScreenshotResult, ...errors(400, 404, 408, 410, 422) },
        detail: { tags, summary: "Capture the page (PNG or JPEG, base64)" },
      })
      .post("/interactions/extract", ({ body }) => actions.extract(body ?? {}), {
        body: ExtractBody,
        response: { 200: ExtractResult, ...errors(400, 404, 410, 422) },
        detail: { tags, summary: "Tag, text, unique selector and attributes of matching elements" },
      })
      .post("/interactions/content", ({ body }) => actions.pageContent(body ?? {}), {
        body: ContentBody,
        response: { 200: ContentResult, ...errors(400, 404, 408, 410, 422, 429, 502) },
        detail: {
          tags,
          summary: "The page for an agent: readable article text, interactive elements and content anchors",
          description: "With url, navigates first. Without session_id, uses the default browser session. Every selector returned works in click and fill.",
        },
      })
      .post("/interactions/upload", ({ body }) => actions.upload(body), {
        body: UploadBody,
        response: { 200: ActionResult, ...errors(400, 404, 408, 410, 413, 422) },
        detail: {
          tags,
          summary: "Put session files into a file input (extension)",
          description:
            "Sets the files of an `<input type=\"file\">` (selector or `ref=e12`) to session files, as a user choosing them would. A path leaving the session's files is a 400 INVALID_PATH, a missing file a 404 FILE_NOT_FOUND, an element that is not a file input a 400 NOT_A_FILE_INPUT.",
        },
      })
      .post("/interactions/snapshot", ({ body }) => actions.snapshot(body ?? {}), {
        body: SnapshotBody,
        response: { 200: SnapshotResult, ...errors(400, 404, 408, 410, 422) },
        detail: {
          tags,
          summary: "The page as a short text tree with refs, within a token cap (extension)",
          description:
            "Each meaningful part of the page on a line (role, name, state, value), two spaces of indent per level; each interactive part has a ref usable as `selector: \"ref=e12\"` in click, type, fill, scroll, wait and extract. " +
            "At most `max_tokens` tokens (characters / 4; default 3000); `cursor` reads on. `selector` or `query` views one region. " +
            "A ref stays valid while its element is on the page; after a navigation or reload, or once the element is removed, using it is a 404 `STALE_REF`.",
        },
      })
  );
}
