import type { Feature, FeatureContext } from "../server/feature";
import { browserRoutes } from "../server/routes/browser";
import { BrowserActions } from "./browser-actions";
import { BrowserManager, type LaunchBrowser } from "./browser-manager";
import { findChromium } from "./chromium-path";

/**
 * The browser feature: routes under `/v1/browser`, one lazily launched Chromium shared by all
 * sessions, stopped (no orphan process) with the server. `launch` is replaceable for tests.
 */
export function browserFeature(context: FeatureContext, launch?: LaunchBrowser): Feature {
  const { config, log, confinement } = context;
  const manager = new BrowserManager({
    launch,
    // Confined, Playwright starts Chromium through a wrapper that runs it as the sandbox user.
    executablePath: () => {
      const chromium = findChromium({ configured: config.chromiumPath });
      return confinement?.chromium(chromium) ?? chromium;
    },
    maxSessions: config.maxBrowserSessions,
    idleSeconds: config.browserIdleSeconds,
    log,
  });
  const actions = new BrowserActions(manager);
  return {
    name: "browser",
    plugin: browserRoutes(manager, actions, context.sessions),
    start: () => manager.start(),
    stop: () => manager.stop(),
    health: () => ({ browser: manager.health() }),
  };
}
