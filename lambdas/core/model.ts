import { TERMINAL_STATUSES, type JobStatus, type RunPhase } from '../../contract/src/statuses';
import type { CompareRule, LimitHit, Resources, Role, UnwatchedLimit, VerificationPolicy } from '../../contract/src';
import type { Reputation } from './reputation';

/** Records the controller keeps in its read/write store (DynamoDB in AWS and in local mode). */

export interface User {
  userId: string;
  email: string;
  roles: Role[];
  /** `scrypt$N$r$p$salt$hash`, see passwords.ts */
  passwordHash: string;
  createdAt: string;
  /** The platform operator by the one-time claim (use-cases/operator-claim.ts); OPERATOR_USER_IDS is the other way. */
  operator?: true;
}

export interface TokenRecord {
  /** SHA-256 of the bearer token; the token itself is shown once and never stored. */
  tokenHash: string;
  userId: string;
  kind: 'session' | 'api' | 'invoke';
  createdAt: string;
  /** epoch seconds (DynamoDB TTL) */
  expiresAt: number;
  /** Public id of a listed credential (API token `tok_…`, invoke key `key_…`); sessions have none. */
  tokenId?: string;
  /** Invoke keys only: the one function the key may invoke. */
  functionId?: string;
  name?: string;
}

/** A listed credential as its owner sees it (GET /tokens, GET /functions/{id}/keys): never the secret. */
export interface CredentialEntry {
  tokenId: string;
  /** SHA-256 of the secret: lets a revocation delete the lookup item; not the secret itself. */
  tokenHash: string;
  kind: 'api' | 'invoke';
  name?: string;
  functionId?: string;
  /** The secret's last four characters, to tell credentials apart. */
  hint: string;
  createdAt: string;
  /** epoch seconds */
  expiresAt: number;
}

/**
 * An idempotency key a caller sent with an invocation, stored in the jobs table under
 * `jobId = idem#<scope>#<sha256(key)>` next to the job it created. The same key with the same
 * request returns that job; with another request it is a conflict.
 */
export interface IdempotencyRecord {
  /** `user:<userId>` or `key:<invoke key id>`: keys are per caller. */
  scope: string;
  keyHash: string;
  /** SHA-256 of the canonical JSON of the function id and the request body. */
  requestHash: string;
  jobId: string;
  createdAt: string;
  /** ISO instant after which the key may be reused for another request. */
  expiresAt: string;
}

export interface FunctionRecord {
  functionId: string;
  ownerId: string;
  name: string;
  version: number;
  image: string;
  resources: Resources;
  protocol: 'stdio' | 'http';
  mode: 'sync' | 'async';
  network: 'none' | 'egress';
  maxPrice?: number;
  env: Record<string, string>;
  /** What the function does (issue #23). */
  description?: string;
  /** JSON Schema (input-schema.ts's subset) a JSON input must match (issue #23). */
  inputSchema?: Record<string, unknown>;
  /** Set when the developer deleted the function: no new invocations; its jobs and versions stay readable. */
  deletedAt?: string;
  /** Results go to this bucket of the developer's instead of the platform's (see resultRoleArn). */
  resultBucket?: string;
  /** Role in the developer's account the controller assumes to presign into resultBucket. */
  resultRoleArn?: string;
  /** http: requests one warm container serves at once; absent: 1. */
  concurrency?: number;
  /** Issue #19: how results are verified; absent: none. */
  verification?: VerificationPolicy;
  createdAt: string;
  updatedAt: string;
}

/**
 * Issue #19: a replicated job's state (use-cases/verification.ts). The job itself is never placed:
 * its replicas are jobs of their own (`replicaOf`), and it ends when the quorum is decided.
 */
export interface ReplicationState {
  /** `spot-check`: the function checks a share of its jobs and this one was drawn. Absent: `replicate`. */
  mode?: 'spot-check';
  k: number;
  quorum: number;
  maxReplicas: number;
  /** The function's declared comparison (absent: exact bytes); each replica carries it in its envelope. */
  compare?: CompareRule;
  /** Every replica started so far, in order (a replacement is appended). */
  replicaIds: string[];
  decision?: 'agreed' | 'no-quorum';
  /** The hash the quorum voted on: the result's SHA-256, or under `compare` its comparison hash. */
  agreedSha256?: string;
  /** Adaptive replication: the first replica is placed first, and runs alone on a provider trusted for the function version unless drawn for a check. */
  adaptive?: true;
  /** Adaptive: the job runs alone on this provider, trusted after `validRuns` agreements in a row on the function version (decided with quorum 1). */
  trusted?: { providerId: string; validRuns: number };
  /** Replicas the first round started beyond `k` (absent: 0). */
  extra?: number;
  /** No replacement replica starts after this instant; the job is decided from those started. */
  deadlineAt?: string;
  /** The function answers with the first result, unverified, before the quorum (`respond: first`). Absent: it waits for the quorum. */
  respond?: 'first';
  /** `respond: first`: the replica whose result was handed out unverified, and the hash it voted with. */
  provisional?: { replicaId: string; hash: string };
  /** `respond: first`, once decided: whether the quorum confirmed the result handed out. */
  verdict?: 'confirmed' | 'overturned';
}

export type { JobStatus };
/** CANCELLED: the caller cancelled the job while it was QUEUED (POST /jobs/{id}/cancel); it never ran. */
export const TERMINAL = TERMINAL_STATUSES;

/** A running job's phase as its provider's heartbeat told it (`JobRecord.progress`). */
export interface JobProgress {
  attempt: number;
  phase: RunPhase;
  /** When the provider entered the phase, never later than `reportedAt`. */
  since: string;
  /** The controller's clock at the heartbeat. */
  reportedAt: string;
}

export interface JobRecord {
  jobId: string;
  functionId: string;
  functionVersion: number;
  developerId: string;
  status: JobStatus;
  attempt: number;
  image: string;
  resources: Resources;
  protocol: 'stdio' | 'http';
  /** The function's `concurrency` when above 1 (copied at creation, like resources). */
  concurrency?: number;
  network: 'none' | 'egress';
  /** Base64 of the input when small enough to keep on the record until the job is dispatched. */
  inputBase64: string;
  /**
   * Large input uploaded beforehand (POST /functions/{id}/inputs): its object key and size. The
   * envelope then carries `input: { kind: 'url', url: <presigned GET>, size }` (see
   * use-cases/scheduling.ts#envelopeInput) and inputBase64 is empty.
   */
  inputKey?: string;
  inputSize?: number;
  /** The invoke key the job was created with; that key may read the job, no other key may. */
  invokeKeyId?: string;
  /** Issue #16: where a sync caller waits for this job (`JobWaiter#address`: its process's wake queue); absent: nobody across processes. */
  wakeTo?: string;
  /** Completion callback: the URL, and (while a delivery is owed) the sparse `callbacks` index keys. */
  callbackUrl?: string;
  callbackShard?: string;
  callbackDueAt?: string;
  callbackAttempts?: number;
  callbackDeliveredAt?: string;
  callbackError?: string;
  /** Issue #19: the delivery owed is the verdict on a result handed out unverified (`job.verified`); absent: the first (`job.finished`). */
  callbackPhase?: 'verdict';
  cancelledAt?: string;
  resultKey: string;
  logKey: string;
  maxCost: number;
  /** Written on jobs created before issue #16 only (a copy of `billingUnits.version`). */
  billingVersion?: number;
  /** The price list in force when the job was created (billing.ts); the ledger prices the job with it. */
  billingUnits?: { version: number; vcpuMs: number; mbMs: number; diskMbMs?: number };
  /** The hold placed on the developer's available balance for this job (micro-credits), released when it ends. */
  holdAmount?: number;
  createdAt: string;
  /** Present only while QUEUED: the sparse `waiting` index lists jobs waiting for capacity. */
  waitingShard?: string;
  providerId?: string;
  assignedAt?: string;
  startedAt?: string;
  finishedAt?: string;
  /** When the controller accepted the job's run-time report (its own clock; `finishedAt` is the provider's). */
  reportAcceptedAt?: string;
  runtimeMs?: number;
  exitCode?: number | null;
  reason?: string;
  resultSha256?: string;
  resultSize?: number;
  /**
   * A result of at most LIMITS.maxInlineResultBytes carried in the report (base64; its size and
   * SHA-256 checked against the signed report): no object at `resultKey`, and the job's result link
   * is a `data:` URL of these bytes.
   */
  resultInline?: string;
  /** The log's size from the report; 0: the provider stored no log object. Absent on jobs reported before it was kept. */
  logSize?: number;
  /** Limits the container reached, from the report, in words (informative: they change neither status nor cost). */
  limits?: LimitHit[];
  /** Limits the provider could not watch for this attempt, and why. */
  limitsUnwatched?: UnwatchedLimit[];
  /** Set from the ledger's settlement (read model): micro-credits charged, whether it was paid. */
  cost?: number;
  paid?: boolean;
  unpaidReason?: string;
  /** When the job was last re-queued (absent: `createdAt`, when it entered QUEUED); the wait deadline counts from it. */
  queuedAt?: string;
  /** Present only while ASSIGNED: the sparse `leases` index lists running jobs by lease expiry. */
  leaseShard?: string;
  /** The assignee's lease; its heartbeats renew it. When it lapses the job is re-queued or FAILED. */
  leaseExpiresAt?: string;
  /**
   * What the assignee last said the attempt is doing (issue #22): written with the lease's renewal
   * by a heartbeat that names the job; shown only while the job is ASSIGNED at this attempt.
   */
  progress?: JobProgress;
  /** Providers that held earlier attempts (their lease lapsed or their message was dead-lettered). */
  previousProviders?: string[];
  /** Why the job was last taken from a provider and re-queued. */
  requeueReason?: string;
  /**
   * The accepted report (canonical JSON) and its signature, set by the transition that accepted it
   * and removed, with the job's lease, once its ledger events were appended and its capacity
   * released: after a crash in between, the repeated report or the reaper (the job keeps its
   * lapsed lease until then) finishes them.
   */
  /** `report` absent: the job's own fields give back the signed report's canonical JSON (`providers.ts#signedReportOf`), checked when it was accepted. */
  pendingReport?: { report?: string; signature: string };
  /**
   * Set by the transition that took the job back from this provider (reclaim), removed once that
   * provider's capacity was released (and, for a FAILED job, `FailJob` appended and the hold
   * released): after a crash in between, the reaper (a FAILED job keeps its lapsed lease until
   * then) or the next placement (a re-queued job) finishes it.
   */
  releaseFrom?: string;
  /** A bucket the developer named for the function's results (else the platform's bucket). */
  resultBucket?: string;
  /** The role the controller assumes to presign into `resultBucket` (external id: the developer's user id). */
  resultRoleArn?: string;
  /** Issue #19: this job is one replica of the replicated job with this id. */
  replicaOf?: string;
  /** Issue #19: set on a replicated job (the one the caller sees). */
  replication?: ReplicationState;
  /** Issue #19: a replica's declared comparison (from its group), sent in its envelope. */
  compare?: CompareRule;
  /** Issue #19: the comparison hash its provider signed (`RuntimeReport.compareSha256`); it votes with this when present. */
  compareSha256?: string;
}

export interface ProviderRecord {
  providerId: string;
  ownerId: string;
  name: string;
  /** Capacity in integer millicores and MB, so conditional writes compare integers. */
  capacityVcpuMilli: number;
  capacityMemoryMb: number;
  reservedVcpuMilli: number;
  reservedMemoryMb: number;
  /** Disk offered and reserved, MB (issue #23); absent on providers registered before it (scheduler.ts#capacityDiskMb). */
  capacityDiskMb?: number;
  reservedDiskMb?: number;
  publicKeyPem: string;
  queueUrl: string;
  lastHeartbeatAt: string;
  cachedImages: string[];
  warmFunctions: string[];
  draining: boolean;
  createdAt: string;
  /** Always '1': the `online` index lists every provider for the scheduler. */
  onlineShard: string;
  /** ARN of the provider's own queue: the session policy of its credentials names it. */
  queueArn?: string;
  /** Free capacity as the agent last reported it (diagnostic; scheduling uses the reservations). */
  reportedFree?: { vcpu: number; memoryMb: number; diskMb?: number };
  /**
   * An idle agent's promise with its last heartbeat: the next comes within this many seconds
   * (absent: the normal interval). Its liveness window grows by as much (`scheduler.ts#livenessWindowMs`).
   */
  nextBeatS?: number;
  /** Issue #19: the fold of its verification outcomes (reputation.ts), rebuildable from the ledger; and its write version. */
  reputation?: Reputation;
  reputationVersion?: number;
}
