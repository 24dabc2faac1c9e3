import { Elysia } from "elysia";
import { messageOf } from "../../errors";
import type { Executor } from "../../kernels/executor";
import type { SessionStore } from "../../kernels/session-store";
import type { Logger } from "../../log";
import { streamRun } from "../../tasks/sse-stream";
import { errors } from "../../contract/common";
import { ExecuteBody } from "../../contract/execute";
import { toExecuteRequest } from "./execute";

/** `POST /execute/stream`: a run's output as Server-Sent Events, ending with the `/execute` result. */
export function streamRoutes(executor: Executor, sessions: SessionStore, log: Logger, heartbeatMs?: number) {
  return new Elysia({ name: "stream" }).post(
    "/execute/stream",
    async ({ body, request }) => {
      const run = toExecuteRequest(body);
      // Validated before the stream opens, so bad input is still a plain 4xx {detail, code}.
      const timeout = executor.timeoutSeconds(run.timeout);
      const session = await sessions.resolve(run.session_id);
      return streamRun((controls) => executor.run(session, run, timeout, controls), {
        heartbeatMs,
        requestSignal: request.signal,
        onUnexpected: (error) => log.error(`Streamed run in ${session.id} failed: ${(error as Error)?.stack ?? messageOf(error)}`),
      });
    },
    {
      body: ExecuteBody,
      response: { ...errors(400, 404, 413, 422) },
      detail: {
        tags: ["Execution"],
        summary: "Run code and stream its output as Server-Sent Events",
        description:
          "text/event-stream. Events: stdout / stderr {type, text}, result {type, data} (rich output by MIME type), error {type, error} (the code raised), then done: the same object POST /execute returns. failed {detail, code} if the run could not happen. Disconnecting interrupts the run.",
        responses: { 200: { description: "An SSE stream", content: { "text/event-stream": { schema: { type: "string" } } } } },
      },
    },
  );
}
