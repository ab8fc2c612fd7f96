import '../../lambdas/adapters/ledger/quiet-contract-logs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, Contract } from 'fabric-contract-api';
import type { ChaincodeStub, ClientIdentity, Iterators, Timestamp } from 'fabric-shim-api';
import { contracts } from '../../chaincode/src';
import { EmbeddedLedger } from '../../lambdas/adapters/ledger/embedded-ledger';

/**
 * Two ways to run the chaincode behind one interface, so that one contract test suite runs against
 * both: an in-memory stub that calls the contract methods directly (the unit-test view), and the
 * EmbeddedLedger (the local-mode ledger, through its fabric-style dispatcher and block file).
 */

export interface Identity {
  mspId: string;
  id: string;
}

/** A committed transaction's BalanceMovements event, as both harnesses report it. */
export interface MovementsEvent {
  txId: string;
  settlements: Array<{ jobId: string; cost: number; paid: boolean; reason?: string; payerAccountId: string; payeeAccountId?: string }>;
  topUps: Array<{ accountId: string; amount: number; reference: string }>;
  adjustments?: Array<{ accountId: string; amount: number; kind: string; reference: string }>;
}

export interface ChaincodeHarness {
  readonly controller: Identity;
  /** Submits a transaction; resolves to its return value, rejects with the chaincode's message. */
  submit(contract: string, fn: string, args: string[], as?: Identity): Promise<string>;
  evaluate(contract: string, fn: string, args: string[], as?: Identity): Promise<string>;
  /** The BalanceMovements events of all committed transactions so far, in order. */
  movements(): Promise<MovementsEvent[]>;
  /** Moves the clock of later transactions' timestamps forward (a month ends, say). */
  advanceClock(seconds: number): void;
  /**
   * What the last transaction asked the peer for, one line per call (`get <key>`, `range <prefix>`):
   * the chaincode↔peer round trips of its simulation. Only the in-memory stub counts them.
   */
  lastReads?(): string[];
  close(): Promise<void>;
}

export const CONTROLLER: Identity = { mspId: 'ControllerMSP', id: 'x509::/CN=controller::/CN=test-ca' };

export interface HarnessKind {
  name: string;
  /** Once before the suite (start a process, say). */
  setup?(): Promise<void>;
  /** Once after the suite. */
  teardown?(): Promise<void>;
  /** A fresh, initialised ledger for one test. */
  create(): Promise<ChaincodeHarness>;
}

export const memoryHarness: HarnessKind = { name: 'in-memory stub', create: createMemoryHarness };
export const embeddedHarness: HarnessKind = { name: 'EmbeddedLedger', create: createEmbeddedHarness };

// ------------------------------------------------------------------ in-memory stub

/** Committed state for the in-memory harness. */
interface MemoryWorld {
  state: Map<string, Buffer>;
  history: Map<string, Array<{ txId: string; seconds: number; value: Buffer | null }>>;
  events: MovementsEvent[];
  txCount: number;
  /** Seconds added to every later transaction's timestamp (advanceClock). */
  offsetS: number;
  /** The reads of the transaction running or last run. */
  reads: string[];
}

/**
 * A deliberately small stub, independent of the embedded ledger's: reads see committed state only,
 * writes are buffered and applied when the transaction function returns, dropped if it throws.
 */
class MemoryStub {
  readonly writes = new Map<string, Buffer | null>();
  event: { name: string; payload: string } | undefined;

  constructor(
    private readonly world: MemoryWorld,
    private readonly txId: string,
    private readonly seconds: number,
  ) {}

  getTxID(): string {
    return this.txId;
  }

  getTxTimestamp(): Timestamp {
    return timestamp(this.seconds);
  }

  async getState(key: string): Promise<Uint8Array> {
    this.world.reads.push(`get ${key}`);
    return this.world.state.get(key) ?? Buffer.alloc(0);
  }

  async putState(key: string, value: Uint8Array): Promise<void> {
    this.writes.set(key, Buffer.from(value));
  }

  async deleteState(key: string): Promise<void> {
    this.writes.set(key, null);
  }

  createCompositeKey(objectType: string, attributes: string[]): string {
    return `\u0000${objectType}\u0000${attributes.map((a) => `${a}\u0000`).join('')}`;
  }

  getStateByPartialCompositeKey(objectType: string, attributes: string[]): AsyncIterable<Iterators.KV> {
    const prefix = this.createCompositeKey(objectType, attributes);
    this.world.reads.push(`range ${prefix}`);
    const rows = [...this.world.state.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, value]) => ({ namespace: 'test', key, value }));
    return iterable(rows);
  }

  getHistoryForKey(key: string): AsyncIterable<Iterators.KeyModification> {
    const versions = [...(this.world.history.get(key) ?? [])].reverse();
    // As in fabric-shim, history timestamps carry plain-number seconds (the tx timestamp a Long).
    const plain = (seconds: number) => ({ seconds, nanos: 0 }) as unknown as Timestamp;
    return iterable(versions.map((v) => ({ txId: v.txId, timestamp: plain(v.seconds), isDelete: v.value === null, value: v.value ?? Buffer.alloc(0) })));
  }

  setEvent(name: string, payload: Uint8Array): void {
    this.event = { name, payload: Buffer.from(payload).toString('utf8') };
  }
}

function timestamp(seconds: number): Timestamp {
  return { seconds: { toNumber: () => seconds } as unknown as Timestamp['seconds'], nanos: 0 };
}

async function* iterable<T>(rows: T[]): AsyncIterable<T> {
  yield* rows;
}

async function createMemoryHarness(): Promise<ChaincodeHarness> {
  const world: MemoryWorld = { state: new Map(), history: new Map(), events: [], txCount: 0, offsetS: 0, reads: [] };
  const instances = new Map<string, Contract>(contracts.map((C) => [new C().getName(), new C()]));

  async function run(contractName: string, fn: string, args: string[], as: Identity, commit: boolean): Promise<string> {
    const contract = instances.get(contractName);
    if (!contract) throw new Error(`no contract ${contractName}`);
    world.txCount += 1;
    world.reads = [];
    const seconds = 1_700_000_000 + world.offsetS + world.txCount;
    const stub = new MemoryStub(world, `tx${String(world.txCount).padStart(6, '0')}`, seconds);
    const identity: Pick<ClientIdentity, 'getMSPID' | 'getID'> = { getMSPID: () => as.mspId, getID: () => as.id };
    const ctx = { stub: stub as unknown as ChaincodeStub, clientIdentity: identity as ClientIdentity } as Context;
    const method = (contract as unknown as Record<string, (ctx: Context, ...args: string[]) => Promise<string>>)[fn];
    if (typeof method !== 'function') throw new Error(`no transaction ${fn}`);
    const result = await method.call(contract, ctx, ...args);
    if (commit) {
      for (const [key, value] of stub.writes) {
        if (value === null) world.state.delete(key);
        else world.state.set(key, value);
        const versions = world.history.get(key) ?? [];
        versions.push({ txId: stub.getTxID(), seconds, value });
        world.history.set(key, versions);
      }
      if (stub.event?.name === 'BalanceMovements') world.events.push(JSON.parse(stub.event.payload) as MovementsEvent);
    }
    return result;
  }

  await run('MonitoringContract', 'InitLedger', [], CONTROLLER, true);
  return {
    controller: CONTROLLER,
    submit: (contract, fn, args, as = CONTROLLER) => run(contract, fn, args, as, true),
    evaluate: (contract, fn, args, as = CONTROLLER) => run(contract, fn, args, as, false),
    movements: async () => [...world.events],
    advanceClock: (seconds) => void (world.offsetS += seconds),
    lastReads: () => [...world.reads],
    close: async () => undefined,
  };
}

// ------------------------------------------------------------------ embedded ledger

/** A fresh temporary directory; removed by the returned cleanup function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function createEmbeddedHarness(): Promise<ChaincodeHarness> {
  const { dir, remove } = tempDir('chainfaas-ledger-');
  let offsetMs = 0;
  const ledger = new EmbeddedLedger({ dir, controller: CONTROLLER, now: () => Date.now() + offsetMs });
  const seen: MovementsEvent[] = [];
  ledger.onBalanceMovements((m) => void seen.push(m), { fromBlock: 0 });
  return {
    controller: CONTROLLER,
    submit: async (contract, fn, args, as = CONTROLLER) => (await ledger.submitTransaction(contract, fn, args, as)).result,
    evaluate: (contract, fn, args, as = CONTROLLER) => ledger.evaluateTransaction(contract, fn, args, as),
    movements: async () => {
      await new Promise((resolve) => setImmediate(resolve)); // let queued deliveries run
      return [...seen];
    },
    advanceClock: (seconds) => void (offsetMs += seconds * 1000),
    close: async () => {
      await ledger.close();
      remove();
    },
  };
}
