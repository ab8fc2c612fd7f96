import type { ChaincodeStub, ClientIdentity, Iterators, SplitCompositekey, Timestamp } from 'fabric-shim-api';
import type { WorldState } from './world-state';

/**
 * What the embedded ledger hands a contract as `ctx.stub` and `ctx.clientIdentity`: the parts of
 * fabric-shim's API the ChaincodeStub offers for world state, keys, history, transaction metadata
 * and events, with Fabric's semantics:
 *
 * - reads see committed state only, never the transaction's own writes;
 * - `putState` with an empty value is a delete;
 * - range results come in key order; `getStateByRange('', …)` skips composite keys;
 * - `getHistoryForKey` lists versions newest first;
 * - only the last `setEvent` of a transaction is kept;
 * - composite keys are `\u0000type\u0000attr1\u0000…\u0000`.
 *
 * Writes are collected in `writes` and reach the world state only if the embedded ledger commits
 * the transaction. Private data, cross-chaincode calls and rich queries are not offered: calling
 * them throws.
 */

const COMPOSITE_NAMESPACE = '\u0000';
const MAX_UNICODE = '\u{10FFFF}';
/** Fabric starts an open-ended range after the composite-key namespace. */
const EMPTY_KEY_SUBSTITUTE = '\u0001';

/** Who submits a transaction: an MSP id and Fabric's client id string. */
export interface LedgerIdentity {
  mspId: string;
  /** Fabric's form is `x509::<subject DN>::<issuer DN>`. */
  id: string;
}

/** The chaincode event a transaction set. */
export interface ChaincodeEventRecord {
  name: string;
  payload: Buffer;
}

/** Transaction metadata the stub reports. */
export interface SimulatedTx {
  txId: string;
  timestampMs: number;
  channelId: string;
  chaincodeName: string;
  /** `Contract:Function` followed by the string arguments, as Fabric would pass them. */
  args: string[];
  creator: LedgerIdentity;
}

export class SimulatedStub {
  /** Pending writes in the order made (a later write to the same key replaces the earlier). */
  readonly writes = new Map<string, Buffer | null>();
  event: ChaincodeEventRecord | undefined;

  constructor(
    private readonly state: WorldState,
    private readonly tx: SimulatedTx,
  ) {}

  getTxID(): string {
    return this.tx.txId;
  }

  getChannelID(): string {
    return this.tx.channelId;
  }

  getArgs(): string[] {
    return [...this.tx.args];
  }

  getStringArgs(): string[] {
    return [...this.tx.args];
  }

  getFunctionAndParameters(): { fcn: string; params: string[] } {
    const [fcn = '', ...params] = this.tx.args;
    return { fcn, params };
  }

  getCreator(): { mspid: string; idBytes: Uint8Array } {
    return { mspid: this.tx.creator.mspId, idBytes: Buffer.from(this.tx.creator.id, 'utf8') };
  }

  getTxTimestamp(): Timestamp {
    return toTimestamp(this.tx.timestampMs);
  }

  getDateTimestamp(): Date {
    return new Date(this.tx.timestampMs);
  }

  async getState(key: string): Promise<Uint8Array> {
    requireKey(key);
    return copy(this.state.get(key) ?? Buffer.alloc(0));
  }

  async putState(key: string, value: Uint8Array): Promise<void> {
    requireKey(key);
    this.writes.set(key, value.length === 0 ? null : copy(value));
  }

  async deleteState(key: string): Promise<void> {
    requireKey(key);
    this.writes.set(key, null);
  }

  getStateByRange(startKey: string, endKey: string): Promise<Iterators.StateQueryIterator> & AsyncIterable<Iterators.KV> {
    const entries = this.state.range(startKey === '' ? EMPTY_KEY_SUBSTITUTE : startKey, endKey === '' ? undefined : endKey);
    return queryResult(entries.map(({ key, value }) => this.kv(key, value)));
  }

  getStateByPartialCompositeKey(objectType: string, attributes: string[]): Promise<Iterators.StateQueryIterator> & AsyncIterable<Iterators.KV> {
    const prefix = this.createCompositeKey(objectType, attributes);
    return queryResult(this.state.withPrefix(prefix).map(({ key, value }) => this.kv(key, value)));
  }

  getHistoryForKey(key: string): Promise<Iterators.HistoryQueryIterator> & AsyncIterable<Iterators.KeyModification> {
    requireKey(key);
    const versions = [...this.state.versions(key)].reverse();
    return queryResult(
      versions.map((version) => ({
        txId: version.txId,
        // fabric-shim hands history timestamps over as protobuf `toObject()`: plain-number seconds.
        timestamp: { seconds: Math.floor(version.timestampMs / 1000), nanos: (version.timestampMs % 1000) * 1_000_000 } as unknown as Timestamp,
        isDelete: version.value === null,
        value: copy(version.value ?? Buffer.alloc(0)),
      })),
    );
  }

  setEvent(name: string, payload: Uint8Array): void {
    if (typeof name !== 'string' || name.length === 0) throw new Error('event name must be a non-empty string');
    this.event = { name, payload: copy(payload) };
  }

  createCompositeKey(objectType: string, attributes: string[]): string {
    requireKeyPart(objectType);
    for (const attribute of attributes) requireKeyPart(attribute);
    return COMPOSITE_NAMESPACE + objectType + COMPOSITE_NAMESPACE + attributes.map((a) => a + COMPOSITE_NAMESPACE).join('');
  }

  splitCompositeKey(compositeKey: string): SplitCompositekey {
    if (!compositeKey.startsWith(COMPOSITE_NAMESPACE)) return { objectType: '', attributes: [] };
    const parts = compositeKey.slice(1).split(COMPOSITE_NAMESPACE);
    const [objectType = '', ...attributes] = parts.slice(0, -1);
    return { objectType, attributes };
  }

  private kv(key: string, value: Buffer): Iterators.KV {
    return { namespace: this.tx.chaincodeName, key, value: copy(value) };
  }
}

/** `ctx.clientIdentity` for a transaction submitted as `identity`. Carries no X.509 attributes. */
export class SimulatedClientIdentity implements ClientIdentity {
  constructor(private readonly identity: LedgerIdentity) {}

  getID(): string {
    return this.identity.id;
  }

  getMSPID(): string {
    return this.identity.mspId;
  }

  getIDBytes(): Uint8Array {
    return Buffer.from(this.identity.id, 'utf8');
  }

  getAttributeValue(): string | null {
    return null;
  }

  assertAttributeValue(): boolean {
    return false;
  }
}

/**
 * The stub as fabric-contract-api types it. The methods SimulatedStub does not offer (private
 * data, invokeChaincode, rich queries, pagination, key-level endorsement) are absent and throw
 * a TypeError if a contract calls them.
 */
export function asChaincodeStub(stub: SimulatedStub): ChaincodeStub {
  return stub as unknown as ChaincodeStub;
}

/** A Fabric protobuf-style timestamp; `seconds` offers the `Long` methods contracts use. */
function toTimestamp(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  const longSeconds = { toNumber: () => seconds, toString: () => String(seconds), toJSON: () => String(seconds), low: seconds | 0, high: 0, unsigned: true };
  return { seconds: longSeconds as unknown as Timestamp['seconds'], nanos: (ms % 1000) * 1_000_000 };
}

/** fabric-shim's query results are both a promise of an iterator and an async iterable. */
function queryResult<T>(items: T[]): Promise<Iterators.CommonIterator<T>> & AsyncIterable<T> {
  let position = 0;
  const iterator: Iterators.CommonIterator<T> = {
    next: async () => (position < items.length ? { value: items[position++] as T, done: false } : { value: undefined as unknown as T, done: true }),
    close: async () => {
      position = items.length;
    },
  };
  return Object.assign(Promise.resolve(iterator), {
    [Symbol.asyncIterator]: async function* () {
      yield* items;
    },
  });
}

function requireKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new Error('key must be a non-empty string');
}

function requireKeyPart(part: string): void {
  if (typeof part !== 'string' || part.includes(COMPOSITE_NAMESPACE) || part.includes(MAX_UNICODE)) {
    throw new Error(`composite key parts must be strings without U+0000 or U+10FFFF, got ${JSON.stringify(part)}`);
  }
}

function copy(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}
