import { existsSync } from "node:fs";
import { AppError } from "../errors";

/** Executables tried, in order, when no path is configured. */
export const CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

export interface ChromiumLookup {
  /** `config.chromiumPath` (env `CODERUNNER_CHROMIUM`); when set it is the only candidate. */
  configured?: string;
  /** Resolves a command name on PATH. */
  which?: (command: string) => string | null;
  exists?: (path: string) => boolean;
}

/**
 * The Chromium executable to launch: the configured one, else `/usr/bin/chromium`, else the first of
 * `chromium`, `chromium-browser`, `google-chrome` found on PATH. Throws `BROWSER_UNAVAILABLE` naming
 * what was tried, so a missing browser is one clear sentence instead of a Playwright stack.
 */
export function findChromium({ configured, which = Bun.which, exists = existsSync }: ChromiumLookup = {}): string {
  if (configured) {
    const found = configured.includes("/") ? (exists(configured) ? configured : null) : which(configured);
    if (found) return found;
    throw new AppError("BROWSER_UNAVAILABLE", `CODERUNNER_CHROMIUM is ${JSON.stringify(configured)}, but no such executable exists.`);
  }
  for (const candidate of CHROMIUM_CANDIDATES) {
    const found = candidate.startsWith("/") ? (exists(candidate) ? candidate : null) : which(candidate);
    if (found) return found;
  }
  throw new AppError(
    "BROWSER_UNAVAILABLE",
    `No Chromium found (tried ${CHROMIUM_CANDIDATES.join(", ")}); install it (Debian: apt-get install chromium) or set CODERUNNER_CHROMIUM.`,
  );
}
