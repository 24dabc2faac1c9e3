import type { Elysia } from "elysia";
import type { Config } from "../config";
import type { Confinement } from "../confinement/confinement";
import type { FileService } from "../files/file-service";
import type { Executor } from "../kernels/executor";
import type { SessionStore } from "../kernels/session-store";
import type { Logger } from "../log";

/** What a feature gets from the composition root. */
export interface FeatureContext {
  config: Config;
  log: Logger;
  sessions: SessionStore;
  executor: Executor;
  /** How this server is isolated from user code (absent: as a plain process, sharing its user). */
  confinement?: Confinement;
  /** How the file routes touch files (absent: the server itself, inside the workspace). */
  files?: FileService;
}

/**
 * A part of the server beyond the core execution routes (browser, files, async tasks, MCP): its routes,
 * and the lifecycle of whatever it owns. Nothing starts until `start()`.
 */
export interface Feature {
  name: string;
  plugin: Elysia<any, any, any, any, any, any, any>;
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
  /** Fields merged into `GET /health`. */
  health?(): Record<string, unknown>;
}

export type FeatureFactory = (context: FeatureContext) => Feature;
