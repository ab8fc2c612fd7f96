import type { Reputation } from './reputation';
import type { LedgerEvent, PaymentTerms } from './ledger';
import type { ProviderSampler } from './placement';
import type { Amount } from './scheduler';
import type { CredentialEntry, IdempotencyRecord } from './model';
import type { FunctionRecord, JobProgress, JobRecord, JobStatus, ProviderRecord, TokenRecord, User } from './model';

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
  /**
   * Stores a listed credential (API token or invoke key): the lookup item of its hash and its
   * entry in the owner's directory, in one transaction. Throws DomainError('conflict') when the
   * owner already has `maxEntries` credentials.
   */
  createCredential(token: TokenRecord, entry: CredentialEntry, maxEntries: number): Promise<void>;
  /** The owner's listed credentials (API tokens and invoke keys), oldest first. */
  listCredentials(userId: string): Promise<CredentialEntry[]>;
  /** Deletes the credential `tokenId` of `userId` (lookup item and directory entry); false if there was none. */
  revokeCredential(userId: string, entry: CredentialEntry): Promise<boolean>;
  /**
   * Grants `userId` the operator right by the platform's one-time claim: the claim's record and the
   * user's flag in one transaction, conditioned on no claim yet. False when a claim exists already.
   */
  claimOperator(userId: string, claimedAt: string): Promise<boolean>;
}

export interface FunctionStore {
  putFunction(fn: FunctionRecord): Promise<void>;
  getFunction(functionId: string): Promise<FunctionRecord | undefined>;
  listFunctions(ownerId: string): Promise<FunctionRecord[]>;
  /** Creates version 1 and its snapshot; never overwrites (conditional). */
  createFunction(fn: FunctionRecord): Promise<void>;
  /** The function as it was at `version`: every version's snapshot is kept. */
  getFunctionVersion(functionId: string, version: number): Promise<FunctionRecord | undefined>;
  /**
   * Writes `next` as the new current version and its snapshot, only if the stored function is
   * still at `next.version - 1` and not deleted. Returns false if that condition failed.
   */
  updateFunction(next: FunctionRecord): Promise<boolean>;
  /** Marks the function deleted, only if `ownerId` owns it and it is not deleted yet; false otherwise. */
  markDeleted(functionId: string, ownerId: string, at: string): Promise<boolean>;
}

/**
 * Issue #16: a job that is placed as it is created is written once: its record (already ASSIGNED
 * under a lease, on a provider whose capacity the caller reserved), its hold on the developer's
 * available balance, its `CreateJob` ledger entry and, with an idempotency key, its idempotency
 * record, all in one transaction: one round trip where the step-by-step path (hold, job, assign,
 * append) takes four, and no state in which some of them exist without the others.
 */
export interface JobStarts {
  start(job: JobRecord, parts: JobStartParts): Promise<JobStartOutcome>;
}

export interface JobStartParts {
  /** The hold to place (`job.holdAmount` from `job.developerId`'s available balance); absent when holds are off. */
  hold?: { amount: number; at: string };
  /** The job's ledger events and their lane (Outbox#append's arguments for the job's stream). */
  events: LedgerEvent[];
  route: OutboxRoute;
  idem?: IdempotencyRecord;
}

/**
 * `started`: everything was written. `unfunded`: the balance did not cover the hold (or the account
 * has no available balance yet); nothing was written. `replayed`: the idempotency key was used
 * before; nothing was written.
 */
export type JobStartOutcome = { kind: 'started' } | { kind: 'unfunded' } | { kind: 'replayed'; existing: IdempotencyRecord };

export interface JobStore {
  createJob(job: JobRecord): Promise<void>;
  /**
   * Creates the job and its idempotency record in one transaction, both conditional. If the
   * caller used the key before (and it has not expired), nothing is written and the stored record
   * is returned instead.
   */
  createJobOnce(job: JobRecord, idem: IdempotencyRecord): Promise<{ created: true } | { created: false; existing: IdempotencyRecord }>;
  /** The caller's stored idempotency record for `keyHash`, expired or not. */
  getIdempotency(scope: string, keyHash: string): Promise<IdempotencyRecord | undefined>;
  /** One page of a developer's jobs, newest first (the byDeveloper index), filtered. */
  searchJobs(query: JobSearch): Promise<{ items: JobRecord[]; next?: JobCursor }>;
  /** Jobs owing a completion callback whose next delivery is due at or before `nowIso` (the `callbacks` index). */
  listDueCallbacks(nowIso: string, limit: number): Promise<JobRecord[]>;
  /**
   * Records a callback delivery outcome, only if the job's `callbackAttempts` is still
   * `expectedAttempts` (so two sweepers never both deliver). `done` takes the job off the index.
   */
  recordCallback(jobId: string, expectedAttempts: number, changes: Partial<JobRecord>, done: boolean): Promise<boolean>;
  /**
   * Issue #19: puts a job with a callback back on the `callbacks` index for its verdict delivery
   * (`callbackPhase: 'verdict'`, attempts from 0, due at `nowIso`), only if it is off the index (its
   * first delivery is done) and never had a verdict phase. False otherwise.
   */
  queueVerdictCallback(jobId: string, nowIso: string): Promise<boolean>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /**
   * Conditional transition: applies `changes` only if the job is currently in one of `from`
   * (and, when given, assigned to `providerId` at `attempt`, and holding the attribute `present`).
   * Returns false if the condition failed.
   */
  transition(
    jobId: string,
    from: readonly JobStatus[],
    changes: Partial<JobRecord>,
    guard?: { providerId?: string; attempt?: number; present?: keyof JobRecord },
    remove?: (keyof JobRecord)[],
  ): Promise<boolean>;
  /** Jobs waiting for capacity, oldest first. */
  listWaiting(limit: number): Promise<JobRecord[]>;
  /**
   * Up to `max` jobs waiting for capacity, oldest first (every page of the `waiting` index), with
   * only the fields scheduling decides on (`WaitingJob`): a job's input stays behind until it is placed.
   */
  listWaitingUpTo(max: number): Promise<WaitingJob[]>;
  /** How many jobs wait for capacity: of `developerId`, and in all (one pass over the `waiting` index). */
  countWaiting(developerId: string): Promise<{ developer: number; total: number }>;
  /** Every ASSIGNED job (the `leases` index): what each developer holds right now. */
  listLeased(): Promise<JobRecord[]>;
  /** ASSIGNED jobs whose lease lapsed before `nowIso`, soonest-expired first. */
  listExpiredLeases(nowIso: string, limit: number): Promise<JobRecord[]>;
  /**
   * Conditional: extends the lease of a job only while it is ASSIGNED to `providerId`.
   * Returns false if the job is not (or no longer) that provider's. `progress`, when given, is
   * recorded in the same conditional write (no request of its own).
   */
  renewLease(jobId: string, providerId: string, leaseExpiresAt: string, progress?: JobProgress): Promise<boolean>;
  /**
   * Records the ledger's settlement of a job (read model; idempotent). Returns what the job held
   * before this write (`paid`, `reportAcceptedAt`), or undefined for a job this controller never stored.
   */
  recordSettlement(jobId: string, cost: number, paid: boolean, reason?: string): Promise<Pick<JobRecord, 'paid' | 'reportAcceptedAt' | 'developerId' | 'holdAmount'> | undefined>;
  /** The developer's jobs whose settlement has been recorded. */
  listSettled(developerId: string): Promise<JobRecord[]>;
}

/** The providers table; also the sampler a placement at scale draws its few candidates from (`placement.ts`). */
export interface ProviderStore extends ProviderSampler {
  createProvider(p: ProviderRecord): Promise<void>;
  getProvider(providerId: string): Promise<ProviderRecord | undefined>;
  listProviders(): Promise<ProviderRecord[]>;
  /**
   * The online providers' total capacity (the denominator of DRF's dominant shares), from a
   * listing at most `maxAgeMs` old: kept per process, so at volunteer scale the listing is paid
   * once per `maxAgeMs`, not per placement (issue #24).
   */
  onlineCapacity(opts: { now: number; heartbeatStaleMs: number }, maxAgeMs: number): Promise<Amount>;
  /**
   * Records a heartbeat in one write: `nextBeatS` is an idle agent's announced pause (absent: the
   * normal interval); `reportedFree` the free capacity it reported (diagnostic only).
   */
  heartbeat(
    providerId: string,
    at: string,
    cachedImages: string[],
    warmFunctions: string[],
    draining: boolean,
    extra?: { nextBeatS?: number; reportedFree?: { vcpu: number; memoryMb: number } },
  ): Promise<void>;
  /** Conditional write: reserves capacity only if it still fits. Returns false otherwise. */
  /** Reserves the three resources (disk: issue #23) with one conditional write; false when they no longer fit. */
  reserve(p: ProviderRecord, vcpuMilli: number, memoryMb: number, diskMb?: number): Promise<boolean>;
  release(providerId: string, vcpuMilli: number, memoryMb: number, diskMb?: number): Promise<void>;
  /**
   * Deletes the provider's record, only if `ownerId` owns it and it holds no reserved capacity
   * (no job is placed on it): `busy` otherwise, `missing` when there is no such record.
   */
  deleteProvider(providerId: string, ownerId: string): Promise<'deleted' | 'busy' | 'missing'>;
  /** Issue #19: writes the provider's reputation if its version is still `version` (0: none yet); false otherwise. */
  setReputation?(providerId: string, reputation: Reputation, version: number): Promise<boolean>;
}

export interface Outbox {
  /**
   * Appends ledger events for `stream` (a job or account id), kept in order per stream. `route`
   * tells the ledger writer which lane the events may travel in (use-cases/outbox.ts); without
   * one they are committed alone, with nothing else in flight.
   */
  append(stream: string, events: LedgerEvent[], route?: OutboxRoute): Promise<void>;
  /** Oldest entries first (at most `limit`) that no drain has taken. */
  pending(limit: number): Promise<OutboxEntry[]>;
  /**
   * Entries no drain has taken, oldest first, at most `limit` per part of the index (entries a
   * drain took are not listed). Entries newer than `horizon` may have older ones still unread:
   * only entries up to it are known to come in order.
   */
  waiting(limit: number): Promise<{ entries: OutboxEntry[]; horizon?: string }>;
  /**
   * Takes entries `waiting` (or `recover`) listed for the drain `drain`, each only if it is still
   * where it was listed (a conditional write on the entry); resolves with those it took, oldest
   * first. A taken entry is listed by no read until a later drain recovers it.
   */
  take(entries: OutboxEntry[], drain: string): Promise<OutboxEntry[]>;
  /** Takes over, for `drain`, every entry taken by earlier drains and not yet marked. */
  recover(drain: string): Promise<OutboxEntry[]>;
  /** Entries taken by a drain and not yet marked (at most `limit`): what a drain that ended left. */
  taken(limit: number): Promise<OutboxEntry[]>;
  /** Removes committed entries (in batches). */
  markDone(entries: OutboxEntry[]): Promise<void>;
  markRejected(entry: OutboxEntry, error: string): Promise<void>;
}

/**
 * Where an outbox entry may travel: `lane` is the account whose balance its events may read (a
 * job's developer), `payee` the account they may credit (the job's provider's account). Every
 * entry whose events may settle a job must name its payee.
 */
export interface OutboxRoute {
  lane: string;
  payee?: string;
}

export interface OutboxEntry {
  stream: string;
  seq: string;
  /** The events of one append, in order: one item, so written at once. */
  events: LedgerEvent[];
  enqueuedAt: string;
  /** Absent on entries that must be committed alone. */
  lane?: string;
  payee?: string;
}

export interface ProviderQueues {
  /** Creates (idempotently) the provider's own queue and returns its URL. */
  createQueue(providerId: string): Promise<string>;
  /** Deletes the provider's queue and its alarm (idempotently: nothing to do for what is gone). */
  deleteQueue(providerId: string): Promise<void>;
  /**
   * The provider queues that exist, each named `<prefix><providerId>` and tagged
   * `chainfaas:provider` with that id, and when it was created (the reaper's orphan sweep).
   */
  listProviderQueues?(): Promise<{ providerId: string; createdAt: string }[]>;
  send(queueUrl: string, body: string): Promise<void>;
  /** The ARN of a provider's queue (what its credentials' session policy names). */
  queueArn(queueUrl: string): Promise<string>;
  /** Receives up to `max` messages of the shared dead-letter queue, hidden for `visibilityS`. */
  receiveDeadLetters(max: number, visibilityS: number): Promise<DeadLetter[]>;
  /** Makes a received dead letter visible again at once. */
  releaseDeadLetter(receiptHandle: string): Promise<void>;
  deleteDeadLetter(receiptHandle: string): Promise<void>;
}

export interface ResultStorage {
  presignPut(key: string, expiresS: number): Promise<string>;
  presignGet(key: string, expiresS: number): Promise<string>;
  /** Size of the object, or undefined if it does not exist. */
  size(key: string): Promise<number | undefined>;
  putObject(key: string, body: Buffer): Promise<void>;
  /** The object's bytes, or undefined if it does not exist (issue #19: a comparison hash is checked against an uploaded result). */
  getObject?(key: string): Promise<Buffer | undefined>;
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
  apply(txId: string, deltas: Map<string, number>, blockNumber: number, changes?: AccountChanges): Promise<boolean>;
  get(accountId: string): Promise<number | undefined>;
  list(): Promise<{ accountId: string; balance: number }[]>;
  /** The highest block applied, if any. */
  checkpoint(): Promise<number | undefined>;
  /**
   * Holds (use-cases/holds.ts): reserves `amount` of the account's `available` balance for `jobId` in one
   * conditional write (`available >= amount`). False when the account cannot cover it (or has no
   * committed balance yet). Placing the same job's hold twice reserves once.
   */
  placeHold?(accountId: string, jobId: string, amount: number, at: string): Promise<boolean>;
  /** Releases the job's open hold back to `available`, exactly once; the amount released, or undefined if none was open. */
  /**
   * `known`: the hold's account and amount as the job recorded them (`developerId`, `holdAmount`):
   * released without reading the hold first; a hold that is not there with exactly those is read as without.
   */
  releaseHold?(jobId: string, known?: { holder: string; amount: number }): Promise<number | undefined>;
  /**
   * The account's balance (following the ledger), what is held and what is available; undefined if
   * unknown. With invoice terms, `available` is the credit limit minus what is owed minus what is held.
   */
  account?(accountId: string): Promise<AccountView | undefined>;
  /** Open holds, oldest first (the sweep that releases holds of jobs that ended elsewhere). */
  listHolds?(limit: number): Promise<{ jobId: string; accountId: string; amount: number; placedAt: string }[]>;
}

/** What a ledger transaction changed besides balances (billing.ts, invoice terms): debts and terms, per account. */
export interface AccountChanges {
  /** Change of what the account owes (invoiced settlements add, bill payments subtract). */
  owed: Map<string, number>;
  /** The account's new terms. */
  terms: Map<string, { terms: PaymentTerms; creditLimit: number }>;
}

/** An account in the balances read model. */
export interface AccountView {
  balance: number;
  available: number;
  held: number;
  terms: PaymentTerms;
  creditLimit: number;
  owed: number;
}

/** A published price list (billing units) of the platform owner's, versioned. */
export interface PublishedPrices {
  version: number;
  vcpuMs: number;
  mbMs: number;
  /** Per MB-ms of scratch space (issue #23); absent: 0. */
  diskMbMs?: number;
  publishedAt: string;
  publishedBy: string;
}

/** A top-up as the controller records it: one per (account, reference). */
export interface TopUpRecord {
  accountId: string;
  reference: string;
  amount: number;
  status: 'pending' | 'approved' | 'declined';
  createdAt: string;
  paymentId?: string;
  declineReason?: string;
  /** `card`: paid through the provider's checkout page (payments.ts); absent: charged directly. */
  method?: 'card';
  /** The checkout page to send the payer to (card top-ups, while pending). */
  checkoutUrl?: string;
  /** The amount the provider says was paid (card top-ups: what the ledger is credited). */
  paidAmount?: number;
}

/** A provider's withdrawal as the controller records it (payments.ts); the ledger's payout record is the truth. */
export interface PayoutRecord {
  accountId: string;
  payoutId: string;
  reference: string;
  amount: number;
  fee: number;
  /** `requested` until the ledger's payout is paid or failed; `refused` if the ledger never took it. */
  status: 'requested' | 'paid' | 'failed' | 'refused';
  createdAt: string;
  destination?: string;
  transferId?: string;
  failureReason?: string;
}

/** A card payment the provider settled, by its payment id: which account and top-up it paid (refunds and disputes name only the payment). */
export interface PaymentLink {
  paymentId: string;
  accountId: string;
  reference: string;
}

/** A refund or dispute taken back from an account, once per reference: `taken` of `amount` (never what running jobs hold). */
export interface ReversalRecord {
  reference: string;
  accountId: string;
  amount: number;
  taken: number;
  createdAt: string;
}

/** Billing state kept next to the balances (price lists, top-ups). */
export interface BillingStore {
  /** The newest published price list, if any was published. */
  currentPrices(): Promise<PublishedPrices | undefined>;
  /** Every published version, newest first. */
  listPrices(): Promise<PublishedPrices[]>;
  /** Publishes `prices` only if its version is above the current one; false otherwise. */
  publishPrices(prices: PublishedPrices): Promise<boolean>;
  /** Creates the top-up record unless (account, reference) exists; returns the stored one then. */
  createTopUp(record: TopUpRecord): Promise<{ created: true } | { created: false; existing: TopUpRecord }>;
  updateTopUp(accountId: string, reference: string, changes: Partial<TopUpRecord>): Promise<void>;
  /** Card payments and payouts (payments.ts); absent in stores without them. */
  getTopUp?(accountId: string, reference: string): Promise<TopUpRecord | undefined>;
  /** Marks a pending top-up approved with what was paid; false if it was not pending (applied before). */
  approveTopUp?(accountId: string, reference: string, paidAmount: number): Promise<boolean>;
  linkPayment?(link: PaymentLink): Promise<void>;
  getPaymentLink?(paymentId: string): Promise<PaymentLink | undefined>;
  getReversal?(reference: string): Promise<ReversalRecord | undefined>;
  /** Records a reversal unless its reference exists; returns the stored one then. */
  createReversal?(record: ReversalRecord): Promise<{ created: true } | { created: false; existing: ReversalRecord }>;
  /** Whether a webhook event was handled already; `markEventHandled` records it after it was. */
  eventHandled?(eventId: string): Promise<boolean>;
  markEventHandled?(eventId: string, at: string): Promise<void>;
  /** The account's connected payout account at the payment provider, if it has one. */
  getConnectedAccount?(accountId: string): Promise<string | undefined>;
  /** Stores it unless one is stored; returns the stored one. */
  setConnectedAccount?(accountId: string, connectedAccountId: string): Promise<string>;
  /** Creates the payout record unless (account, reference) exists; returns the stored one then. */
  createPayout?(record: PayoutRecord): Promise<{ created: true } | { created: false; existing: PayoutRecord }>;
  getPayout?(accountId: string, reference: string): Promise<PayoutRecord | undefined>;
  updatePayout?(accountId: string, reference: string, changes: Partial<PayoutRecord>): Promise<void>;
  /** Payouts still `requested`, oldest first (the payout sweep's work list). */
  listOpenPayouts?(limit: number): Promise<PayoutRecord[]>;
}

/** Takes money from outside the platform (a card, a bank) for a top-up, and pays providers out. */
export interface PaymentProvider {
  readonly name: string;
  /** Charges `amount` micro-credits' worth; idempotent on `reference` (a retry charges once). */
  charge(req: { accountId: string; amount: number; reference: string }): Promise<{ status: 'approved'; paymentId: string } | { status: 'declined'; reason: string }>;
  /** A hosted checkout page for a card top-up of `amount` micro-credits; idempotent on (account, reference). Absent: no card top-ups. */
  checkout?(req: { accountId: string; amount: number; reference: string; successUrl: string; cancelUrl: string }): Promise<{ sessionId: string; url: string }>;
  /**
   * Checks a webhook's signature over its exact bytes and reads the event, amounts converted to
   * micro-credits from the provider's own amount and currency. Throws a DomainError (400, naming the signature header) for a
   * missing, wrong or stale signature, or a currency other than the platform's.
   */
  verifyWebhook?(rawBody: string, signature: string | undefined): Promise<PaymentEvent>;
  /** Payouts: true when a payout needs the account's connected account (`connect`). */
  readonly needsConnectedAccount?: boolean;
  /** Creates a connected account for payouts (when `existing` is undefined) and an onboarding link for it. */
  connect?(req: { accountId: string; existing?: string; returnUrl: string; refreshUrl: string }): Promise<{ connectedAccountId: string; onboardingUrl: string }>;
  /**
   * Sends `amount` micro-credits to the destination, once per `payoutId` however often it is
   * called (an earlier transfer of the payout is answered). `failed`: refused for good (the money
   * goes back); a throw is transient (retried later).
   */
  transfer?(req: { payoutId: string; destination?: string; amount: number }): Promise<{ status: 'sent'; transferId: string } | { status: 'failed'; reason: string }>;
  /** The smallest amount, in micro-credits, a currency amount can be (top-ups and payouts are multiples of it). */
  readonly unit?: number;
}

/** A verified payment webhook, in the platform's terms (micro-credits). */
export type PaymentEvent =
  | { kind: 'topup-paid'; eventId: string; accountId: string; reference: string; sessionId: string; paymentId: string; amount: number }
  /** A refund or a dispute opened: `reference` names it (once per reference); `paymentId` the payment it takes from. */
  | { kind: 'topup-reversed'; eventId: string; reference: string; paymentId: string; amount: number }
  /** A dispute won: what it took comes back (once per reference). */
  | { kind: 'topup-restored'; eventId: string; reference: string; paymentId: string; amount: number }
  | { kind: 'ignored'; eventId: string; type: string };

/** Where a job search resumes: the last job returned (its index keys). */
export interface JobCursor {
  createdAt: string;
  jobId: string;
}

export interface JobSearch {
  developerId: string;
  functionId?: string;
  statuses?: readonly JobStatus[];
  /** ISO instants, inclusive, on the job's creation time. */
  from?: string;
  to?: string;
  limit: number;
  after?: JobCursor;
}

/**
 * Large inputs, uploaded by the caller through a presigned PUT before the invocation (into the
 * results bucket, so ResultStorage reads their size and presigns their GET).
 */
export interface InputStorage {
  /** A presigned PUT for exactly `size` bytes at `key` (the size is signed: S3 refuses any other). */
  presignUpload(key: string, size: number, expiresS: number): Promise<string>;
}

/** Delivers completion callbacks: one HTTP POST, bounded by a timeout, redirects not followed. */
export interface CallbackSender {
  /** Returns the HTTP status, or throws on a network error or timeout. */
  post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number>;
}

/** A message of the provider queues' shared dead-letter queue. */
export interface DeadLetter {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** How many times it was received in all (on its provider's queue, then here). */
  receiveCount: number;
  sentAt?: string;
  /** The queue it was dead-lettered from, when SQS says (AWS does; emulators may not). */
  sourceQueueArn?: string;
}

/** Temporary AWS credentials, as handed to a provider agent. */
export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
}

/**
 * Mints a provider's credentials, scoped by a session policy to its own queue (STS in AWS).
 * Absent in local mode, where the agent uses the environment's credentials.
 */
export interface ProviderCredentialIssuer {
  issue(providerId: string, queueArn: string): Promise<TemporaryCredentials>;
}

/** Where a developer-named bucket is and how the controller may reach it. */
export interface DeveloperBucket {
  bucket: string;
  /** Role in the developer's account; without it the controller's own credentials are used (local mode). */
  roleArn?: string;
  /** The external id the role's trust policy must require: the developer's user id. */
  externalId: string;
}

/** Opens result storage in buckets developers name for their functions. */
export interface DeveloperBuckets {
  open(location: DeveloperBucket): Promise<ResultStorage>;
}

/** What scheduling reads of a waiting job to decide which to place, and to expire it (and wake its sync caller: `wakeTo`). */
export type WaitingJob = Pick<
  JobRecord,
  'jobId' | 'developerId' | 'functionId' | 'image' | 'resources' | 'attempt' | 'status' | 'createdAt' | 'queuedAt' | 'previousProviders' | 'requeueReason' | 'replicaOf' | 'wakeTo'
>;

/** The attributes of WaitingJob, for adapters that project them. */
export const WAITING_JOB_FIELDS = [
  'jobId',
  'developerId',
  'functionId',
  'image',
  'resources',
  'attempt',
  'status',
  'createdAt',
  'queuedAt',
  'previousProviders',
  'requeueReason',
  'replicaOf',
  'wakeTo',
] as const satisfies readonly (keyof WaitingJob)[];

/** A peer a peer operator enrolled (use-cases/peers.ts), in the `peers` table keyed by operator. */
export interface PeerRecord {
  operatorId: string;
  peerId: string;
  name: string;
  /** `host:port` the peer advertises (in its TLS certificate). */
  endpoint: string;
  mspId: string;
  /** PEM certificates the organisation's CA and TLS CA issued for the operator's keys. */
  signCertificate: string;
  tlsCertificate: string;
  signSerial: string;
  tlsSerial: string;
  createdAt: string;
  /** When the network first listed the peer as a channel member. */
  joinedAt?: string;
  /** Set by DELETE /peers/{peerId}: the controller no longer vouches for the peer. */
  revokedAt?: string;
}

export interface PeerStore {
  /** Creates the peer unless the operator has `max` peers already (false then). */
  createPeer(peer: PeerRecord, max: number): Promise<boolean>;
  /** The operator's peer, or undefined (also for another operator's peer). */
  getPeer(operatorId: string, peerId: string): Promise<PeerRecord | undefined>;
  listPeers(operatorId: string): Promise<PeerRecord[]>;
  /** Records when the peer was first seen in the channel (only the first time). */
  markJoined(operatorId: string, peerId: string, at: string): Promise<void>;
  /** Marks the peer revoked, only if it was not; false if it was (or does not exist). */
  markRevoked(operatorId: string, peerId: string, at: string): Promise<boolean>;
}

/** One of the organisation's certificate authorities: its certificate and a signer with its key. */
export interface CertificateAuthority {
  certificatePem: string;
  /** ECDSA (P-256) over SHA-256 of `data`; DER-encoded signature. */
  sign(data: Buffer): Promise<Buffer>;
}

/** What a peer joining the Fabric network needs to know of it (no secret). */
export interface FabricJoinInfo {
  mspId: string;
  /** The organisation's domain: certificates' O, and the suffix of peers' common names. */
  domain: string;
  channel: string;
  orderer: { endpoint: string; hostAlias?: string; tlsCaCertificate: string };
  /** The peer new peers gossip with first (the controller's gateway peer). */
  gossipBootstrap: { endpoint: string; hostAlias?: string };
  /** The chaincode as a service: its package is rebuilt from address and label (package-ccaas.sh). */
  chaincode: { name: string; label: string; packageId: string; address: string };
}

/** A channel member as the network reports it (Fabric's discovery service). */
export interface ChannelPeer {
  mspId: string;
  endpoint: string;
  ledgerHeight: number;
  /** The peer's enrolment certificate (PEM). */
  certificatePem: string;
}

/**
 * The controller's side of enrolling operators' peers in its Fabric organisation: the CAs (keys
 * never leave the adapter), the network's coordinates, and the network's own view of its peers.
 * Absent when the platform's ledger is embedded.
 */
export interface PeerEnrolment {
  info(): Promise<FabricJoinInfo>;
  authority(which: 'identity' | 'tls'): Promise<CertificateAuthority>;
  /** The channel's peers, as the gateway peer's discovery service lists them. */
  channelPeers(): Promise<ChannelPeer[]>;
}

/** How a job ended, as the controller's metrics name it. */
export type JobOutcome = 'succeeded' | 'failed' | 'cancelled';

/**
 * What the controller tells its operator: counters (CloudWatch metrics in AWS) and the errors it
 * survives. The core names the events; lambdas/adapters/observability.ts maps them onto
 * Powertools' Metrics and Logger. Attributes are identifiers and counts, never a secret.
 */
export interface Telemetry {
  /** A job was written (QUEUED): once per job, not per replayed idempotent request. */
  jobCreated(): void;
  /** A job reached a terminal status, by the one transition that moved it there. */
  jobFinished(outcome: JobOutcome): void;
  /** A job's settlement was first recorded as paid, this long after the controller accepted its report. */
  settlementLag(ms: number): void;
  /** An error the controller logs and carries on from (it must not undo a transition already made). */
  error(message: string, attributes?: Record<string, unknown>): void;
}

/**
 * How a sync invocation learns that its job ended (use-cases/invocations.ts#waitForJob). A wait
 * `listen`s before it reads the job, so a `notify` that comes between its read and its sleep is
 * not lost: the next `sleep` returns at once. `notify` is called where a job becomes terminal
 * (an accepted report, a reclaim that fails it, a cancel). In one process (local mode) the
 * notification is the wake-up (`core/job-waiter.ts`). Across processes (AWS: the report is another
 * Lambda's request, and a Lambda sandbox serves one request at a time) it travels through SQS: the
 * waiting sandbox's own wake queue, named on the job (`wakeTo`, from `address`), long-polled while
 * it waits (`adapters/sqs-wake.ts`); the consistent reads remain, at `readBackOff`, for a wake-up
 * that never came (see ARCHITECTURE.md, "The sync wait").
 */
export interface JobWaiter {
  listen(jobId: string): JobWake;
  /**
   * Wakes the job's listeners, wherever `job.wakeTo` says they wait. `ended`: the job as the
   * conditional write that ended it left it (issue #16: a waiting request in this process answers
   * with it instead of reading the job again). Never rejects: a wake-up that cannot be sent leaves
   * the wait to its reads.
   */
  notify(job: Pick<JobRecord, 'jobId' | 'wakeTo'>, ended?: JobRecord): Promise<void>;
  /** Where another process's `notify` reaches this process's waits: stored on a sync job as `wakeTo`. Absent: only this process's own. */
  address?(): Promise<string>;
  /** The wait's read back-off when this waiter wakes it from anywhere (reads only catch a lost wake-up); absent: invocations.ts's default. */
  readonly readBackOff?: { minMs: number; maxMs: number };
  /** Removes what processes that no longer wait left behind (AWS: wake queues past their age); returns how many. */
  sweep?(): Promise<number>;
}

export interface JobWake {
  /** Resolves after `ms`, or as soon as the job is notified (at once if it was since the last sleep); true when notified. */
  sleep(ms: number): Promise<boolean>;
  /** The ended job a notification handed over since the last call, if one did. */
  ended(): JobRecord | undefined;
  close(): void;
}
