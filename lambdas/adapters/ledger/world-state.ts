/**
 * The embedded ledger's world state: committed values in key order plus every key's history,
 * rebuilt from the block file on open and updated as blocks are appended. Keys are compared by
 * UTF-16 code unit, which matches Fabric's byte order for the keys the chaincode uses.
 */

/** One committed change to a key. */
export interface KeyVersion {
  txId: string;
  /** Transaction time, milliseconds since the epoch. */
  timestampMs: number;
  /** null for a delete */
  value: Buffer | null;
}

/** A write as recorded in a block: the new value, or null for a delete. */
export interface StateWrite {
  key: string;
  value: Buffer | null;
}

export class WorldState {
  private readonly values = new Map<string, Buffer>();
  /** All live keys, sorted, for range queries. */
  private readonly sortedKeys: string[] = [];
  private readonly history = new Map<string, KeyVersion[]>();

  get(key: string): Buffer | undefined {
    return this.values.get(key);
  }

  /** Live entries with `start <= key < end` (`end` undefined: no upper bound), in key order. */
  range(start: string, end: string | undefined): Array<{ key: string; value: Buffer }> {
    const out: Array<{ key: string; value: Buffer }> = [];
    for (let i = this.lowerBound(start); i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i] as string;
      if (end !== undefined && key >= end) break;
      out.push({ key, value: this.values.get(key) as Buffer });
    }
    return out;
  }

  /** Live entries whose key starts with `prefix`, in key order. */
  withPrefix(prefix: string): Array<{ key: string; value: Buffer }> {
    const out: Array<{ key: string; value: Buffer }> = [];
    for (let i = this.lowerBound(prefix); i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i] as string;
      if (!key.startsWith(prefix)) break;
      out.push({ key, value: this.values.get(key) as Buffer });
    }
    return out;
  }

  /** The key's versions, oldest first. */
  versions(key: string): readonly KeyVersion[] {
    return this.history.get(key) ?? [];
  }

  /** Applies one committed transaction's writes. */
  apply(txId: string, timestampMs: number, writes: readonly StateWrite[]): void {
    for (const { key, value } of writes) {
      const index = this.lowerBound(key);
      const present = this.sortedKeys[index] === key;
      if (value === null) {
        if (present) this.sortedKeys.splice(index, 1);
        this.values.delete(key);
      } else {
        if (!present) this.sortedKeys.splice(index, 0, key);
        this.values.set(key, value);
      }
      const versions = this.history.get(key) ?? [];
      versions.push({ txId, timestampMs, value });
      this.history.set(key, versions);
    }
  }

  get size(): number {
    return this.values.size;
  }

  /** Index of the first key >= `key`. */
  private lowerBound(key: string): number {
    let low = 0;
    let high = this.sortedKeys.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.sortedKeys[mid] as string) < key) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
