import type { Context } from 'fabric-contract-api';
import { canonicalJson } from './canonical-json';
import { AdjustmentMovement, BalanceMovements, BillPaymentMovement, Settlement, TermsMovement, TopUpMovement } from './models';
import { BALANCE_MOVEMENTS_EVENT } from './names';

/** 'applied' when an operation changed state, 'duplicate' when it repeated one exactly and changed nothing. */
export type Applied = 'applied' | 'duplicate';

/**
 * The world-state view of one transaction.
 *
 * Fabric does not show a transaction its own writes (`getState` after `putState` returns the
 * committed value), yet a batch applies many events in order, and a later event must see what an
 * earlier one wrote. So every read goes through this overlay, which keeps the transaction's
 * pending writes and falls back to the stub; nothing reaches the stub until `Tx.commit`.
 *
 * An overlay can be forked: a batch runs each event in a fork and merges it only if the event
 * succeeded, so a refused event leaves no partial writes behind.
 *
 * Each committed key and each committed range is fetched from the peer at most once per
 * transaction: the root layer keeps what the stub answered (committed state cannot change under a
 * running simulation, and Fabric's read set records the first read of a key anyway). A `SubmitBatch`
 * of many jobs of one developer so reads the provider record, the accounts, the terms and the
 * developer's balance range once, not once per job and again per debit.
 */
export class TxState {
  /** Pending writes of this layer: serialised value, or null for a delete. */
  private readonly writes = new Map<string, string | null>();
  /** Root only: committed values already fetched (undefined: fetched, absent). */
  private readonly committed = new Map<string, string | undefined>();
  /** Root only: committed ranges already fetched, by partial-key prefix, in key order. */
  private readonly committedRanges = new Map<string, Array<[string, string]>>();

  constructor(
    private readonly ctx: Context,
    private readonly parent?: TxState,
  ) {}

  /** Builds a composite key (`objectType` + attributes) the same way on every peer. */
  key(objectType: string, attributes: string[]): string {
    return this.ctx.stub.createCompositeKey(objectType, attributes);
  }

  /** The parsed value at `key`, or undefined if there is none. */
  async get<T>(key: string): Promise<T | undefined> {
    const raw = await this.getRaw(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  /** Writes `value` at `key` as canonical JSON. The only way the chaincode writes state. */
  put(key: string, value: object): void {
    this.writes.set(key, canonicalJson(value));
  }

  delete(key: string): void {
    this.writes.set(key, null);
  }

  /**
   * Every entry whose composite key starts with `objectType` + `attributes`, in key order,
   * committed entries merged with this transaction's pending writes.
   */
  async listByPartialKey<T>(objectType: string, attributes: string[]): Promise<Array<{ key: string; value: T }>> {
    const prefix = this.key(objectType, attributes);
    const merged = new Map<string, string>(await this.root().committedRange(prefix, objectType, attributes));
    for (const [key, value] of this.pendingWithPrefix(prefix)) {
      if (value === null) merged.delete(key);
      else merged.set(key, value);
    }
    return [...merged.keys()].sort(compareKeys).map((key) => ({ key, value: JSON.parse(merged.get(key) as string) as T }));
  }

  /**
   * This transaction's own pending value at `key`, never asking the peer: for keys only this
   * transaction can have written (a key holding its transaction id), where a read would cost a
   * round trip and answer nothing.
   */
  pendingValue<T>(key: string): T | undefined {
    if (this.writes.has(key)) {
      const raw = this.writes.get(key);
      return raw === null || raw === undefined ? undefined : (JSON.parse(raw) as T);
    }
    return this.parent?.pendingValue<T>(key);
  }

  /** A child layer whose writes reach this one only through `merge`. */
  fork(): TxState {
    return new TxState(this.ctx, this);
  }

  /** Moves this layer's writes into its parent. */
  merge(): void {
    if (!this.parent) throw new Error('only a forked state can be merged');
    for (const [key, value] of this.writes) this.parent.writes.set(key, value);
    this.writes.clear();
  }

  /** Sends the pending writes to the stub, in key order so that every peer issues the same calls. */
  async flush(): Promise<void> {
    if (this.parent) throw new Error('flush the root state, not a fork');
    for (const key of [...this.writes.keys()].sort(compareKeys)) {
      const value = this.writes.get(key);
      if (value === null || value === undefined) await this.ctx.stub.deleteState(key);
      else await this.ctx.stub.putState(key, Buffer.from(value, 'utf8'));
    }
    this.writes.clear();
  }

  private async getRaw(key: string): Promise<string | undefined> {
    if (this.writes.has(key)) return this.writes.get(key) ?? undefined;
    if (this.parent) return this.parent.getRaw(key);
    if (this.committed.has(key)) return this.committed.get(key);
    const bytes = await this.ctx.stub.getState(key);
    const value = bytes && bytes.length > 0 ? Buffer.from(bytes).toString('utf8') : undefined;
    this.committed.set(key, value);
    return value;
  }

  private root(): TxState {
    return this.parent ? this.parent.root() : this;
  }

  /** The committed entries under `prefix`, fetched from the peer once per transaction. */
  private async committedRange(prefix: string, objectType: string, attributes: string[]): Promise<Array<[string, string]>> {
    const cached = this.committedRanges.get(prefix);
    if (cached) return cached;
    const entries: Array<[string, string]> = [];
    for await (const kv of this.ctx.stub.getStateByPartialCompositeKey(objectType, attributes)) {
      entries.push([kv.key, Buffer.from(kv.value).toString('utf8')]);
    }
    this.committedRanges.set(prefix, entries);
    return entries;
  }

  /** Pending writes under `prefix` from this layer and its ancestors; nearer layers win. */
  private pendingWithPrefix(prefix: string): Map<string, string | null> {
    const found = this.parent ? this.parent.pendingWithPrefix(prefix) : new Map<string, string | null>();
    for (const [key, value] of this.writes) if (key.startsWith(prefix)) found.set(key, value);
    return found;
  }
}

/**
 * ISO-8601 form of a Fabric timestamp. fabric-shim gives `getTxTimestamp().seconds` as a Long but
 * history entries' `timestamp.seconds` as a plain number (protobuf `toObject`); both are accepted.
 */
export function timestampToIso(timestamp: { seconds: { toNumber(): number } | number; nanos: number }): string {
  const seconds = typeof timestamp.seconds === 'number' ? timestamp.seconds : timestamp.seconds.toNumber();
  return new Date(seconds * 1000 + Math.floor(timestamp.nanos / 1_000_000)).toISOString();
}

/** Byte order of UTF-8 keys (Fabric's LevelDB order); for the keys used here, code-unit order. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One chaincode transaction: its id, its timestamp (from the proposal, the same on every peer),
 * its state overlay, and the balance movements it will announce in its chaincode event.
 */
export class Tx {
  readonly txId: string;
  /** ISO-8601 form of the transaction timestamp. Never the local clock. */
  readonly timestamp: string;
  readonly settlements: Settlement[] = [];
  readonly topUps: TopUpMovement[] = [];
  readonly billPayments: BillPaymentMovement[] = [];
  readonly terms: TermsMovement[] = [];
  readonly adjustments: AdjustmentMovement[] = [];
  /** Next sequence number for per-transaction keys; shared with forks through the root. */
  private sequence = 0;

  private constructor(
    readonly ctx: Context,
    readonly state: TxState,
    private readonly parent?: Tx,
  ) {
    this.txId = ctx.stub.getTxID();
    this.timestamp = timestampToIso(ctx.stub.getTxTimestamp());
  }

  /** Starts the transaction for `ctx`. */
  static begin(ctx: Context): Tx {
    return new Tx(ctx, new TxState(ctx));
  }

  /** A nested unit of work (one batch event) that can be merged or dropped. */
  fork(): Tx {
    return new Tx(this.ctx, this.state.fork(), this);
  }

  /**
   * A number unique within the whole transaction (forks included), zero-padded so that keys built
   * from it sort in the order they were made.
   */
  nextSequence(): string {
    if (this.parent) return this.parent.nextSequence();
    return String(this.sequence++).padStart(6, '0');
  }

  /** Keeps a fork's writes and movements. */
  merge(): void {
    if (!this.parent) throw new Error('only a forked transaction can be merged');
    this.state.merge();
    this.parent.settlements.push(...this.settlements);
    this.parent.topUps.push(...this.topUps);
    this.parent.billPayments.push(...this.billPayments);
    this.parent.terms.push(...this.terms);
    this.parent.adjustments.push(...this.adjustments);
  }

  /**
   * Writes the pending state and, if any balance moved, sets the one chaincode event Fabric
   * allows per transaction.
   */
  async commit(): Promise<void> {
    if (this.parent) throw new Error('commit the root transaction, not a fork');
    await this.state.flush();
    if (this.settlements.length > 0 || this.topUps.length > 0 || this.billPayments.length > 0 || this.terms.length > 0 || this.adjustments.length > 0) {
      const movements: BalanceMovements = { txId: this.txId, timestamp: this.timestamp, settlements: this.settlements, topUps: this.topUps };
      // Listed only when present, so the events of transactions without them read as before.
      if (this.billPayments.length > 0) movements.billPayments = this.billPayments;
      if (this.terms.length > 0) movements.terms = this.terms;
      if (this.adjustments.length > 0) movements.adjustments = this.adjustments;
      this.ctx.stub.setEvent(BALANCE_MOVEMENTS_EVENT, Buffer.from(canonicalJson(movements), 'utf8'));
    }
  }
}
