import type { Elysia } from "elysia";
import type { Config } from "../config";
import type { Executor } from "../kernels/executor";
import type { SessionStore } from "../kernels/session-store";
import type { Logger } from "../log";

/** What a feature gets from the composition root. */
export interface FeatureContext {
  config: Config;
  log: Logger;
  sessions: SessionStore;
  executor: Executor;
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
