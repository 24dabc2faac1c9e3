import { BrowserActions } from "../../browser/browser-actions";
import { BrowserManager, type LaunchBrowser } from "../../browser/browser-manager";
import { findChromium } from "../../browser/chromium-path";
import type { Feature, FeatureContext } from "../feature";
import { browserRoutes } from "../routes/browser";

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
