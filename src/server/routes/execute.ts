import { Elysia } from "elysia";
import { AppError } from "../../errors";
import type { ExecuteRequest, Executor } from "../../kernels/executor";
import { errors } from "../../contract/common";
import { ExecuteBody, ExecutionResult } from "../../contract/execute";

type ExecuteBodyType = typeof ExecuteBody.static;

/**
 * Refuses code holding a lone UTF-16 surrogate (JSON's `"\ud800"`): it has no UTF-8 form, so Jupyter
 * cannot deliver it to the kernel, and the run would time out and cost the session its kernel.
 */
export function checkCode(command: string): string {
  if (!command.isWellFormed()) {
    throw new AppError("VALIDATION_ERROR", "The code holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff), which cannot be sent to a kernel or shell; send well-formed Unicode.");
  }
  return command;
}

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
