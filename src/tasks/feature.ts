import { join } from "node:path";
import { Elysia } from "elysia";
import { FileArea } from "../files/file-area";
import { WorkspaceFiles } from "../files/workspace-files";
import type { Feature, FeatureContext } from "../server/feature";
import { fileRoutes } from "../server/routes/files";
import { streamRoutes } from "../server/routes/stream";
import { taskRoutes } from "../server/routes/tasks";
import { AsyncRuns } from "./async-runs";
import { TaskStore } from "./task-store";

/**
 * Async runs (`/execute_async`, `/v1/executions/{id}`), streamed runs (`/execute/stream`) and files
 * (`/upload`, `/download`, `/files`): the ways agents run long jobs and move data in and out.
 * Owns the task store and the timer that expires finished tasks.
 */
export function runsAndFilesFeature({ config, log, sessions, executor, files }: FeatureContext, clock: () => number = Date.now): Feature {
  const store = new TaskStore({
    retentionMs: config.taskRetentionSeconds * 1000,
    maxTasks: config.maxRetainedTasks,
    maxBytes: config.taskRetentionBytes,
    clock,
  });
  const runs = new AsyncRuns({ store, sessions, executor, log });
  const fileService = files ?? new WorkspaceFiles(new FileArea(config.workspace), join(config.workspace, ".uploads"));
  let sweeper: Timer | undefined;
  const plugin = new Elysia({ name: "runs-and-files" })
    .use(taskRoutes(runs, store))
    .use(streamRoutes(executor, sessions, log))
    .use(fileRoutes({ files: fileService, sessions, maxBytes: config.maxUploadBytes }));
  return {
    name: "runs-and-files",
    plugin,
    start() {
      sweeper = setInterval(() => store.sweep(), Math.min(60_000, (config.taskRetentionSeconds * 1000) / 4));
      sweeper.unref?.();
    },
    stop() {
      clearInterval(sweeper);
    },
    health: () => ({ tasks: { retained: store.size } }),
  };
}
