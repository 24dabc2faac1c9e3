import type { ExecutionResult } from "../../src/kernels/executor";

/** A successful `/execute` result for fakes, with `over` applied. */
export function executionResult(over: Partial<ExecutionResult> = {}): ExecutionResult {
  return {
    stdout: "out\n",
    stderr: "",
    execution_time: 0.01,
    cpu_time: 0.005,
    session_id: "s",
    status: "ok",
    error: null,
    results: [],
    truncated: false,
    state_lost: false,
    exit_code: null,
    ...over,
  };
}
