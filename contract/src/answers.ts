import { z } from 'zod';
import { ROLES, Resources, VerificationPolicy } from './requests';
import { LimitHit, UnwatchedLimit } from './envelope';
import { JOB_STATUSES, RUN_PHASES } from './statuses';

export { JOB_STATUSES, RUN_PHASES, TERMINAL_STATUSES, type RunPhase } from './statuses';

/**
 * What the controller's HTTP API answers, as zod schemas: the OpenAPI document's response schemas
 * are generated from these (openapi.ts), the portal and the CLI take their types from them, the
 * agent parses its answers with them, and the HTTP tests check every real answer against them.
 *
 * `z.strictObject`: every member is listed (a test fails on an undocumented one). `z.looseObject`:
 * the listed members are checked and others may follow (answers that grow, or that carry records
 * owned by the ledger). Instants are ISO 8601 UTC strings; amounts are integer micro-credits.
 */

const instant = z.iso.datetime();
const count = z.number().int().min(0);
const micro = z.number().int();
const list = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item) });

export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatus>;
export const PaymentTerms = z.enum(['prepaid', 'invoice']);

// ---------- accounts and credentials ----------

export const User = z.strictObject({
  userId: z.string(),
  email: z.string(),
  roles: z.array(z.enum(ROLES)),
  createdAt: instant,
  operator: z.literal(true).optional().meta({ description: 'the platform operator, by the one-time claim (POST /operator/claim)' }),
});
export type User = z.infer<typeof User>;

export const Registration = z.strictObject({
  user: User,
  token: z.string().meta({ description: 'API token (cf_…), shown once' }),
  tokenId: z.string(),
});
export type Registration = z.infer<typeof Registration>;

export const Session = z.strictObject({ token: z.string(), userId: z.string() });
export type Session = z.infer<typeof Session>;

export const PublicKey = z.strictObject({ publicKey: z.string(), keyId: z.string(), algorithm: z.literal('Ed25519') });

/** An API token or an invoke key as its owner sees it: never the secret. */
export const Credential = z.strictObject({
  tokenId: z.string(),
  kind: z.enum(['api', 'invoke']),
  name: z.string().optional(),
  functionId: z.string().optional(),
  hint: z.string().meta({ description: "the secret's prefix and last four characters" }),
  createdAt: instant,
  expiresAt: instant,
  expired: z.boolean(),
});
export type Credential = z.infer<typeof Credential>;
export const CredentialList = list(Credential);
export const NewToken = Credential.extend({ token: z.string().meta({ description: 'the API token (cf_…), shown once' }) });
export type NewToken = z.infer<typeof NewToken>;
export const NewInvokeKey = Credential.extend({ key: z.string().meta({ description: 'the invoke key (ik_…), shown once' }) });
export type NewInvokeKey = z.infer<typeof NewInvokeKey>;

// ---------- functions ----------

export const FunctionRecord = z.strictObject({
  functionId: z.string(),
  ownerId: z.string(),
  name: z.string(),
  version: z.number().int().min(1),
  image: z.string(),
  description: z.string().optional(),
  inputSchema: z.record(z.string(), z.unknown()).optional(),
  resources: Resources,
  protocol: z.enum(['stdio', 'http']),
  mode: z.enum(['sync', 'async']),
  network: z.enum(['none', 'egress']),
  maxPrice: z.number().int().optional(),
  env: z.record(z.string(), z.string()),
  resultBucket: z.string().optional(),
  resultRoleArn: z.string().optional(),
  concurrency: z.number().int().optional(),
  verification: VerificationPolicy.optional(),
  deletedAt: instant.optional(),
  createdAt: instant,
  updatedAt: instant,
});
export type FunctionRecord = z.infer<typeof FunctionRecord>;
export const FunctionList = list(FunctionRecord);

export const InputUpload = z.strictObject({
  uploadId: z.string(),
  uploadUrl: z.url(),
  method: z.literal('PUT'),
  size: z.number().int(),
  headers: z.record(z.string(), z.string()).optional(),
  expiresAt: instant,
});
export type InputUpload = z.infer<typeof InputUpload>;

// ---------- jobs ----------

/** Issue #19: one replica of a replicated job, as the controller saw it and the ledger decided it. */
export const JobReplica = z.strictObject({
  jobId: z.string(),
  status: JobStatus,
  providerId: z.string().optional(),
  resultSha256: z.string().meta({ description: "the result hash the provider signed in its report" }).optional(),
  compareSha256: z.string().meta({ description: "under a declared comparison: the comparison hash the provider signed, which it voted with" }).optional(),
  outcome: z
    .enum(['agreed', 'disagreed', 'missed', 'inconclusive', 'unchecked', 'pending'])
    .meta({ description: 'unchecked: run alone on a provider trusted for the function version (adaptive replication), paid, earns no trust' }),
  cost: count.meta({ description: 'micro-credits paid for this replica, once the ledger settled it' }).optional(),
  paid: z.boolean().optional(),
});

/** Issue #19: a replicated job's verification: its policy, its replicas and the quorum decision. */
export const JobVerification = z.strictObject({
  mode: z.enum(['replicate', 'spot-check']).meta({ description: 'spot-check: this job was drawn for a check, and replicated' }),
  k: z.number().int(),
  quorum: z.number().int(),
  maxReplicas: z.number().int(),
  decision: z.enum(['pending', 'agreed', 'no-quorum']),
  agreedSha256: z.string().optional(),
  extra: z.number().int().meta({ description: 'replicas the first round started beyond k' }),
  trusted: z
    .strictObject({ providerId: z.string(), validRuns: count })
    .meta({ description: 'adaptive replication: the job ran alone (unchecked) on this provider, trusted after validRuns agreements in a row on the function version; the chance it was checked was 1/validRuns' })
    .optional(),
  deadlineAt: instant.meta({ description: 'no replacement replica starts after this; the job is decided from the replicas started' }).optional(),
  respond: z.enum(['quorum', 'first']).meta({ description: 'first: the first result was handed out at once, before the quorum' }),
  verdict: z
    .enum(['unverified', 'confirmed', 'overturned'])
    .meta({
      description:
        'respond first, once a result was handed out: unverified until the quorum decides; confirmed (the quorum agreed with it); overturned (the quorum agreed on another result, now the job’s, or no quorum: the job FAILED and nothing is charged)',
    })
    .optional(),
  replicas: z.array(JobReplica).meta({ description: 'in the job view only (GET /jobs/{id})' }).optional(),
});

export const JobSummary = z.strictObject({
  jobId: z.string(),
  functionId: z.string(),
  functionVersion: z.number().int().min(1),
  status: JobStatus,
  attempt: z.number().int().min(1),
  providerId: z.string().optional(),
  timings: z.strictObject({
    createdAt: instant,
    queuedAt: instant,
    assignedAt: instant.optional(),
    startedAt: instant.optional(),
    finishedAt: instant.optional(),
    cancelledAt: instant.optional(),
  }),
  progress: z
    .strictObject({
      phase: z.enum(RUN_PHASES),
      since: instant.meta({ description: 'when the provider entered the phase (its clock, never later than the controller’s)' }),
      reportedAt: instant.meta({ description: 'the heartbeat that said so (the controller’s clock)' }),
    })
    .meta({ description: 'while the job is ASSIGNED: what its provider last said it is doing (from its heartbeats, so up to one heartbeat interval old)' })
    .optional(),
  runtimeMs: count.optional(),
  cost: count.meta({ description: 'micro-credits, once the ledger settled the job' }).optional(),
  paid: z.boolean().optional(),
  exitCode: z.number().int().nullable().optional(),
  reason: z.string().optional(),
  limits: z
    .array(LimitHit)
    .meta({ description: 'limits the container reached, in words (from the provider’s signed report); they change neither the status nor the cost' })
    .optional(),
  limitsUnwatched: z.array(UnwatchedLimit).meta({ description: 'limits the provider could not watch for this run, and why' }).optional(),
  input: z.strictObject({ kind: z.enum(['inline', 'upload']), size: count.optional() }),
  result: z.strictObject({ sha256: z.string().optional(), size: count }).optional(),
  invokeKeyId: z.string().optional(),
  /** Issue #19: the replicated job this job is one replica of. */
  replicaOf: z.string().optional(),
  verification: JobVerification.optional(),
  callback: z
    .strictObject({
      url: z.string(),
      status: z.enum(['pending', 'delivered', 'failed']),
      attempts: count,
      deliveredAt: instant.optional(),
      error: z.string().optional(),
      event: z.enum(['job.finished', 'job.verified']).meta({ description: 'the delivery these fields describe: job.verified once the verdict of a job answered unverified is owed' }),
    })
    .optional(),
});
export type JobSummary = z.infer<typeof JobSummary>;

/** A job with the presigned links to its result and log (once it has them). */
export const Job = JobSummary.extend({
  resultUrl: z.url().meta({ description: 'presigned GET of the result' }).optional(),
  logUrl: z
    .url()
    .meta({
      description:
        'presigned GET of the log (the function’s stderr). While the job runs (progress running or uploading): the log so far, which its provider uploads every few seconds as it grows; 404 until the first upload',
    })
    .optional(),
});
export type Job = z.infer<typeof Job>;

export const JobPage = z.strictObject({
  items: z.array(JobSummary),
  next: z.string().meta({ description: 'cursor of the next page; absent on the last' }).optional(),
});
export type JobPage = z.infer<typeof JobPage>;

/** A job's record on the monitoring ledger (chaincode `Job`; the ledger may add members). */
export const LedgerJob = z.looseObject({
  jobId: z.string(),
  developerId: z.string().optional(),
  providerId: z.string().optional(),
  functionId: z.string().optional(),
  functionVersion: z.number().int().optional(),
  createdAt: z.string().optional(),
  assignedAt: z.string().meta({ description: "when the controller assigned the current attempt (the controller's clock)" }).optional(),
  runtimeMs: z.number().optional(),
  exitCode: z.number().int().nullable().optional(),
  status: z.enum(['succeeded', 'failed']).optional(),
  runtimeSetAt: z.string().optional(),
  runtimeSignature: z.string().optional(),
  failureReason: z.string().optional(),
  received: z.boolean().optional(),
  resultSha256: z.string().optional(),
  resultSize: z.number().optional(),
  receivedAt: z.string().optional(),
  reportAcceptedAt: z.string().meta({ description: "when the controller accepted the run-time report (the controller's clock)" }).optional(),
  billedMs: z
    .number()
    .meta({ description: 'the run time paid for: the report’s, at most the timeout and at most reportAcceptedAt − assignedAt' })
    .optional(),
  maxCost: z.number().optional(),
  cost: z.number().optional(),
  paid: z.boolean().optional(),
  paidAt: z.string().optional(),
  unpaidReason: z.string().optional(),
  failed: z.string().optional(),
});
export type LedgerJob = z.infer<typeof LedgerJob>;

export const JobLedger = z.strictObject({
  jobId: z.string(),
  onLedger: z.boolean(),
  record: LedgerJob.optional(),
  history: z.array(z.looseObject({ txId: z.string(), timestamp: z.string(), isDelete: z.boolean(), value: LedgerJob.nullable() })),
});
export type JobLedger = z.infer<typeof JobLedger>;

export const CallbackBody = z
  .strictObject({ event: z.enum(['job.finished', 'job.verified']), sentAt: instant, attempt: z.number().int().min(1), job: Job })
  .meta({
    description:
      'What a callback POSTs. Headers: x-chainfaas-signature (base64 Ed25519 over the exact body, key from GET /controller/public-key), x-chainfaas-key-id, x-chainfaas-event, x-chainfaas-delivery (<jobId>.<attempt>). ' +
      'job.verified: a second delivery (x-chainfaas-delivery <jobId>.verdict.<attempt>) for a job answered unverified (respond first), once the quorum confirmed or overturned it.',
  });

// ---------- providers ----------

/** `POST /providers`: where the agent's queue is and whose signatures it must accept. */
export const ProviderRegistration = z.looseObject({
  providerId: z.string().min(1).max(64),
  /** Not checked as a URL: emulators answer hosts like `sqs.us-east-1.127.0.0.1` that WHATWG URLs reject. */
  queueUrl: z.string().min(1).max(2048),
  controllerPublicKey: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }),
  controllerKeyId: z.string().min(1).max(64),
  heartbeatIntervalS: z.number().int().min(1).max(3600),
  sqsEndpoint: z.url().optional(),
  region: z.string().min(1),
  /** `sts`: queue credentials come from the controller and are refreshed (AWS); `environment`: local mode. */
  credentialsMode: z.enum(['sts', 'environment']).default('environment'),
});
export type ProviderRegistration = z.infer<typeof ProviderRegistration>;

export const HeartbeatAnswer = z.looseObject({
  ok: z.literal(true),
  drain: z.boolean(),
  /** Listed jobs the controller no longer holds for this provider: the agent stops them. */
  revokedJobs: z.array(z.string().max(128)).max(1000).default([]),
});

export const ReportOutcome = z.looseObject({ jobId: z.string(), status: JobStatus, duplicate: z.boolean().optional() });
export type ReportOutcome = z.infer<typeof ReportOutcome>;

/** `POST /providers/{id}/credentials`: STS credentials scoped to the provider's queue (AWS), or none (local mode). */
export const ProviderCredentials = z.looseObject({
  providerId: z.string(),
  queueUrl: z.string(),
  credentialsMode: z.enum(['sts', 'environment']),
  credentials: z
    .object({
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      sessionToken: z.string().min(1),
      expiration: z.iso.datetime({ offset: true }),
    })
    .optional(),
});

const Capacity = z.strictObject({ vcpu: z.number(), memoryMb: z.number().int(), diskMb: z.number().int() });

/** One of the caller's providers, as `GET /providers` describes it. */
export const ProviderView = z.strictObject({
  providerId: z.string(),
  name: z.string(),
  state: z.enum(['online', 'offline', 'draining']),
  online: z.boolean(),
  lastHeartbeatAt: instant,
  silentS: count,
  onlineWithinS: z.number(),
  capacity: Capacity,
  free: Capacity,
  runningJobs: count,
  cachedImages: count,
  warmFunctions: count,
  draining: z.boolean(),
  createdAt: instant,
  /** Issue #19: the provider's verification record (from its replicas' outcomes on the ledger). */
  reputation: z
    .strictObject({
      agreed: count,
      disagreed: count,
      missed: count,
      inconclusive: count,
      unchecked: count.meta({ description: 'results accepted on trust without a check (adaptive replication)' }),
      consecutiveValid: count,
      validByVersion: z.record(z.string(), count).meta({ description: 'agreements in a row per function version (<functionId>@<version>), the trust adaptive replication uses' }),
      score: z.number().min(0).max(1).meta({ description: '(agreed + 1) / (agreed + disagreed + missed + 2)' }),
      suspendedUntil: instant.meta({ description: 'no job is placed on the provider before this instant' }).optional(),
    })
    .optional(),
});
export type ProviderView = z.infer<typeof ProviderView>;
export const ProviderList = z.strictObject({ items: z.array(ProviderView), heartbeatStaleS: z.number().optional() });

export const Earnings = z.looseObject({
  providerId: z.string(),
  by: z.enum(['day', 'function']).optional(),
  items: z.array(
    z.looseObject({
      day: z.string().optional(),
      functionId: z.string().optional(),
      name: z.string().optional(),
      jobs: count,
      /** Scratch space the jobs held while they ran, MB-ms (priced by the disk unit, `diskMbMs`). */
      diskMbMs: count.optional(),
      earned: micro,
    }),
  ),
  total: micro,
});
export type Earnings = z.infer<typeof Earnings>;

export const DeadLetters = z.looseObject({});
/** `POST /operator/claim`: the account that now holds the operator right, and when it claimed it. */
export const OperatorClaim = z.strictObject({ userId: z.string(), operator: z.literal(true), claimedAt: instant });
export const Redrive = z.looseObject({});

// ---------- money ----------

export const Account = z.looseObject({
  accountId: z.string(),
  balance: micro,
  unit: z.string().optional(),
  ledgerBalance: micro.optional(),
  /** The balance less the holds of running jobs: what new invocations may spend. */
  available: micro.optional(),
  held: micro.optional(),
  /** `prepaid` (each job paid from the balance) or `invoice` (monthly bills to pay). */
  terms: PaymentTerms.optional(),
  /** Invoice terms: how much may be owed, and what is owed now. */
  creditLimit: micro.optional(),
  owed: micro.optional(),
});
export type Account = z.infer<typeof Account>;

/** One credit or debit of an account on the monetary ledger. */
export const AccountEntry = z.looseObject({
  txId: z.string(),
  timestamp: z.string(),
  /** positive = credit, negative = debit */
  amount: micro,
  kind: z.string(),
  reference: z.string(),
});
export type AccountEntry = z.infer<typeof AccountEntry>;
export const AccountHistory = z.looseObject({ accountId: z.string(), items: z.array(AccountEntry), next: z.string().optional() });
export type AccountHistory = z.infer<typeof AccountHistory>;

export const Reconciliation = z.looseObject({ accountId: z.string(), differences: z.array(z.unknown()) });
export const LedgerVerification = z.looseObject({ mode: z.string(), ok: z.boolean().optional() });

export const TopUp = z.looseObject({
  accountId: z.string(),
  reference: z.string(),
  amount: micro,
  status: z.string(),
  paymentId: z.string().optional(),
  declineReason: z.string().optional(),
  createdAt: z.string().optional(),
  replayed: z.boolean().optional(),
});
export type TopUp = z.infer<typeof TopUp>;

/** A card top-up: pending with its checkout page until the provider's webhook credits it. */
export const CardTopUp = z.looseObject({
  accountId: z.string(),
  reference: z.string(),
  amount: micro,
  status: z.string(),
  sessionId: z.string().optional(),
  checkoutUrl: z.string().optional(),
  paidAmount: micro.optional(),
  createdAt: z.string().optional(),
  replayed: z.boolean().optional(),
});
export type CardTopUp = z.infer<typeof CardTopUp>;

/** A provider's payout: `requested`, then on the ledger `pending`, `paid` or `failed` (its amount returned). */
export const Payout = z.looseObject({
  payoutId: z.string(),
  accountId: z.string(),
  reference: z.string().optional(),
  amount: micro,
  fee: micro,
  net: micro,
  status: z.string(),
  requestedAt: z.string().optional(),
  settledAt: z.string().optional(),
  transferId: z.string().optional(),
  failureReason: z.string().optional(),
  replayed: z.boolean().optional(),
});
export type Payout = z.infer<typeof Payout>;
export const Payouts = z.looseObject({ accountId: z.string(), items: z.array(Payout) });
export type Payouts = z.infer<typeof Payouts>;
export const PayoutOnboarding = z.looseObject({ accountId: z.string(), connectedAccountId: z.string(), onboardingUrl: z.string() });
export type PayoutOnboarding = z.infer<typeof PayoutOnboarding>;
export const WebhookReceipt = z.looseObject({ eventId: z.string(), outcome: z.string() });

export const BillLine = z.looseObject({
  functionId: z.string(),
  name: z.string().optional(),
  jobs: count,
  runtimeMs: count,
  /** Scratch space the jobs held while they ran, MB-ms (priced by the disk unit, `diskMbMs`). */
  diskMbMs: count,
  cost: micro,
});
export type BillLine = z.infer<typeof BillLine>;

/** A monthly statement; `payable` is true when the API would take a payment for it now. */
export const Bill = z.looseObject({
  accountId: z.string(),
  month: z.string(),
  /**
   * `open`: the month is not over; `closed`: over, nothing owed (prepaid: each job was paid from
   * the balance as it settled); `due`: over, on invoice terms, `amountDue` is owed; `paid`: its
   * invoice was paid.
   */
  status: z.enum(['open', 'closed', 'due', 'paid']),
  /** `invoice` when the month's jobs were invoiced (the ledger holds an invoice for it), else `prepaid`. */
  terms: PaymentTerms,
  /** True when `POST /account/bills/{month}/pay` would pay it now (status `due`). */
  payable: z.boolean(),
  lines: z.array(BillLine),
  jobs: count,
  runtimeMs: count,
  diskMbMs: count,
  total: micro,
  /** Invoice terms: what the ledger invoiced for the month, and what was paid of it. */
  invoiced: micro,
  amountPaid: micro,
  amountDue: micro,
  paidAt: z.string().optional(),
  unit: z.literal('micro-credits'),
});
export type Bill = z.infer<typeof Bill>;
export const Bills = z.looseObject({ accountId: z.string(), items: z.array(Bill) });

/** What paying a bill answers: `pending` until the ledger commits the payment; a replay is `paid`. */
export const BillReceipt = z.looseObject({
  accountId: z.string(),
  month: z.string(),
  amount: micro,
  reference: z.string(),
  status: z.enum(['pending', 'paid']),
  paidAt: z.string().optional(),
  replayed: z.boolean().optional(),
  unit: z.literal('micro-credits'),
});
export type BillReceipt = z.infer<typeof BillReceipt>;

export const Terms = z.looseObject({ accountId: z.string(), terms: PaymentTerms, creditLimit: micro, status: z.string() });
export const PublishedPrices = z.looseObject({ version: z.number().int(), vcpuMs: micro, mbMs: micro, diskMbMs: micro.optional() });
export const Prices = z.looseObject({ current: PublishedPrices, published: z.array(z.unknown()) });

// ---------- peers ----------

/** A peer operator's peer and its status in the channel (GET /peers). */
export const PeerView = z.strictObject({
  peerId: z.string(),
  name: z.string(),
  endpoint: z.string(),
  mspId: z.string(),
  createdAt: instant,
  joinedAt: instant.optional(),
  revokedAt: instant.optional(),
  status: z.enum(['enrolled', 'joined', 'unreachable', 'revoked']),
  ledgerHeight: count.optional(),
  channelHeight: count.optional(),
  statusText: z.string(),
});
export type PeerView = z.infer<typeof PeerView>;

/** What `join-peer.sh --bundle` reads: certificates and the network's coordinates, no key. */
export const JoinBundle = z.strictObject({
  peerId: z.string(),
  name: z.string().optional(),
  endpoint: z.string(),
  mspId: z.string(),
  channel: z.string(),
  orderer: z.looseObject({ endpoint: z.string(), hostAlias: z.string().optional(), tlsCaCertificate: z.string() }),
  gossipBootstrap: z.looseObject({ endpoint: z.string(), hostAlias: z.string().optional() }),
  chaincode: z.strictObject({ name: z.string(), label: z.string(), packageId: z.string(), address: z.string() }),
  caCertificate: z.string(),
  tlsCaCertificate: z.string(),
  certificates: z.strictObject({ sign: z.string(), tls: z.string() }),
});
export type JoinBundle = z.infer<typeof JoinBundle>;

export const PeerEnrolment = z.strictObject({ peer: PeerView, bundle: JoinBundle, command: z.string() });
export type PeerEnrolment = z.infer<typeof PeerEnrolment>;
export const PeerDetail = z.strictObject({ peer: PeerView, bundle: JoinBundle.optional(), command: z.string().optional(), networkError: z.string().optional() });
export type PeerDetail = z.infer<typeof PeerDetail>;
export const PeerList = z.strictObject({
  items: z.array(PeerView),
  networkError: z.string().optional(),
  /** Present when no peer can enrol on this platform (embedded ledger, no CA): why, in words. */
  enrolmentUnavailable: z.string().optional(),
});
export type PeerList = z.infer<typeof PeerList>;

export const OpenApi = z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) });

