import { join } from "node:path";
import { BrowserActions } from "../../browser/browser-actions";
import { BrowserManager, type LaunchBrowser } from "../../browser/browser-manager";
import { findChromium } from "../../browser/chromium-path";
import { BrowserFiles, placeOf } from "../../browser/downloads";
import { messageOf } from "../../errors";
import { FileArea } from "../../files/file-area";
import type { SandboxUserFiles } from "../../files/sandbox-user-files";
import { WorkspaceFiles } from "../../files/workspace-files";
import type { Feature, FeatureContext } from "../feature";
import { browserRoutes } from "../routes/browser";

/**
 * The browser feature: routes under `/v1/browser`, one lazily launched Chromium shared by all
 * sessions, stopped (no orphan process) with the server. `launch` is replaceable for tests.
 */
export function browserFeature(context: FeatureContext, launch?: LaunchBrowser): Feature {
  const { config, log, confinement } = context;
  // Confined, Chromium runs as the sandbox user: its downloads go to a folder of that user's, read as that user.
  const confinedFiles = context.files && "removeTree" in context.files ? (context.files as SandboxUserFiles) : undefined;
  const downloadsPath = confinedFiles ? join("/tmp", `coderunner-downloads-${crypto.randomUUID()}`) : undefined;
  const manager = new BrowserManager({
    launch,
    downloadsPath,
    // Confined, Playwright starts Chromium through a wrapper that runs it as the sandbox user.
    executablePath: () => {
      const chromium = findChromium({ configured: config.chromiumPath });
      return confinement?.chromium(chromium) ?? chromium;
    },
    maxSessions: config.maxBrowserSessions,
    // A sandbox serves one session: one ready context is enough. Each spare holds two renderers
    // (~25 threads, tens of MB), and a small process budget (threads count) left Chromium no room
    // for the renderer a navigation needs: it hung until its timeout.
    spares: config.oneSession ? 1 : undefined,
    idleSeconds: config.browserIdleSeconds,
    log,
  });
  const files = new BrowserFiles({
    files: context.files ?? new WorkspaceFiles(new FileArea(config.workspace), join(config.workspace, ".uploads")),
    workspace: config.workspace,
    placeOf: placeOf(context.sessions),
    maxBytes: config.maxUploadBytes,
    log,
    asUser: confinedFiles,
  });
  const actions = new BrowserActions(manager, files);
  return {
    name: "browser",
    plugin: browserRoutes(manager, actions, context.sessions),
    start: async () => {
      if (confinedFiles && downloadsPath) {
        await confinedFiles.makeDirectory(downloadsPath).catch((error: unknown) => log.warn(`Could not make the browser's downloads folder ${downloadsPath}: ${messageOf(error)}`));
      }
      manager.start();
    },
    stop: () => manager.stop(),
    health: () => ({ browser: manager.health() }),
  };
}
