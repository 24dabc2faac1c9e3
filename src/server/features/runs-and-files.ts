import { join } from "node:path";
import { Elysia } from "elysia";
import type { Config } from "../../config";
import type { Confinement } from "../../confinement/confinement";
import { SERVER_DATA_DIR } from "../../confinement/layout";
import { FileArea } from "../../files/file-area";
import { WorkspaceFiles } from "../../files/workspace-files";
import type { Feature, FeatureContext } from "../feature";
import { fileRoutes } from "../routes/files";
import { streamRoutes } from "../routes/stream";
import { taskRoutes } from "../routes/tasks";
import { AsyncRuns } from "../../tasks/async-runs";
import { TaskStore } from "../../tasks/task-store";

/**
 * Where the async tasks' database lives: `CODERUNNER_STATE_DIR`; unset, the server's data directory
 * in a confined sandbox (the code's user may not read it) or `.coderunner` in the workspace.
 */
export function taskDatabasePath(config: Pick<Config, "stateDir" | "workspace">, confinement?: Pick<Confinement, "mode">): string {
  if (config.stateDir === ":memory:") return ":memory:";
  return join(config.stateDir ?? (confinement?.mode === "container" ? SERVER_DATA_DIR : join(config.workspace, ".coderunner")), "tasks.db");
}

/**
 * Async runs (`/execute_async`, `/v1/executions/{id}`), streamed runs (`/execute/stream`) and files
 * (`/upload`, `/download`, `/files`): the ways agents run long jobs and move data in and out.
 * Owns the task store: its database is opened at start (which starts the sweep that expires finished
 * tasks) and closed at stop.
 */
export function runsAndFilesFeature({ config, log, sessions, executor, files, confinement }: FeatureContext, clock: () => number = Date.now): Feature {
  const store = new TaskStore({
    path: taskDatabasePath(config, confinement),
    retentionMs: config.taskRetentionSeconds * 1000,
    maxTasks: config.maxRetainedTasks,
    maxBytes: config.taskRetentionBytes,
    clock,
    log,
  });
  const runs = new AsyncRuns({ store, sessions, executor, log });
  const fileService = files ?? new WorkspaceFiles(new FileArea(config.workspace), join(config.workspace, ".uploads"));
  const plugin = new Elysia({ name: "runs-and-files" })
    .use(taskRoutes(runs, store))
    .use(streamRoutes(executor, sessions, log))
    .use(fileRoutes({ files: fileService, sessions, maxBytes: config.maxUploadBytes }));
  return {
    name: "runs-and-files",
    plugin,
    start() {
      store.open();
    },
    stop() {
      store.close();
    },
    health: () => ({ tasks: { retained: store.size } }),
  };
}
