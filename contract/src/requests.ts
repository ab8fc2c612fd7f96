import { z } from 'zod';
import { JOB_STATUSES, RUN_PHASES } from './statuses';
import { INPUT_SCHEMA_COMPONENT, inputSchemaProblem, MAX_INPUT_SCHEMA_BYTES } from './input-schema';

/**
 * What callers send the controller's HTTP API: bodies, query strings and headers, as zod schemas,
 * with the platform's limits. The handlers parse with these, the OpenAPI document is generated
 * from them (openapi.ts), the portal, the CLI and the agent take their types from them.
 */

export const LIMITS = {
  maxVcpu: 8,
  maxMemoryMb: 16384,
  /** A function's scratch space (issue #23): MB of writable /tmp, at most 64 GiB. */
  maxDiskMb: 65536,
  /** Platform maximum for a function's timeout, in seconds. */
  maxTimeoutS: 900,
  /** Input carried inline in the envelope; larger input must be uploaded to S3 first. */
  maxInlineInputBytes: 256 * 1024,
  /**
   * A result of at most this many bytes travels in the provider's report and is kept in the job
   * record, its link a `data:` URL; larger ones are stored as an object (issue #16: below ~1 KB an
   * object's PUT, HEAD and GET cost more than the bytes the job record's later writes carry).
   */
  maxInlineResultBytes: 1024,
  maxBodyBytes: 1024 * 1024,
  maxEnvVars: 50,
  /** Most requests one warm container of an http function may serve at once. */
  maxConcurrency: 64,
  /** Issue #19: most replicas one replicated job may run (the first round and its replacements). */
  maxReplicas: 7,
  /**
   * Micro-credits: the most one top-up may add, and the most an account's balance or credit limit
   * may reach. Far below 2^53 (9.007e15), so every sum the ledger and the read model keep of them
   * (balances, holds, invoices) stays a safe integer, with room for the read model's lag.
   */
  maxTopUp: 1e13,
  maxBalance: 1e15,
  /**
   * Price lists: micro-credits per vCPU-ms and per MB-ms. With them, the costliest job the limits
   * allow (8 vCPU, 16384 MB, 900 s) costs at most 8.1e15 micro-credits: a safe integer.
   */
  maxVcpuMsPrice: 1e8,
  maxMbMsPrice: 5e5,
  /** Micro-credits per disk MB-ms (issue #23): the costliest job adds at most 65536 MB * 900 s * 5e4 = 2.9e15. */
  maxDiskMbMsPrice: 5e4,
  /** Price list versions: at most 1e9, and each publish at most 1000 above the version in force, so publishing never runs out. */
  maxPriceVersion: 1e9,
  maxPriceVersionStep: 1000,
} as const;

export const ROLES = ['developer', 'provider', 'peer-operator'] as const;
export type Role = (typeof ROLES)[number];

/** An id of the platform's (job, function, provider, user). */
export const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z, a-z, 0-9, _ or -');

/**
 * An image reference pinned by digest: `registry/repo@sha256:<64 hex>`. Tags are refused:
 * a tag can be moved after the function was registered, a digest cannot.
 */
export const ImageRef = z
  .string()
  .max(512)
  .regex(
    /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)+@sha256:[a-f0-9]{64}$/,
    'must be an image reference pinned by digest, e.g. 127.0.0.1:5000/chainfaas/sha256@sha256:<64 hex digits>',
  );

export const Resources = z
  .object({
    /** At least one millicore (what the scheduler and the chaincode count in); a smaller number cannot be stored. */
    vcpu: z.number().positive().min(0.001).max(LIMITS.maxVcpu),
    memoryMb: z.number().int().min(16).max(LIMITS.maxMemoryMb),
    timeoutS: z.number().int().min(1).max(LIMITS.maxTimeoutS),
    /**
     * Writable scratch space (/tmp) in MB, the third scheduled and billed resource (issue #23).
     * Absent on a new function: DEFAULT_DISK_MB. Functions registered before it have none and get
     * DEFAULT_DISK_MB too (`diskMbOf`).
     */
    diskMb: z.number().int().min(1).max(LIMITS.maxDiskMb).optional(),
  })
  .strict();
export type Resources = z.infer<typeof Resources>;

/** Scratch space of a function that requests none: the size of the agent-wide /tmp before issue #23. */
export const DEFAULT_DISK_MB = 64;
/** Disk a provider offers when its registration declares none (providers registered before issue #23). */
export const DEFAULT_PROVIDER_DISK_MB = 10 * 1024;
/** A function's scratch space in MB: what it requested, else DEFAULT_DISK_MB. */
export const diskMbOf = (r: Pick<Resources, 'diskMb'>): number => r.diskMb ?? DEFAULT_DISK_MB;

/** A function's input schema: JSON Schema within the subset of input-schema.ts; a refusal names the keyword's path. */
export const InputSchema = z
  .record(z.string(), z.unknown())
  .superRefine((schema, ctx) => {
    const problem = inputSchemaProblem(schema);
    if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    else if (!wellFormed(schema)) ctx.addIssue({ code: 'custom', path: [], message: 'must be valid Unicode: no lone surrogate (\\ud800-\\udfff unpaired)' });
  })
  .meta({
    // The document describes the subset exactly (openapi.ts adds the component), not "any object".
    $ref: `#/components/schemas/${INPUT_SCHEMA_COMPONENT}`,
    description:
      `JSON Schema (draft 2020-12) for a JSON input, within a subset: type, properties, required, additionalProperties (boolean), items, enum, const, ` +
      `minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, minItems, maxItems, title, description, default, $schema; ` +
      `at most ${MAX_INPUT_SCHEMA_BYTES} bytes`,
  });

export const RegisterUserBody = z
  .object({
    email: z.string().email().max(254),
    /** Counted in Unicode code points, as zod 4 counts string lengths (and JSON Schema's minLength): an emoji is one. */
    password: z.string().min(10, 'must be at least 10 characters').max(200),
    roles: z.array(z.enum(ROLES)).min(1).max(3),
  })
  .strict();

export const LoginBody = z.object({ email: z.string().email().max(254), password: z.string().min(1).max(200) }).strict();

/** An S3 bucket name (3-63 lower-case letters, digits, dots and dashes, not an IP address). */
export const BucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name: 3-63 lower-case letters, digits, dots and dashes')
  .refine((b) => !/^\d+\.\d+\.\d+\.\d+$/.test(b) && !b.includes('..'), 'must be an S3 bucket name, not an IP address or a name with ".."');

/**
 * The role a developer grants the controller for their result bucket. Its name must start with
 * `chainfaas-results` (the controller's IAM may assume only such roles) and its trust policy must
 * require the developer's user id as external id.
 */
export const ResultRoleArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:iam::\d{12}:role\/chainfaas-results[A-Za-z0-9+=,.@_-]{0,47}$/,
    'must be the ARN of an IAM role named chainfaas-results..., e.g. arn:aws:iam::123456789012:role/chainfaas-results-writer',
  );

/**
 * Issue #19: how replicas' results are compared. Absent: exact bytes (the result's SHA-256).
 * `canonicalJson`: the result is parsed as JSON, the members the JSON Pointers (RFC 6901) in
 * `ignore` name are removed, and the SHA-256 of the rest in canonical JSON (keys sorted, no
 * whitespace) is what the replicas vote on. The agent computes it and signs it in its report
 * (`compareSha256`); a result that is not JSON has none, and votes with its exact bytes.
 */
export const CompareRule = z.strictObject({
  canonicalJson: z.strictObject({
    ignore: z
      .array(z.string().max(200).regex(/^(\/([^~]|~[01])*)+$/, 'a JSON Pointer such as /meta/at'))
      .max(32),
  }),
});
export type CompareRule = z.infer<typeof CompareRule>;

/**
 * Issue #19: how a function's results are verified. `none` (the default): one provider's result is
 * taken as it is. `replicate`: each job runs on `k` providers of `k` distinct owners; the job
 * SUCCEEDS when `quorum` owners' providers signed the same result hash (exact bytes), else more
 * replicas run, up to `maxReplicas` in all, then it FAILS with the reason. Only agreeing providers
 * are paid, each the median of the agreeing replicas' billed times; without a quorum nobody is.
 * `spot-check`: a `fraction` of the jobs is replicated that way, chosen by the controller.
 */
/**
 * `replicate` for one `k`: one shape per k, so that the schema itself (and the API document made
 * from it) says quorum ≤ k ≤ maxReplicas, which a JSON Schema cannot say by comparing two fields.
 */
/**
 * When the caller gets a replicated job's answer. `quorum` (the default): once the quorum decided.
 * `first`: the first replica's result at once, marked `unverified` (the job view's
 * `verification.verdict`), then `confirmed` or `overturned` when the quorum decides; a callback
 * is sent again for the verdict (`job.verified`). An overturned job carries the agreed result
 * instead, or FAILS without a quorum, and then nothing is charged.
 */
export const Respond = z.enum(['quorum', 'first']);

const replicateWith = (k: number) =>
  z.strictObject({
    mode: z.literal('replicate'),
    /** Replicas started at once, on providers of distinct owners. */
    k: z.literal(k),
    /** Owners whose providers must sign the same result hash, at most k. Absent: a majority of k. */
    quorum: z.number().int().min(2).max(k).optional(),
    /** Most replicas in all, replacements for disagreeing or missing ones included, at least k. Absent: k. */
    maxReplicas: z.number().int().min(k).max(LIMITS.maxReplicas).optional(),
    /** How results are compared. Absent: exact bytes. */
    compare: CompareRule.optional(),
    /** Wait for the quorum (default) or answer with the first result, unverified. */
    respond: Respond.optional(),
    /**
     * Adaptive replication (BOINC's): a job placed on a provider with TRUST_AFTER (10) agreements in
     * a row on this function version is checked (replicated) only with probability 1 / that count,
     * drawn by the controller; otherwise it runs alone, recorded `unchecked`. Absent: always replicate.
     */
    adaptive: z.boolean().optional(),
    /** Replicas the first round starts beyond `k` (so a missing one needs no replacement), on distinct owners too. Absent: 0. */
    extra: z.number().int().min(0).max(LIMITS.maxReplicas - k).optional(),
    /**
     * Seconds from the invocation within which replacements may start (for replicas whose provider
     * went silent, or disagreeing ones); after it the job is decided from the replicas started.
     * Absent: 4 × the function's timeout, at least 300.
     */
    deadlineS: z.number().int().min(10).max(86_400).optional(),
  });
const REPLICATE_K = Array.from({ length: LIMITS.maxReplicas - 1 }, (_, i) => replicateWith(i + 2));

export const VerificationPolicy = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('none') }),
  z.discriminatedUnion('k', REPLICATE_K as [ReturnType<typeof replicateWith>, ...ReturnType<typeof replicateWith>[]]),
  /**
   * A share of the jobs, drawn by the controller at invocation, runs as `replicate` with k = 2,
   * quorum 2, at most 3 replicas; the rest as `none`. A provider cannot tell a checked job from
   * another: its envelope, links and report are the same.
   */
  z.strictObject({ mode: z.literal('spot-check'), fraction: z.number().min(0).max(1), compare: CompareRule.optional(), respond: Respond.optional() }),
]);
export type VerificationPolicy = z.infer<typeof VerificationPolicy>;

export const CreateFunctionBody = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, at most 63'),
    image: ImageRef,
    /** What the function does, for its readers (portal, CLI). */
    description: z.string().max(1000).refine(wellFormed, 'must be valid Unicode: no lone surrogate (\\ud800-\\udfff unpaired)').optional(),
    /** JSON Schema (the subset of input-schema.ts) a JSON `input` must match; binary input is not checked. */
    inputSchema: InputSchema.optional(),
    resources: Resources,
    protocol: z.enum(['stdio', 'http']).default('stdio'),
    mode: z.enum(['sync', 'async']).default('sync'),
    network: z.enum(['none', 'egress']).default('none'),
    /** Highest price a single job may cost, in micro-credits. */
    maxPrice: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'environment variable names must be shell identifiers'), z.string().max(4096))
      .refine((e) => Object.keys(e).length <= LIMITS.maxEnvVars, `at most ${LIMITS.maxEnvVars} variables`)
      .default({}),
    /** A bucket of the developer's for results and logs (instead of the platform's); see resultRoleArn. */
    resultBucket: BucketName.optional(),
    /** Role the controller assumes (external id: the developer's user id) to presign into resultBucket. */
    resultRoleArn: ResultRoleArn.optional(),
    /**
     * http functions: requests one warm container serves at once (each still reserves the
     * function's resources). Absent: 1. A stdio function runs one container per job.
     */
    concurrency: z.number().int().min(1).max(LIMITS.maxConcurrency).optional(),
    /** Issue #19: how results are verified; absent: `{ "mode": "none" }`. Changed with PUT like every other field. */
    verification: VerificationPolicy.optional(),
  })
  .strict()
  .refine((f) => f.protocol === 'http' || (f.concurrency ?? 1) === 1, {
    message: 'concurrency: only an http function serves more than one request per container',
    path: ['concurrency'],
  })
  // The refinement above and resultLocation's rule (use-cases/results.ts), as the document states them.
  .meta({
    anyOf: [{ required: ['protocol'], properties: { protocol: { const: 'http' } } }, { not: { required: ['concurrency'] } }, { properties: { concurrency: { const: 1 } } }],
    dependentRequired: { resultRoleArn: ['resultBucket'] },
  });
export type CreateFunctionBody = z.infer<typeof CreateFunctionBody>;

/** True when every string in `value` (at any depth, keys included) is well-formed Unicode: no lone surrogate. */
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return (value as string & { isWellFormed(): boolean }).isWellFormed();
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value !== null && typeof value === 'object') return Object.entries(value).every(([k, v]) => wellFormed(k) && wellFormed(v));
  return true;
}

/**
 * Canonical base64: the standard alphabet, padded, and no stray bits (it decodes and encodes back
 * to itself): before `==` the last character carries 2 bits (A, Q, g or w), before `=` it carries 4.
 */
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;

/**
 * A callback URL: https to a DNS name (no IP literal, no `.localhost` or `.internal` name), or
 * http://127.0.0.1 / localhost where the platform allows loopback callbacks (local mode).
 * callbacks.ts#checkCallbackUrl checks the same again when the job is created.
 */
const CALLBACK_URL =
  /^(?:https:\/\/(?![^/?#]*\.(?:localhost|internal)(?:[:/?#]|$))(?:(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}|http:\/\/(?:127\.0\.0\.1|localhost))(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(?:\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/;

export const InvokeBody = z
  .object({
    /** Bytes for the function's stdin: a string is sent as UTF-8, anything else as its JSON. */
    input: z
      .unknown()
      .refine(wellFormed, 'must be valid Unicode: a string with a lone surrogate (\\ud800-\\udfff unpaired) would reach the function changed')
      .optional(),
    inputBase64: z
      .string()
      .max(Math.ceil((LIMITS.maxInlineInputBytes * 4) / 3) + 4)
      .regex(CANONICAL_BASE64, 'must be canonical base64: A-Z, a-z, 0-9, + and /, padded with = to a multiple of 4 characters')
      .optional(),
    mode: z.enum(['sync', 'async']).optional(),
    /** Sync mode: seconds to wait for the result before answering 202 (handlers/invocations.ts cuts it to the request's remaining time). */
    waitS: z
      .number()
      .int()
      .min(0)
      .max(60)
      .meta({ description: 'sync mode: seconds to wait for the result before answering 202 (default 25); a wait longer than the request may last (the Lambda timeout) ends early with 202' })
      .optional(),
    /** Input uploaded beforehand with POST /functions/{id}/inputs: for input over the inline limit. */
    inputUpload: z
      .string()
      .regex(/^in_[A-Za-z0-9]{8,40}$/, 'must be an uploadId returned by POST /functions/{id}/inputs')
      .optional(),
    /** Where the controller POSTs the signed job view when the job ends (https; http://127.0.0.1 in local mode). */
    callbackUrl: z
      .string()
      .max(2048)
      .regex(CALLBACK_URL, 'must be an https URL naming a public DNS host (http://127.0.0.1 only in local mode)')
      .optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const sent = (['input', 'inputBase64', 'inputUpload'] as const).filter((k) => b[k] !== undefined);
    if (sent.length > 1) ctx.addIssue({ code: 'custom', message: `send one of input, inputBase64 or inputUpload, not ${sent.join(' and ')}`, path: [sent[1] as string] });
  })
  .meta({ not: { anyOf: [{ required: ['input', 'inputBase64'] }, { required: ['input', 'inputUpload'] }, { required: ['inputBase64', 'inputUpload'] }] } });

/**
 * An Ed25519 public key as SPKI PEM (what node:crypto exports): the fixed 12-byte SPKI prefix
 * (`MCowBQYDK2VwAyEA`) and the 32-byte key in canonical base64. Any 32 bytes are a key node accepts.
 */
export const Ed25519PublicKeyPem = z
  .string()
  .regex(
    /^-----BEGIN PUBLIC KEY-----\r?\nMCowBQYDK2VwAyEA[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=\r?\n-----END PUBLIC KEY-----(\r?\n)?$/,
    'must be an Ed25519 public key in SPKI PEM (-----BEGIN PUBLIC KEY-----, one base64 line of 60 characters starting MCowBQYDK2VwAyEA)',
  );

export const RegisterProviderBody = z
  .object({
    name: z.string().min(1).max(64),
    capacity: z
      .object({
        /** At least one millicore, like a function's vCPU. */
        vcpu: z.number().min(0.001).max(256),
        memoryMb: z
          .number()
          .int()
          .min(64)
          .max(1024 * 1024),
        /** Scratch space offered to functions, MB (issue #23). Absent: DEFAULT_PROVIDER_DISK_MB. */
        diskMb: z
          .number()
          .int()
          .min(1)
          .max(1024 * 1024 * 1024)
          .optional(),
      })
      .strict(),
    /** The provider's Ed25519 public key (SPKI PEM); its private key never leaves the provider's machine. */
    publicKey: Ed25519PublicKeyPem,
  })
  .strict();

/** The longest pause an idle agent may announce between heartbeats (`HeartbeatBody.nextBeatS`). */
export const MAX_IDLE_BEAT_S = 600;

export const HeartbeatBody = z
  .object({
    cachedImages: z.array(z.string().max(600)).max(1000).default([]),
    warmFunctions: z.array(id).max(1000).default([]),
    runningJobs: z.array(id).max(1000).default([]),
    /**
     * What each running job is doing and since when (issue #22; optional, additive): recorded on
     * the job only where the job is ASSIGNED to this provider, with its lease's renewal.
     */
    phases: z
      .array(z.object({ jobId: id, attempt: z.number().int().min(1).max(1000), phase: z.enum(RUN_PHASES), since: z.iso.datetime() }).strict())
      .max(1000)
      .optional(),
    /**
     * Free capacity as the agent sees it (optional; the controller schedules from its own
     * reservations). vCPU is 0 or at least one millicore: a number DynamoDB cannot store (5e-324)
     * is refused here, not by the database.
     */
    free: z
      .object({
        vcpu: z
          .number()
          .min(0)
          .max(256)
          .refine((v) => v === 0 || v >= 0.001, 'must be 0 or at least 0.001 (one millicore)')
          .meta({ anyOf: [{ const: 0 }, { minimum: 0.001 }] }),
        memoryMb: z
          .number()
          .int()
          .nonnegative()
          .max(1024 * 1024),
        diskMb: z
          .number()
          .int()
          .nonnegative()
          .max(1024 * 1024 * 1024)
          .optional(),
      })
      .strict()
      .optional(),
    draining: z.boolean().default(false),
    /** An idle agent beating slowly: its next heartbeat comes within this many seconds (issue #24); absent while it runs jobs. */
    nextBeatS: z.number().int().min(1).max(MAX_IDLE_BEAT_S).optional(),
  })
  .strict();
export type HeartbeatBody = z.infer<typeof HeartbeatBody>;

/** Largest input that may be uploaded with POST /functions/{id}/inputs (bytes). */
export const MAX_UPLOADED_INPUT_BYTES = 100 * 1024 * 1024;

/** `POST /tokens` and `POST /functions/{id}/keys`: an optional label and lifetime. */
export const CreateCredentialBody = z
  .object({
    name: z
      .string()
      .regex(/^[\x20-\x7e]{1,64}$/, 'must be 1-64 printable ASCII characters')
      .optional(),
    /** Lifetime in seconds; default 30 days for API tokens (TOKEN_TTL_S), 365 days for invoke keys. */
    expiresInS: z
      .number()
      .int()
      .min(60)
      .max(5 * 365 * 24 * 3600)
      .optional(),
  })
  .strict();

/** `POST /functions/{id}/inputs`: the exact size of the input to upload. */
export const CreateInputBody = z.object({ size: z.number().int().min(1).max(MAX_UPLOADED_INPUT_BYTES) }).strict();

/** `GET /functions/{id}?version=n`. */
export const FunctionQuery = z.object({ version: z.coerce.number().int().positive().max(1_000_000).optional() }).strict();

/** The `idempotency-key` header of an invocation. */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters without spaces');

/** `GET /jobs?functionId=&status=&from=&to=&limit=&cursor=`. `status` may list several, comma-separated. */
export const JobsQuery = z
  .object({
    functionId: id.optional(),
    status: z
      .string()
      .regex(new RegExp(`^(${JOB_STATUSES.join('|')})(,(${JOB_STATUSES.join('|')}))*$`), `must be one or more of ${JOB_STATUSES.join(', ')}, comma-separated`)
      .optional(),
    from: z.string().datetime({ offset: true }).optional(),
    to: z.string().datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,400}$/, 'must be the cursor of a previous page')
      .optional(),
  })
  .strict();

/** `POST /operator/dlq/redrive`: which dead letters to act on (by message id), or all of them. */
export const RedriveBody = z
  .object({
    messageIds: z.array(z.string().min(1).max(128)).min(1).max(100).optional(),
    all: z.literal(true).optional(),
  })
  .strict()
  .refine((b) => (b.messageIds !== undefined) !== (b.all !== undefined), { message: 'send messageIds or "all": true (one of them)', path: ['messageIds'] })
  .meta({ oneOf: [{ required: ['messageIds'] }, { required: ['all'] }] });

/**
 * `POST /operator/claim`: the one-time claim token the deploy generated (AWS: the stack's
 * `OperatorClaimSecretArn` secret; local mode: the file the platform prints), which grants the
 * operator right to the calling account once.
 */
export const OperatorClaimBody = z.object({ claimToken: z.string().min(1).max(200) }).strict();

/** `GET /operator/dlq?max=`: how many dead letters to list. */
export const DeadLetterQuery = z.object({ max: z.coerce.number().int().min(1).max(100).default(20) }).strict();

// ---------- money (lambdas/core/use-cases/billing.ts) ----------

/** `POST /operator/prices`: the next version of the billing units (micro-credits per vCPU-ms and per MB-ms). */
export const PricesBody = z
  .object({
    /** Absent: the version in force + 1. At most LIMITS.maxPriceVersionStep above the version in force (else 409). */
    version: z.number().int().positive().max(LIMITS.maxPriceVersion).optional(),
    vcpuMs: z.number().int().nonnegative().max(LIMITS.maxVcpuMsPrice),
    mbMs: z.number().int().nonnegative().max(LIMITS.maxMbMsPrice),
    /** Per MB-ms of scratch space (issue #23). Absent: 0, disk is free. */
    diskMbMs: z.number().int().nonnegative().max(LIMITS.maxDiskMbMsPrice).optional(),
  })
  .strict();

/** `PUT /operator/accounts/{accountId}/terms`: prepaid, or invoice with a credit limit (micro-credits). */
export const TermsBody = z
  .object({
    terms: z.enum(['prepaid', 'invoice']),
    creditLimit: z.number().int().nonnegative().max(LIMITS.maxBalance).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.terms === 'invoice' && b.creditLimit === undefined)
      ctx.addIssue({ code: 'custom', path: ['creditLimit'], message: 'required for invoice terms (micro-credits)' });
    if (b.terms === 'prepaid' && (b.creditLimit ?? 0) !== 0)
      ctx.addIssue({ code: 'custom', path: ['creditLimit'], message: 'prepaid terms have no credit limit (0 or absent)' });
  })
  // The refinement above, as the OpenAPI document states it.
  .meta({
    anyOf: [
      { properties: { terms: { const: 'invoice' } }, required: ['creditLimit'] },
      { properties: { terms: { const: 'prepaid' }, creditLimit: { const: 0 } } },
    ],
  });

/** `POST /account/top-ups`: `reference` makes it idempotent. */
export const TopUpBody = z
  .object({
    amount: z.number().int().positive().max(LIMITS.maxTopUp),
    reference: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits and . _ : - only, 1 to 100 characters'),
  })
  .strict();

const Reference = z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits and . _ : - only, 1 to 100 characters');
const ReturnUrl = z.url({ protocol: /^https?$/ }).max(2000);

/** `POST /account/card-top-ups`: a card top-up through the payment provider's checkout page; `reference` makes it idempotent. */
export const CardTopUpBody = z
  .object({
    amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    reference: Reference,
    /** Where the checkout page sends the payer back (under the portal's URL); default the portal's account page. */
    returnUrl: ReturnUrl.optional(),
  })
  .strict();

/** `POST /account/payouts`: withdraw `amount` micro-credits of settled earnings; `reference` makes it idempotent. */
export const WithdrawBody = z
  .object({
    amount: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    reference: Reference,
  })
  .strict();

/** `POST /payments/webhook`: a Stripe event (checked by its signature over the exact bytes, then read by the Stripe SDK). */
export const PaymentWebhookBody = z.looseObject({ id: z.string(), type: z.string() });

/** `POST /account/payouts/onboarding`: where the provider's onboarding page sends the provider back. */
export const ConnectBody = z.object({ returnUrl: ReturnUrl.optional() }).strict();

/** `GET /account/history?limit=&cursor=`. */
export const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

/** A month as `YYYY-MM` (`/account/bills/{month}`). */
export const Month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM');

/** `GET /providers/{id}/earnings?by=day|function`. */
export const EarningsQuery = z.object({ by: z.enum(['day', 'function']).default('day') });

// ---------- peers (lambdas/core/use-cases/peers.ts) ----------

const MAX_CSR_CHARS = 4096;
/** A dotted-quad IPv4 address (as node:net's isIPv4: no leading zeros); written out so that the browser can load this module. */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const isIPv4 = (s: string) => IPV4.test(s);

const HOST = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `POST /peers`: the peer's name, where it will listen, and its two CSRs (PEM PKCS#10). */
export const CreatePeerBody = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'letters, digits, space, dot, underscore and dash, starting with a letter or digit'),
    endpoint: z
      .string()
      .max(260)
      .refine((value) => {
        const match = /^(.+):(\d{1,5})$/.exec(value);
        if (!match) return false;
        const [host, port] = [match[1] as string, Number(match[2])];
        if (port < 1 || port > 65535) return false;
        if (/^[\d.]+$/.test(host)) return isIPv4(host) && host !== '0.0.0.0';
        return HOST.test(host);
      }, 'must be host:port where the peer will listen (a DNS name or an IPv4 address, and a port 1-65535), e.g. peer.example.org:7051'),
    signCsr: z.string().min(1).max(MAX_CSR_CHARS),
    tlsCsr: z.string().min(1).max(MAX_CSR_CHARS),
  })
  .strict();
