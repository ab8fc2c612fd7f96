import type { LedgerEvent } from './ledger';
import type { FunctionRecord, JobRecord, JobStatus, ProviderRecord, TokenRecord, User } from './model';

/**
 * The ports the core's use-cases need. lambdas/adapters implements them over DynamoDB, SQS, S3
 * and Secrets Manager; nothing here knows about AWS.
 */

export interface AccountStore {
  /** Creates the user; throws DomainError('conflict') if the email is taken. */
  createUser(user: User): Promise<void>;
  getUser(userId: string): Promise<User | undefined>;
  findUserByEmail(email: string): Promise<User | undefined>;
  putToken(token: TokenRecord): Promise<void>;
  getToken(tokenHash: string): Promise<TokenRecord | undefined>;
}

export interface FunctionStore {
  putFunction(fn: FunctionRecord): Promise<void>;
  getFunction(functionId: string): Promise<FunctionRecord | undefined>;
  listFunctions(ownerId: string): Promise<FunctionRecord[]>;
}

export interface JobStore {
  createJob(job: JobRecord): Promise<void>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Conditional transition: applies `changes` only if the job is currently in one of `from`
   * (and, when given, assigned to `providerId` at `attempt`). Returns false if the condition failed.
   */
  transition(
    jobId: string,
    from: readonly JobStatus[],
    changes: Partial<JobRecord>,
    guard?: { providerId?: string; attempt?: number },
    remove?: (keyof JobRecord)[],
  ): Promise<boolean>;
  /** Jobs waiting for capacity, oldest first. */
  listWaiting(limit: number): Promise<JobRecord[]>;
  /** Records the ledger's settlement of a job (read model; idempotent). */
  recordSettlement(jobId: string, cost: number, paid: boolean, reason?: string): Promise<void>;
  /** The developer's jobs whose settlement has been recorded. */
  listSettled(developerId: string): Promise<JobRecord[]>;
}

export interface ProviderStore {
  createProvider(p: ProviderRecord): Promise<void>;
  getProvider(providerId: string): Promise<ProviderRecord | undefined>;
  listProviders(): Promise<ProviderRecord[]>;
  heartbeat(providerId: string, at: string, cachedImages: string[], warmFunctions: string[], draining: boolean): Promise<void>;
  /** Conditional write: reserves capacity only if it still fits. Returns false otherwise. */
  reserve(p: ProviderRecord, vcpuMilli: number, memoryMb: number): Promise<boolean>;
  release(providerId: string, vcpuMilli: number, memoryMb: number): Promise<void>;
}

export interface Outbox {
  /** Appends ledger events for `stream` (a job or account id), kept in order per stream. */
  append(stream: string, events: LedgerEvent[]): Promise<void>;
  /** Oldest pending entries first. */
  pending(limit: number): Promise<OutboxEntry[]>;
  markDone(entry: OutboxEntry): Promise<void>;
  markRejected(entry: OutboxEntry, error: string): Promise<void>;
}

export interface OutboxEntry {
  stream: string;
  seq: string;
  event: LedgerEvent;
  enqueuedAt: string;
}

export interface ProviderQueues {
  /** Creates (idempotently) the provider's own queue and returns its URL. */
  createQueue(providerId: string): Promise<string>;
  send(queueUrl: string, body: string): Promise<void>;
}

export interface ResultStorage {
  presignPut(key: string, expiresS: number): Promise<string>;
  presignGet(key: string, expiresS: number): Promise<string>;
  /** Size of the object, or undefined if it does not exist. */
  size(key: string): Promise<number | undefined>;
  putObject(key: string, body: Buffer): Promise<void>;
}

export interface Signer {
  publicKey(): Promise<{ pem: string; keyId: string }>;
  sign(payload: unknown): Promise<{ signature: string; keyId: string }>;
}

/** The read model of balances, following the ledger's committed movements. */
export interface BalanceStore {
  /**
   * Adds `deltas` to the accounts' balances exactly once per `txId` (a second call with the same
   * id changes nothing and returns false), and moves the checkpoint to `blockNumber`.
   */
  apply(txId: string, deltas: Map<string, number>, blockNumber: number): Promise<boolean>;
  get(accountId: string): Promise<number | undefined>;
  list(): Promise<{ accountId: string; balance: number }[]>;
  /** The highest block applied, if any. */
  checkpoint(): Promise<number | undefined>;
}
