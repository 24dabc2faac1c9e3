import { AppError, isAppError, messageOf } from "../errors";

/** What was being done when Playwright failed, for a sentence a client can act on. */
export interface FailureContext {
  /** e.g. "click", "navigate to http://..." */
  action: string;
  selector?: string;
  /** Milliseconds the action was given. */
  timeout?: number;
}

const CLOSED = /Target page, context or browser has been closed|Target closed|Browser has been closed|browser has disconnected|Browser closed|has been closed/i;
/** The page navigated while an action ran on it (another request on the same browser session). */
const NAVIGATED = /Execution context was destroyed|interrupted by another navigation|Cannot find context with specified id/;
const BAD_SELECTOR = /is not a valid (selector|XPath expression)|Unexpected token|Failed to parse selector|Unknown engine|Invalid selector|while parsing (css )?selector|selector.*(malformed|invalid)/i;
const NETWORK = /net::(ERR_[A-Z_]+)/;

/** First line of a Playwright message, without its call log. */
export function firstLine(message: string): string {
  return message.split("\n")[0]!.replace(/^\w+\.\w+: /, "").trim();
}

/**
 * Translates an error thrown by Playwright into an `AppError` with the original as `cause`:
 * timeouts 408, a closed page or browser 410, a page that navigated away under the action 409, a
 * malformed selector 400, a network failure while navigating 502, an element that cannot take the
 * action 400. Anything else becomes
 * `BROWSER_ERROR` (500) with Playwright's first line, never a stack.
 */
export function translatePlaywrightError(error: unknown, context: FailureContext): AppError {
  if (isAppError(error)) return error;
  const message = messageOf(error);
  const name = (error as { name?: string })?.name;
  const what = context.selector ? `${context.action} ${JSON.stringify(context.selector)}` : context.action;
  if (name === "TimeoutError" || /Timeout \d+ms exceeded/.test(message)) {
    const within = context.timeout !== undefined ? ` within ${context.timeout} ms` : "";
    return new AppError("TIMEOUT", `Could not ${what}${within}: ${firstLine(message)}`, { cause: error });
  }
  if (CLOSED.test(message)) {
    return new AppError("SESSION_GONE", `The browser page closed while trying to ${what}; the session is gone, create a new one.`, { cause: error });
  }
  if (NAVIGATED.test(message)) {
    return new AppError("SESSION_BUSY", `Could not ${what}: the page navigated meanwhile (another request on this browser session); try again. (${firstLine(message)})`, { cause: error });
  }
  if (context.selector !== undefined && BAD_SELECTOR.test(message)) {
    return new AppError("INVALID_SELECTOR", `${JSON.stringify(context.selector)} is not a valid selector: ${firstLine(message)}`, { cause: error });
  }
  const network = NETWORK.exec(message);
  if (network) {
    return new AppError("NAVIGATION_FAILED", `Could not ${what}: ${network[1]} (${firstLine(message)})`, { cause: error });
  }
  if (/Element is not|not an <input>|Cannot type|Clipped area|clip|quality is unsupported|Cannot take screenshot/i.test(message)) {
    return new AppError("INVALID_REQUEST", `Could not ${what}: ${firstLine(message)}`, { cause: error });
  }
  return new AppError("BROWSER_ERROR", `The browser failed to ${what}: ${firstLine(message)}`, { cause: error });
}
