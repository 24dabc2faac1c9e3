#!/usr/bin/env bun
import { ConfigError, describeSettings, loadConfig } from "./config";
import { prepareServe } from "./confinement/entry";
import { CONTAINER_COMMANDS } from "./docker/commands";
import { messageOf } from "./errors";
import { createLogger } from "./log";
import { startServer } from "./server/serve";
import { VERSION } from "./version";

const HELP = `coderunner ${VERSION} — a local code sandbox for AI agents

Usage:
  coderunner              Bring the sandbox container up and serve its API on 127.0.0.1:8223 (Ctrl-C stops
                          serving; the container keeps running)
  coderunner up [--rebuild]  Build the image if needed, create or resume the container, wait until it answers
  coderunner down [--rm]  Stop the container (--rm also removes it and the files inside it)
  coderunner status       Docker Engine, image and container state (--json for a machine-readable report)
  coderunner logs [-f] [--tail N]  The container's log
  coderunner build        Rebuild the image from the Dockerfile embedded in this binary
  coderunner serve        Run the REST server, Jupyter kernels and the browser here (the container's entrypoint)
  coderunner --version    Print the version
  coderunner --help       Show this help

Settings (environment variables):
${describeSettings()}
`;

/** Commands beyond `serve`, registered by the container layer (up, down, status, logs, host mode). */
export type Command = (args: string[]) => Promise<number>;
export const COMMANDS: Record<string, Command> = { ...CONTAINER_COMMANDS };

async function serve(): Promise<number> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  // @jupyterlab/services announces every websocket on console.debug; keep that in our debug log.
  console.debug = (...parts: unknown[]) => log.debug(parts.map(String).join(" "));
  const confinement = await prepareServe(config, log);
  const server = await startServer(config, log, { confinement });
  const { promise: done, resolve } = Promise.withResolvers<number>();
  const shutdown = (signal: string) => {
    log.info(`${signal}: stopping sessions, kernels and Jupyter Server`);
    server.stop().then(
      () => resolve(0),
      (error) => {
        log.error(`Stopping failed: ${messageOf(error)}`);
        resolve(1);
      },
    );
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  return done;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--version" || command === "-v" || command === "version") {
    console.log(VERSION);
    return 0;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(HELP);
    return 0;
  }
  if (command === "serve") return serve();
  const handler = COMMANDS[command ?? "host"];
  if (handler) return handler(rest);
  console.error(command ? `Unknown command: ${command}\n\n${HELP}` : HELP);
  return 2;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof ConfigError ? `coderunner: ${error.message}` : `coderunner: ${messageOf(error)}`);
      process.exit(1);
    },
  );
}
