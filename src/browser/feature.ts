import { join } from "node:path";
import { FileArea } from "../files/file-area";
import { WorkspaceFiles } from "../files/workspace-files";
import type { Feature, FeatureContext } from "../server/feature";
import { browserRoutes } from "../server/routes/browser";
import { BrowserActions } from "./browser-actions";
import { BrowserManager, type LaunchBrowser } from "./browser-manager";
import { findChromium } from "./chromium-path";
import { BrowserFiles, placeOf } from "./downloads";

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
  const files = new BrowserFiles({
    files: context.files ?? new WorkspaceFiles(new FileArea(config.workspace), join(config.workspace, ".uploads")),
    workspace: config.workspace,
    placeOf: placeOf(context.sessions),
    maxBytes: config.maxUploadBytes,
    log,
  });
  const actions = new BrowserActions(manager, files);
  return {
    name: "browser",
    plugin: browserRoutes(manager, actions, context.sessions),
    start: () => manager.start(),
    stop: () => manager.stop(),
    health: () => ({ browser: manager.health() }),
  };
}
