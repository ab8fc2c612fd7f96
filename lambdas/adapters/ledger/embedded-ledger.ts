import './quiet-contract-logs';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, Contract } from 'fabric-contract-api';
import { contracts } from '../../../chaincode/src';
import { BALANCE_MOVEMENTS_EVENT, MONITORING_CONTRACT } from '../../../chaincode/src/names';
import type { BalanceMovements, LedgerEventSource } from '../../core/ledger';
import {
  Block,
  BlockFile,
  BlockTransaction,
  blockHash,
  ChainVerification,
  decodeValue,
  encodeValue,
  GENESIS_PREVIOUS_HASH,
  verifyBlockLines,
} from './block-file';
import { ChaincodeError, ContractLedger, ContractName, parseBalanceMovements } from './contract-ledger';
import { asChaincodeStub, LedgerIdentity, SimulatedClientIdentity, SimulatedStub } from './simulated-stub';
import { WorldState } from './world-state';
import { logger } from '../observability';

/** The controller identity the embedded ledger uses unless told otherwise. */
export const DEFAULT_CONTROLLER: LedgerIdentity = {
  mspId: 'ChainFaaSControllerMSP',
  id: 'x509::/CN=chainfaas-controller::/CN=chainfaas-local-ca',
};

export interface EmbeddedLedgerOptions {
  /** Directory holding the block file (`blocks.jsonl`); created if missing. */
  dir: string;
  /**
   * The identity the `Ledger` methods submit as. When the directory holds no chain yet, the
   * first block is `InitLedger` run as this identity, which makes it the controller.
   * @default DEFAULT_CONTROLLER
   */
  controller?: LedgerIdentity;
  /** @default 'chainfaas' */
  channelId?: string;
  /** @default 'chainfaas' */
  chaincodeName?: string;
  /** Clock for transaction timestamps, ms since the epoch; kept strictly increasing. @default Date.now */
  now?: () => number;
}

/** What a committed transaction returns. */
export interface CommittedTransaction {
  txId: string;
  blockNumber: number;
  /** The transaction's return value (canonical JSON for the ChainFaaS contracts). */
  result: string;
}

interface TransactionMetadata {
  name: string;
  tag?: string[];
  parameters?: unknown[];
}

interface Subscription {
  listener: (movements: BalanceMovements) => void | Promise<void>;
  delivered: Promise<void>;
  active: boolean;
}

const BLOCKS_FILE = 'blocks.jsonl';
const LOCK_FILE = 'LOCK';

/**
 * The ledger for zero-setup local mode. It runs the chaincode's own contract classes in-process,
 * exactly as fabric-chaincode-node would (a context per transaction with a stub and a client
 * identity, `beforeTransaction`/`aroundTransaction`/`afterTransaction`, only `@Transaction`
 * methods callable, their declared argument count enforced), against a world state kept in
 * memory and persisted as a hash-chained block file.
 *
 * Every submitted transaction is one block. A transaction that throws writes nothing. On open,
 * the block file is verified and replayed into state and per-key history; a file that does not
 * verify is refused. One process owns a directory at a time (a LOCK file holds its pid).
 */
export class EmbeddedLedger extends ContractLedger implements LedgerEventSource {
  private readonly controller: LedgerIdentity;
  private readonly channelId: string;
  private readonly chaincodeName: string;
  private readonly now: () => number;
  private readonly contracts = new Map<string, Contract>();
  private readonly state = new WorldState();
  private readonly file: BlockFile;
  private readonly lockPath: string;
  /** Balance movements of every committed block, for replay to new subscribers. */
  private readonly movements: BalanceMovements[] = [];
  private readonly subscriptions = new Set<Subscription>();
  private lastHash = GENESIS_PREVIOUS_HASH;
  private height = 0;
  private lastTimestampMs = 0;
  /** Submissions run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ready: Promise<void>;
  private closed = false;

  constructor(options: EmbeddedLedgerOptions) {
    super();
    this.controller = options.controller ?? DEFAULT_CONTROLLER;
    this.channelId = options.channelId ?? 'chainfaas';
    this.chaincodeName = options.chaincodeName ?? 'chainfaas';
    this.now = options.now ?? Date.now;
    for (const ContractClass of contracts) {
      const contract = new ContractClass();
      this.contracts.set(contract.getName(), contract);
    }
    mkdirSync(options.dir, { recursive: true });
    this.lockPath = join(options.dir, LOCK_FILE);
    acquireLock(this.lockPath);
    this.file = new BlockFile(join(options.dir, BLOCKS_FILE));
    try {
      this.load();
    } catch (err) {
      releaseLock(this.lockPath);
      throw err;
    }
    this.ready = this.height === 0 ? this.submitTransaction(MONITORING_CONTRACT, 'InitLedger', [], this.controller).then(() => undefined) : Promise.resolve();
  }

  /** Number of committed blocks. */
  get blockHeight(): number {
    return this.height;
  }

  /**
   * Submits one transaction as `identity` (default: the controller) and commits it as one block.
   * Rejects with ChaincodeError if the contract refuses it; then nothing is written.
   */
  async submitTransaction(contract: string, transaction: string, args: string[], identity: LedgerIdentity = this.controller): Promise<CommittedTransaction> {
    const run = this.queue.then(async () => {
      this.requireOpen();
      return this.execute(contract, transaction, args, identity);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Runs one transaction as a query as `identity` (default: the controller); nothing is written. */
  async evaluateTransaction(contract: string, transaction: string, args: string[], identity: LedgerIdentity = this.controller): Promise<string> {
    await this.ready;
    this.requireOpen();
    const { result } = await this.invoke(contract, transaction, args, identity, this.nextTimestamp(false));
    return result;
  }

  /** Re-reads the block file from disk and checks every block's number, link and hash. */
  verifyChain(): ChainVerification {
    const lines = readFileSync(this.file.path, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0);
    const { ok, blocks, firstBadBlock, reason } = verifyBlockLines(lines);
    return firstBadBlock === undefined ? { ok, blocks } : { ok, blocks, firstBadBlock, reason };
  }

  onBalanceMovements(listener: (movements: BalanceMovements) => void | Promise<void>, options: { fromBlock?: number } = {}): () => void {
    const subscription: Subscription = { listener, delivered: Promise.resolve(), active: true };
    if (options.fromBlock !== undefined) {
      const from = options.fromBlock;
      for (const movements of this.movements) if (movements.blockNumber >= from) deliver(subscription, movements);
    }
    this.subscriptions.add(subscription);
    return () => {
      subscription.active = false;
      this.subscriptions.delete(subscription);
    };
  }

  /** Waits for pending submissions, stops event feeds and releases the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.ready.catch(() => undefined);
    await this.queue;
    this.closed = true;
    this.subscriptions.clear();
    this.file.close();
    releaseLock(this.lockPath);
  }

  protected async submitTx(contract: ContractName, transaction: string, args: string[]): Promise<{ txId: string; result: string }> {
    const { txId, result } = await this.submitTransaction(contract, transaction, args);
    return { txId, result };
  }

  protected evaluateTx(contract: ContractName, transaction: string, args: string[]): Promise<string> {
    return this.evaluateTransaction(contract, transaction, args);
  }

  /** Verifies the block file and replays it into state, history and the movements log. */
  private load(): void {
    const verification = verifyBlockLines(this.file.readLines());
    if (!verification.ok) {
      throw new Error(`the ledger's block file ${this.file.path} does not verify at block ${verification.firstBadBlock}: ${verification.reason}`);
    }
    for (const block of verification.chain) this.applyBlock(block);
  }

  private async execute(contract: string, transaction: string, args: string[], identity: LedgerIdentity): Promise<CommittedTransaction> {
    const timestampMs = this.nextTimestamp(true);
    const { stub, result } = await this.invoke(contract, transaction, args, identity, timestampMs);
    const record: BlockTransaction = {
      txId: stub.getTxID(),
      timestamp: new Date(timestampMs).toISOString(),
      creator: identity,
      contract,
      transaction,
      args,
      writes: [...stub.writes].map(([key, value]) => encodeValue(key, value)),
      event: stub.event && { name: stub.event.name, payload: stub.event.payload.toString('utf8') },
      response: result,
    };
    const unsigned = { number: this.height, previousHash: this.lastHash, timestamp: record.timestamp, transactions: [record] };
    const block: Block = { ...unsigned, hash: blockHash(unsigned) };
    this.file.append(block);
    this.applyBlock(block, true);
    return { txId: record.txId, blockNumber: block.number, result };
  }

  /** Runs a transaction function the way fabric-shim's contract dispatcher does. */
  private async invoke(contractName: string, transaction: string, args: string[], identity: LedgerIdentity, timestampMs: number) {
    const contract = this.contracts.get(contractName);
    if (!contract) throw new ChaincodeError(transaction, `Contract name is not known: ${contractName}`);
    const declared = transactionsOf(contract).find((t) => t.name === transaction);
    if (!declared) throw new ChaincodeError(transaction, `You've asked to invoke a function that does not exist: ${transaction}`);
    const expected = declared.parameters?.length ?? 0;
    if (args.length !== expected) throw new ChaincodeError(transaction, `Expected ${expected} parameters, but ${args.length} have been supplied`);

    const stub = new SimulatedStub(this.state, {
      txId: randomBytes(32).toString('hex'),
      timestampMs,
      channelId: this.channelId,
      chaincodeName: this.chaincodeName,
      args: [`${contractName}:${transaction}`, ...args],
      creator: identity,
    });
    const ctx: Context = contract.createContext();
    ctx.stub = asChaincodeStub(stub);
    ctx.clientIdentity = new SimulatedClientIdentity(identity);
    ctx.logging = { setLevel: () => undefined, getLogger: () => console as unknown as ReturnType<Context['logging']['getLogger']> };
    try {
      await contract.beforeTransaction(ctx);
      // fabric-contract-api types `fn` as a Function, but its dispatcher passes the function's name.
      const around = contract.aroundTransaction as unknown as (ctx: Context, fn: string, parameters: string[]) => Promise<unknown>;
      const returned = await around.call(contract, ctx, transaction, args);
      await contract.afterTransaction(ctx, returned);
      return { stub, result: wireForm(returned) };
    } catch (err) {
      throw new ChaincodeError(transaction, err instanceof Error ? err.message : String(err));
    }
  }

  private applyBlock(block: Block, live = false): void {
    for (const tx of block.transactions) {
      const timestampMs = Date.parse(tx.timestamp);
      this.state.apply(
        tx.txId,
        timestampMs,
        tx.writes.map((write) => ({ key: write.key, value: decodeValue(write) })),
      );
      this.lastTimestampMs = Math.max(this.lastTimestampMs, timestampMs);
      if (tx.event?.name === BALANCE_MOVEMENTS_EVENT) {
        const movements = parseBalanceMovements(tx.event.payload, block.number);
        this.movements.push(movements);
        if (live) for (const subscription of this.subscriptions) deliver(subscription, movements);
      }
    }
    this.lastHash = block.hash;
    this.height = block.number + 1;
  }

  /** A timestamp after every committed one, ms; `advance` reserves it for a new block. */
  private nextTimestamp(advance: boolean): number {
    const timestampMs = Math.max(this.now(), this.lastTimestampMs + 1);
    if (advance) this.lastTimestampMs = timestampMs;
    return timestampMs;
  }

  private requireOpen(): void {
    if (this.closed) throw new Error('the embedded ledger is closed');
  }
}

/** The `@Transaction` functions fabric-contract-api recorded for a contract. */
function transactionsOf(contract: Contract): TransactionMetadata[] {
  const reflect = Reflect as unknown as { getMetadata(key: string, target: object): unknown };
  return (reflect.getMetadata('fabric:transactions', contract) as TransactionMetadata[] | undefined) ?? [];
}

/** What fabric-shim sends back for a returned value: strings as-is, nothing as empty, else JSON. */
function wireForm(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function deliver(subscription: Subscription, movements: BalanceMovements): void {
  subscription.delivered = subscription.delivered.then(async () => {
    if (!subscription.active) return;
    try {
      await subscription.listener(movements);
    } catch (err) {
      logger.error('embedded ledger: a BalanceMovements listener failed', { blockNumber: movements.blockNumber, error: err as Error });
    }
  });
}

/** Takes the directory's LOCK file, or throws if a live process holds it. A dead holder's lock is taken over. */
function acquireLock(path: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (holder === process.pid || processAlive(holder)) throw new Error(`the ledger directory is in use by process ${holder} (${path})`, { cause: err });
      unlinkSync(path);
    }
  }
  throw new Error(`could not take the ledger lock ${path}`);
}

function releaseLock(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
