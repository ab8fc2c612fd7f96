import { z } from 'zod';
import { CompareRule, id, ImageRef, LIMITS, Resources } from './requests';

/**
 * The messages between the controller and a provider that are signed (signing.ts, over canonical
 * JSON): the job envelope the controller sends to a provider's queue, and the run-time report the
 * provider posts back (`POST /providers/{id}/reports`).
 */

/** What the controller signs and sends to a provider's queue. */
export const JobEnvelope = z
  .object({
    v: z.literal(1),
    jobId: id,
    functionId: id,
    functionVersion: z.number().int().positive(),
    developerId: id,
    providerId: id,
    image: ImageRef,
    protocol: z.enum(['stdio', 'http']),
    network: z.enum(['none', 'egress']),
    resources: Resources,
    env: z.record(z.string(), z.string()),
    input: z.union([
      z.object({ kind: z.literal('inline'), base64: z.string() }).strict(),
      z.object({ kind: z.literal('url'), url: z.string().url(), size: z.number().int().nonnegative() }).strict(),
    ]),
    resultPutUrl: z.string().url(),
    logPutUrl: z.string().url(),
    issuedAt: z.string().datetime(),
    /** The provider must not start the job after this instant. */
    startBy: z.string().datetime(),
    attempt: z.number().int().positive(),
    /** http: requests one warm container serves at once. Absent: 1 (sent only when above 1, so older agents keep verifying other envelopes). */
    concurrency: z.number().int().min(2).max(LIMITS.maxConcurrency).optional(),
    /**
     * A result of at most this many bytes may travel in the report (`ReportBody.resultBase64`)
     * instead of being uploaded to `resultPutUrl`. Absent: always upload (the results go to the
     * developer's bucket, or the controller predates it; sent only when set, so older agents keep
     * verifying the envelope).
     */
    inlineResultMaxBytes: z.number().int().min(1).max(LIMITS.maxInlineResultBytes).optional(),
    /**
     * Issue #19: the function's declared comparison (a replicated job's, drawn or not, so a provider
     * cannot tell). The agent signs the comparison hash (`RuntimeReport.compareSha256`). Absent:
     * exact bytes (sent only when set, so older agents keep verifying other envelopes).
     */
    compare: CompareRule.optional(),
  })
  .strict();
export type JobEnvelope = z.infer<typeof JobEnvelope>;

export const SignedEnvelope = z.object({ envelope: z.unknown(), signature: z.string().max(200), keyId: z.string().max(64) }).strict();
export type SignedEnvelope = { envelope: JobEnvelope; signature: string; keyId: string };

export const FAILURE_REASONS = ['exit', 'oom', 'timeout', 'output_too_large', 'runtime_error', 'image_unavailable'] as const;

/**
 * The limits a container can run into. `deadline`, `result` and a `memory` kill of the function
 * itself stop the job (it fails with the matching reason); the others leave the function running,
 * and what it does next decides the job (a function that exits 0 after a refused fork succeeds).
 */
export const LIMIT_KINDS = ['deadline', 'memory', 'processes', 'scratch', 'result', 'log'] as const;
/** The limits the agent learns from the kernel while the container runs (cgroup counters, the tmpfs). */
export const WATCHED_LIMITS = ['memory', 'processes', 'scratch'] as const;

/** One limit a container reached, in words for the job's reader (`detail`). */
export const LimitHit = z.object({ limit: z.enum(LIMIT_KINDS), detail: z.string().min(1).max(300) }).strict();
export type LimitHit = z.infer<typeof LimitHit>;

/** A limit the agent could not watch for this container, and why (so its absence from `limits` proves nothing). */
export const UnwatchedLimit = z.object({ limit: z.enum(WATCHED_LIMITS), why: z.string().min(1).max(300) }).strict();
export type UnwatchedLimit = z.infer<typeof UnwatchedLimit>;

/** What the provider measures and signs after a run. */
export const RuntimeReport = z
  .object({
    v: z.literal(1),
    jobId: id,
    providerId: id,
    attempt: z.number().int().positive(),
    status: z.enum(['succeeded', 'failed']),
    reason: z.enum(FAILURE_REASONS).optional(),
    exitCode: z.number().int().nullable(),
    runtimeMs: z.number().int().nonnegative(),
    resultSha256: z.string().regex(/^[a-f0-9]{64}$/),
    resultSize: z.number().int().nonnegative(),
    /**
     * Issue #19: the result's comparison hash under the envelope's `compare` rule (compare.ts), which
     * replicas vote on instead of `resultSha256`. Only when the envelope declared a rule and the
     * result is JSON.
     */
    compareSha256: z.string().regex(/^[a-f0-9]{64}$/).optional(),
    /** Bytes of the log the provider stored at `logPutUrl`; 0: it stored no log object (the function wrote nothing), and the job has no log link. */
    logSize: z.number().int().nonnegative(),
    startedAt: z.string().datetime(),
    finishedAt: z.string().datetime(),
    /** Limits the container reached (absent: none seen). Informative: they never change what the job costs. */
    limits: z.array(LimitHit).min(1).max(LIMIT_KINDS.length).optional(),
    /** Limits the agent could not watch for this attempt (absent: it watched them all). */
    unwatched: z.array(UnwatchedLimit).min(1).max(WATCHED_LIMITS.length).optional(),
  })
  .strict()
  .refine((r) => (r.status === 'failed') === (r.reason !== undefined), {
    message: 'a failed report needs a reason; a succeeded one has none',
    path: ['reason'],
  })
  // The refinement above, as the OpenAPI document states it.
  .meta({
    oneOf: [
      { properties: { status: { const: 'failed' } }, required: ['reason'] },
      { properties: { status: { const: 'succeeded' } }, not: { required: ['reason'] } },
    ],
  });
export type RuntimeReport = z.infer<typeof RuntimeReport>;

/** `POST /providers/{id}/reports`: the report and the provider's Ed25519 signature over its canonical JSON (base64). */
export const ReportBody = z
  .object({
    report: RuntimeReport,
    signature: z.string().min(1).max(200),
    /**
     * The result itself, when the envelope allowed it inline (`inlineResultMaxBytes`) and nothing was
     * uploaded: the controller checks its size and SHA-256 against the signed report, so it is as
     * signed as an uploaded one.
     */
    resultBase64: z
      .string()
      .max(Math.ceil(LIMITS.maxInlineResultBytes / 3) * 4)
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64')
      .optional(),
  })
  .strict();
