/**
 * Runs jobs one at a time in submission order. Jobs not yet started can be cancelled together
 * (a session being closed), each rejecting with the error given, so nothing is silently lost.
 */
export class SerialQueue {
  private readonly waiting: { start: () => void; reject: (error: unknown) => void }[] = [];
  private busy = false;

  /** Jobs submitted and not finished, the running one included. */
  get length(): number {
    return this.waiting.length + (this.busy ? 1 : 0);
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.busy = true;
        job().then(
          (value) => {
            this.startNext();
            resolve(value);
          },
          (error) => {
            this.startNext();
            reject(error);
          },
        );
      };
      if (this.busy) this.waiting.push({ start, reject });
      else start();
    });
  }

  private startNext(): void {
    this.busy = false;
    this.waiting.shift()?.start();
  }

  /** Rejects every job that has not started yet; the running one finishes. */
  cancelPending(error: unknown): number {
    const cancelled = this.waiting.splice(0);
    for (const job of cancelled) job.reject(error);
    return cancelled.length;
  }
}
