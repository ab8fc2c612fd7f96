/**
 * The warm containers of `http` functions, least recently used first out. A container is keyed
 * by what makes it interchangeable (function id, version, image digest, resources, network,
 * environment); a job takes an idle container with its key or starts a new one. The memory
 * limits of all kept containers stay within a budget: admitting a new container first evicts
 * idle ones, least recently used first, and a container released while the pool is over budget
 * is evicted rather than kept. Idle containers expire after `idleMs`.
 *
 * An entry may serve `slots` jobs at once (the function's `concurrency`, default 1): `take`
 * hands out an entry with a free slot, one already serving first (so overlapping calls fill a
 * container before another starts), else the most recently used idle one. When calls overlap
 * beyond the free slots, `take` finds nothing and the runner starts another container: a
 * function gets as many warm containers as its overlapping calls need, within the budget.
 *
 * The pool only keeps the books; `destroy` (given by the runner) stops and removes a container.
 */

export interface PoolEntry {
  key: string;
  functionId: string;
  memoryMb: number;
  /** Serving at least one job: never evicted; handed to another job only while it has a free slot. */
  busy: boolean;
  /** Jobs it serves now. @default 1 while busy, else 0 */
  inflight?: number;
  /** Jobs it may serve at once. @default 1 */
  slots?: number;
  /** When the entry was last released (ms since the epoch). */
  lastUsed: number;
}

export interface WarmPoolOptions<E extends PoolEntry> {
  /** Memory limits of all kept containers together, MB. 0 keeps nothing warm. */
  budgetMb: number;
  /** An idle container older than this is removed. */
  idleMs: number;
  /** Stops and removes the container of an entry that left the pool. Must not throw. */
  destroy: (entry: E, why: string) => Promise<void>;
  /** @default Date.now */
  now?: () => number;
}

export class WarmPool<E extends PoolEntry> {
  private readonly entries: E[] = [];
  private readonly destroying = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly options: WarmPoolOptions<E>) {
    this.now = options.now ?? Date.now;
  }

  /**
   * An entry with `key` and a free slot, now serving one more job: a busy one first (the fullest),
   * else the most recently used idle one; undefined when there is none.
   */
  take(key: string): E | undefined {
    let best: E | undefined;
    for (const e of this.entries) {
      if (e.key !== key || inflight(e) >= (e.slots ?? 1)) continue;
      if (!best || inflight(e) > inflight(best) || (inflight(e) === inflight(best) && e.lastUsed > best.lastUsed)) best = e;
    }
    if (best) {
      best.inflight = inflight(best) + 1;
      best.busy = true;
    }
    return best;
  }

  /**
   * Adds a new, busy entry. Idle entries are evicted first, least recently used first, until the
   * new one fits the budget; if it cannot fit even so, it is admitted anyway (it serves its job)
   * and evicted when released.
   */
  admit(entry: E): void {
    entry.busy = true;
    entry.inflight = 1;
    for (const idle of this.idleByAge()) {
      if (this.usedMb() + entry.memoryMb <= this.options.budgetMb) break;
      this.evict(idle, 'making room for a new warm container');
    }
    this.entries.push(entry);
  }

  /** A job is done with `entry`: with no job left it becomes idle, unless the pool is over budget (then the least recently used idle entries go). */
  release(entry: E): void {
    if (!this.entries.includes(entry)) return;
    entry.inflight = Math.max(0, inflight(entry) - 1);
    entry.busy = entry.inflight > 0;
    entry.lastUsed = this.now();
    if (entry.busy) return;
    for (const idle of this.idleByAge()) {
      if (this.usedMb() <= this.options.budgetMb) break;
      this.evict(idle, 'over the warm pool memory budget');
    }
  }

  /** Removes `entry` (a container that failed, timed out or was aborted) and destroys it; resolves once it is gone. */
  async remove(entry: E, why: string): Promise<void> {
    if (!this.entries.includes(entry)) return;
    await this.evict(entry, why);
  }

  /** Evicts idle entries that have not been used for `idleMs`. */
  sweep(): void {
    const cutoff = this.now() - this.options.idleMs;
    for (const idle of this.idleByAge()) if (idle.lastUsed <= cutoff) this.evict(idle, 'idle for too long');
  }

  /** Resolves once no removal is under way (removals run off the jobs' path). */
  async settled(): Promise<void> {
    while (this.destroying.size > 0) await Promise.allSettled([...this.destroying]);
  }

  /** Destroys every entry, busy or not, and waits until all are gone. */
  async close(): Promise<void> {
    for (const entry of [...this.entries]) void this.evict(entry, 'the agent is stopping');
    while (this.destroying.size > 0) await Promise.allSettled([...this.destroying]);
  }

  /** Sum of the memory limits of the kept containers, MB. */
  usedMb(): number {
    return this.entries.reduce((sum, e) => sum + e.memoryMb, 0);
  }

  /** Function ids with at least one container in the pool, most recently used first. */
  warmFunctions(): string[] {
    const order = [...this.entries].sort((a, b) => Number(b.busy) - Number(a.busy) || b.lastUsed - a.lastUsed);
    return [...new Set(order.map((e) => e.functionId))];
  }

  /** A snapshot of the entries, for status displays and tests. */
  list(): ReadonlyArray<Readonly<E>> {
    return [...this.entries];
  }

  private idleByAge(): E[] {
    return this.entries.filter((e) => !e.busy).sort((a, b) => a.lastUsed - b.lastUsed);
  }

  private evict(entry: E, why: string): Promise<void> {
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
    const done = this.options.destroy(entry, why).finally(() => this.destroying.delete(done));
    this.destroying.add(done);
    return done;
  }
}

/** Jobs an entry serves now (entries made before `inflight` existed count 1 while busy). */
function inflight(e: PoolEntry): number {
  return e.inflight ?? (e.busy ? 1 : 0);
}
