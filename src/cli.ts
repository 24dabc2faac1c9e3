#!/usr/bin/env bun
import { ConfigError, describeSettings, loadConfig } from "./config";
import { HOST_COMMANDS } from "./cli/commands";
import { prepareServe } from "./confinement/entry";
import { messageOf } from "./errors";
import { createLogger, survivePromiseRejections } from "./log";
import { startServer } from "./server/serve";
import { VERSION } from "./version";

const HELP = `coderunner ${VERSION} — a local code sandbox for AI agents

Usage:
  coderunner              Serve the API on 127.0.0.1:8223 here, every session in a sandbox (container) of its own
                          (Ctrl-C stops serving; sandboxes keep running)
  coderunner up [--rebuild] [--json]  The same in the background: build the image if needed, start the host,
                          wait until it answers
  coderunner down [--rm]  Stop the host, remove every session's sandbox, stop the default sandbox (--rm also
                          removes it and its files)
  coderunner status       Docker Engine, image, host and sandboxes (--json for a machine-readable report)
  coderunner logs [-f] [--tail N] [--host] [NAME]  A sandbox's log (the default one's), or the host's
  coderunner doctor       Check what coderunner up needs: Engine, socket, architecture, disk, ports (each with its fix)
  coderunner build        Rebuild the image from the Dockerfile embedded in this binary
  coderunner serve        Run the REST server, Jupyter kernels and the browser here, with no sandboxes (the
                          sandbox's entrypoint; alone, sessions are processes on this machine: trusted code only)
  coderunner --version    Print the version
  coderunner --help       Show this help

Settings (environment variables):
${describeSettings()}
`;

/** Commands beyond `serve`: the host side (up, down, status, logs, build, host). */
export type Command = (args: string[]) => Promise<number>;
export const COMMANDS: Record<string, Command> = { ...HOST_COMMANDS };

async function serve(): Promise<number> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  // @jupyterlab/services announces every websocket on console.debug; keep that in our debug log.
  console.debug = (...parts: unknown[]) => log.debug(parts.map(String).join(" "));
  survivePromiseRejections(log);
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
