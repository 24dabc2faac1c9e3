import { Elysia } from "elysia";
import { AppError } from "../../errors";
import { checkCode } from "../../kernels/code-check";
import type { ExecuteRequest, Executor } from "../../kernels/executor";
import { errors } from "../../contract/common";
import { ExecuteBody, ExecutionResult } from "../../contract/execute";

type ExecuteBodyType = typeof ExecuteBody.static;

/** The request as the executor takes it: `code` is an alias of `command`. */
export function toExecuteRequest(body: ExecuteBodyType): ExecuteRequest {
  const command = body.command ?? body.code;
  if (command === undefined) throw new AppError("VALIDATION_ERROR", "Missing field 'command' (the code to run).");
  return { command: checkCode(command), language: body.language, timeout: body.timeout, session_id: body.session_id };
}

export function executeRoutes(executor: Executor) {
  return new Elysia({ name: "execute", tags: ["Execution"] } as never).post(
    "/execute",
    // A client that goes away mid-run interrupts it, so its session is not left busy; one that
    // waits gets its answer within the run's timeout, counted from its request.
    ({ body, request }) => executor.execute(toExecuteRequest(body), { signal: request.signal }, true),
    {
      body: ExecuteBody,
      response: { 200: ExecutionResult, ...errors(400, 404, 413, 422) },
      detail: {
        tags: ["Execution"],
        summary: "Run Python or bash in a session and wait for the result",
        description:
          "A user exception still answers 200, with the traceback in stderr and a structured error. On timeout the run is interrupted and the call returns status \"timeout\" with the output so far, within `timeout` seconds of the request (time queued behind the session's earlier runs counts): a client may use the run's timeout as its read timeout.",
      },
    },
  );
}
