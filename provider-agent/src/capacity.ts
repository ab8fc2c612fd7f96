/**
 * The provider's declared capacity, shared by the jobs it runs. A job takes its vCPUs and memory
 * for as long as it runs; jobs that do not fit yet wait in arrival order. The controller already
 * reserves capacity before sending a job, so waiting is the exception (a report not yet
 * processed, a redelivered message), not the rule.
 */

export interface Amount {
  vcpu: number;
  memoryMb: number;
}

/** vCPU amounts are fractional; compare them in thousandths to avoid float drift. */
const milli = (vcpu: number) => Math.round(vcpu * 1000);

export class CapacityGate {
  private usedMilliCpu = 0;
  private usedMemoryMb = 0;
  private readonly waiters: Array<{ need: Amount; grant: () => void }> = [];
  private readonly roomWatchers = new Set<() => void>();

  constructor(readonly total: Amount) {}

  get used(): Amount {
    return { vcpu: this.usedMilliCpu / 1000, memoryMb: this.usedMemoryMb };
  }

  /** What is not held by running jobs (never negative). */
  get free(): Amount {
    return { vcpu: Math.max(0, milli(this.total.vcpu) - this.usedMilliCpu) / 1000, memoryMb: Math.max(0, this.total.memoryMb - this.usedMemoryMb) };
  }

  /** True if `need` fits in the whole capacity (it may still have to wait for running jobs). */
  couldEverFit(need: Amount): boolean {
    return milli(need.vcpu) <= milli(this.total.vcpu) && need.memoryMb <= this.total.memoryMb;
  }

  /** True when nothing waits and some capacity is free: worth asking the queue for another job. */
  hasRoom(): boolean {
    return this.waiters.length === 0 && this.usedMilliCpu < milli(this.total.vcpu) && this.usedMemoryMb < this.total.memoryMb;
  }

  /** Resolves once {@link hasRoom} holds, or rejects when `signal` aborts. */
  whenRoom(signal: AbortSignal): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const watcher = () => {
        if (!this.hasRoom()) return;
        this.roomWatchers.delete(watcher);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.roomWatchers.delete(watcher);
        reject(signal.reason);
      };
      this.roomWatchers.add(watcher);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Takes `need` once it fits (first come, first served) and returns the function that gives it
   * back. Rejects when `signal` aborts first. `need` must satisfy {@link couldEverFit}.
   */
  acquire(need: Amount, signal: AbortSignal): Promise<() => void> {
    if (!this.couldEverFit(need)) return Promise.reject(new Error(`${need.vcpu} vCPU / ${need.memoryMb} MB exceeds the whole capacity`));
    return new Promise((resolve, reject) => {
      const waiter = {
        need,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          this.take(need);
          resolve(this.releaser(need));
        },
      };
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal.reason);
        this.dispatch();
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.dispatch();
    });
  }

  private fits(need: Amount): boolean {
    return this.usedMilliCpu + milli(need.vcpu) <= milli(this.total.vcpu) && this.usedMemoryMb + need.memoryMb <= this.total.memoryMb;
  }

  private take(need: Amount): void {
    this.usedMilliCpu += milli(need.vcpu);
    this.usedMemoryMb += need.memoryMb;
  }

  private releaser(need: Amount): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.usedMilliCpu -= milli(need.vcpu);
      this.usedMemoryMb -= need.memoryMb;
      this.dispatch();
    };
  }

  /** Grants waiting jobs in order while the first one fits, then tells the room watchers. */
  private dispatch(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0].need)) this.waiters.shift()!.grant();
    for (const watcher of [...this.roomWatchers]) watcher();
  }
}
