import type { JobRecord } from './model';
import type { JobWaiter, JobWake } from './ports';

/**
 * The in-process `JobWaiter`: the report that ends a job wakes the requests of this process that
 * wait for it, with no timer on that path. Listeners are per job and removed on `close`; a job
 * nobody waits for costs a map lookup.
 */
export class InProcessJobWaiter implements JobWaiter {
  private readonly listeners = new Map<string, Set<Listener>>();

  listen(jobId: string): JobWake {
    const listener = new Listener(() => {
      const set = this.listeners.get(jobId);
      set?.delete(listener);
      if (set?.size === 0) this.listeners.delete(jobId);
    });
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return listener;
  }

  async notify(job: Pick<JobRecord, 'jobId'>, ended?: JobRecord): Promise<void> {
    this.wake(job.jobId, ended);
  }

  /** Wakes this process's listeners of `jobId` at once. */
  wake(jobId: string, ended?: JobRecord): void {
    for (const listener of this.listeners.get(jobId) ?? []) listener.wake(ended);
  }

  /** Requests waiting in this process (tests, the benchmark). */
  get waiting(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  /** Waits not woken since they last slept: those a wake-up from elsewhere could still be for (adapters/sqs-wake.ts). */
  get unwoken(): number {
    let n = 0;
    for (const set of this.listeners.values()) for (const listener of set) if (!listener.woken) n++;
    return n;
  }
}

class Listener implements JobWake {
  /** Woken since it last slept (it is reading the job, or about to). */
  woken = false;
  private notified = false;
  private job?: JobRecord;
  private resolve?: (notified: boolean) => void;
  private timer?: NodeJS.Timeout;

  constructor(readonly close: () => void) {}

  wake(ended?: JobRecord): void {
    this.woken = true;
    if (ended) this.job = ended;
    if (this.resolve) this.settle(true);
    else this.notified = true;
  }

  ended(): JobRecord | undefined {
    const job = this.job;
    this.job = undefined;
    return job;
  }

  sleep(ms: number): Promise<boolean> {
    this.woken = false;
    if (this.notified) {
      this.notified = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(() => this.settle(false), Math.max(0, ms));
    });
  }

  private settle(notified: boolean): void {
    clearTimeout(this.timer);
    const resolve = this.resolve;
    this.resolve = undefined;
    this.timer = undefined;
    resolve?.(notified);
  }
}

/** A waiter that never wakes anyone: the consistent reads alone (what a waiting Lambda in AWS has). */
export const NO_WAKE: JobWaiter = {
  listen: () => ({ sleep: (ms) => new Promise((r) => setTimeout(() => r(false), Math.max(0, ms))), ended: () => undefined, close: () => undefined }),
  notify: async () => undefined,
};
