/**
 * What a process read lately, kept for `ttlMs` and then read again: the bound within which a change
 * made by another process (another Lambda sandbox) is seen, which each user states. At most `max`
 * entries, the oldest first out. An entry at or past its time, or dated after now (a clock that
 * stepped back), is gone. Used by authentication (`auth-cache.ts`) and invocations' function
 * records (`use-cases/functions.ts`).
 */
export class Recent<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();

  constructor(
    readonly ttlMs: number,
    readonly max: number,
  ) {}

  /** The value kept for `key` less than `ttlMs` ago, if any. */
  get(key: K, nowMs = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (nowMs - entry.at >= this.ttlMs || nowMs < entry.at) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` for `key`, read at `nowMs`. */
  set(key: K, value: V, nowMs = Date.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { value, at: nowMs });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Forgets every entry whose value passes `test`. */
  deleteWhere(test: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (test(entry.value)) this.entries.delete(key);
  }
}
