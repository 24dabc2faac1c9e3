import { AppError } from "../errors";

/**
 * Schemes a browser session may navigate to. `file:` is refused on purpose: the browser runs on the
 * sandbox's host with the server's rights, so `file:///etc/...` (or `/proc/self/environ`, which holds
 * the API key) would read any file the server can, bypassing the file routes' rule that paths stay
 * inside the workspace. `javascript:`, `chrome:`, `view-source:` and the like are refused too: they
 * are not pages, and some expose browser internals.
 */
const ALLOWED = new Set(["http:", "https:", "data:", "about:"]);

/** The URL to open, or a 400 `INVALID_URL` that says why not. */
export function checkURL(raw: string): string {
  const text = raw.trim();
  if (text === "") throw new AppError("INVALID_URL", "The url is empty.");
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    const hint = /^[\w.-]+\.[a-z]{2,}(?::\d+)?(?:[/?#]|$)/i.test(text) ? ` Did you mean https://${text}?` : "";
    throw new AppError("INVALID_URL", `${JSON.stringify(text)} is not an absolute URL; include the scheme (http:// or https://).${hint}`, { cause: error });
  }
  if (!ALLOWED.has(url.protocol)) {
    const why =
      url.protocol === "file:"
        ? "file: URLs are refused because they would read files on the server's host outside the sandbox's file area"
        : `the ${url.protocol} scheme is not allowed`;
    throw new AppError("INVALID_URL", `Cannot open ${JSON.stringify(text)}: ${why}. Use http, https, data or about:blank.`);
  }
  if ((url.protocol === "http:" || url.protocol === "https:") && url.hostname === "") {
    throw new AppError("INVALID_URL", `${JSON.stringify(text)} has no host.`);
  }
  if (url.protocol === "about:" && url.href !== "about:blank") {
    throw new AppError("INVALID_URL", `Only about:blank is allowed among about: URLs (got ${JSON.stringify(text)}).`);
  }
  return url.href;
}
