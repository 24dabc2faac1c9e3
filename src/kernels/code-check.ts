import { AppError } from "../errors";

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
