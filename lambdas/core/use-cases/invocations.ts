import { canonicalJson, CreateInputBody, diskMbOf, IdempotencyKey, InvokeBody, LIMITS, MAX_UPLOADED_INPUT_BYTES, sha256Hex } from '../../../contract/src';
import { conflict, DomainError, invalid, notFound } from '../errors';
import { IdempotencyRecord, JobRecord, TERMINAL } from '../model';
import { newId } from '../passwords';
import type { InputStorage } from '../ports';
import { worstCaseCost } from '../pricing';
import type { Caller } from './accounts';
import { checkCallbackUrl } from './callbacks';
import { Deps, now, nowIso, parse } from './context';
import { getOwnFunction, requireLive } from './functions';
import { admit, dispatch, startPlaced } from './scheduling';
import { holdForJob, holdsOn, pricesInForce, releaseHold } from './holds';
import { injectFault } from '../faults';
import { NO_WAKE } from '../job-waiter';
import { holdReplicas, replicationPolicy, startReplicas } from './verification';
import { checkInput } from '../input-validation';

/**
 * Invocations: a job per call, placed at once when capacity allows; sync callers wait for it.
 * The caller is the function's developer (bearer token) or an end-user with one of its invoke
 * keys. An `idempotency-key` makes a retried request return the job the first one created; a
 * `callbackUrl` gets the signed job view when the job ends; input over the inline limit is
 * uploaded first (`POST /functions/{id}/inputs`) and referenced by its upload id.
 */

/** How long an idempotency key keeps its job: a retry within this window never creates another. */
export const IDEMPOTENCY_TTL_S = 24 * 3600;
/** Lifetime of an input upload's presigned PUT. */
export const UPLOAD_TTL_S = 15 * 60;

export interface InvokeOptions {
  /** The `idempotency-key` header, if sent. */
  idempotencyKey?: string;
  /** Local mode only: callbacks to http://127.0.0.1 are allowed. */
  allowLoopbackCallbacks?: boolean;
}

export interface Invocation {
  job: JobRecord;
  mode: 'sync' | 'async';
  waitS: number;
  /** True when an earlier request with the same idempotency key created the job. */
  replayed: boolean;
}

/** The function a caller may invoke: the developer's own, or the one function of the caller's invoke key; never a deleted one. */
async function invocableFunction(deps: Deps, caller: Caller, functionId: string) {
  // An invoke key for another function gets the same answer as an unknown function.
  if (caller.key && caller.key.functionId !== functionId) throw notFound('function', functionId);
  // A record read within FUNCTION_CACHE_MS will do (issue #16): one round trip less per invocation.
  return requireLive(await getOwnFunction(deps, caller.user, functionId, { cached: true }));
}

/** Uploads are keyed by caller, so an upload id is usable only by whoever asked for it. */
const scopeOf = (caller: Caller) => (caller.key ? `key:${caller.key.tokenId}` : `user:${caller.user.userId}`);
const uploadKey = (caller: Caller, functionId: string, uploadId: string) =>
  `inputs/${caller.key ? caller.key.tokenId : caller.user.userId}/${functionId}/${uploadId}`;

export async function invoke(deps: Deps, caller: Caller, functionId: string, body: unknown, opts: InvokeOptions = {}): Promise<Invocation> {
  const req = parse(InvokeBody, body === undefined ? {} : body);
  const idempotencyKey = opts.idempotencyKey === undefined ? undefined : parseHeader(opts.idempotencyKey);
  // The price list is read while the function is (one round trip less per invocation).
  const prices = pricesInForce(deps);
  prices.catch(() => undefined); // awaited below, or not at all when the request is refused first
  // Where this process's waits listen for another process's wake-up (AWS: its wake queue, made on first use).
  const wakeAddress = deps.waiter?.address?.();
  wakeAddress?.catch(() => undefined); // awaited below for a sync call
  const fn = await invocableFunction(deps, caller, functionId);
  const callbackUrl = req.callbackUrl === undefined ? undefined : checkCallbackUrl(req.callbackUrl, opts.allowLoopbackCallbacks ?? false);
  // A JSON input is checked against the function's schema before anything is written or held (issue #23).
  if (fn.inputSchema && req.inputBase64 === undefined && req.inputUpload === undefined) checkInput(fn, req.input);

  let inputBase64 = '';
  let upload: { inputKey: string; inputSize: number } | undefined;
  if (req.inputUpload !== undefined) {
    const inputKey = uploadKey(caller, functionId, req.inputUpload);
    const inputSize = await deps.storage.size(inputKey);
    if (inputSize === undefined) {
      throw new DomainError('not_found', `inputUpload: no upload ${req.inputUpload}; PUT the input to the uploadUrl first`, 'inputUpload', {
        id: req.inputUpload,
      });
    }
    if (inputSize > MAX_UPLOADED_INPUT_BYTES) {
      throw new DomainError(
        'payload_too_large',
        `inputUpload: the upload has ${inputSize} bytes; at most ${MAX_UPLOADED_INPUT_BYTES} are accepted`,
        'inputUpload',
      );
    }
    upload = { inputKey, inputSize };
  } else {
    const input = req.inputBase64 !== undefined ? Buffer.from(req.inputBase64, 'base64') : encodeInput(req.input);
    if (input.length > LIMITS.maxInlineInputBytes) {
      throw new DomainError(
        'payload_too_large',
        `input is ${input.length} bytes; at most ${LIMITS.maxInlineInputBytes} may be sent inline (upload larger input with POST /functions/{id}/inputs)`,
        'input',
      );
    }
    inputBase64 = input.toString('base64');
  }

  const jobId = newId('job');
  const createdAt = nowIso(deps);
  // Priced with the units in force now; the job keeps them (holds.ts, billing.ts).
  const billing = await prices;
  // The job carries its scratch space, a function registered before issue #23 the default: it is scheduled, run and priced with it.
  const resources = { ...fn.resources, diskMb: diskMbOf(fn.resources) };
  const maxCost = Math.min(fn.maxPrice ?? Number.MAX_SAFE_INTEGER, worstCaseCost(resources, billing));
  const job: JobRecord = {
    jobId,
    functionId: fn.functionId,
    functionVersion: fn.version,
    developerId: fn.ownerId,
    status: 'QUEUED',
    attempt: 1,
    image: fn.image,
    resources,
    protocol: fn.protocol,
    concurrency: (fn.concurrency ?? 1) > 1 ? fn.concurrency : undefined,
    network: fn.network,
    inputBase64,
    ...upload,
    invokeKeyId: caller.key?.tokenId,
    ...(callbackUrl === undefined ? {} : { callbackUrl, callbackShard: 'c', callbackDueAt: createdAt, callbackAttempts: 0 }),
    resultKey: `results/${jobId}/result`,
    logKey: `results/${jobId}/log`,
    maxCost,
    // Nothing that copies another field (the version is billingUnits', queuedAt is createdAt until a
    // re-queue): every byte is billed on each of the record's writes, and a warm job's record sits just under 1 KB.
    billingUnits: billing,
    createdAt,
    waitingShard: 'w',
    // Results go where the function says: the platform's bucket, or one the developer named.
    resultBucket: fn.resultBucket,
    resultRoleArn: fn.resultRoleArn,
  };
  const mode = req.mode ?? fn.mode;
  const waitS = req.waitS ?? 25;
  // Issue #16: a sync call's job names where its wait listens, so the report (another Lambda) wakes
  // it there. A wake queue that could not be made leaves the wait to its reads.
  if (mode === 'sync' && wakeAddress) {
    job.wakeTo = await wakeAddress.catch((err) => {
      deps.telemetry.error('no wake queue: this sync wait notices its job by reading it', { jobId, error: String(err) });
      return undefined;
    });
  }
  // Issue #19: a replicated job is never placed itself (its replicas are: verification.ts), so it never waits in the index.
  const replication = replicationPolicy(fn);
  if (replication) delete job.waitingShard;
  const hold = async () => {
    if (replication) job.replication = await holdReplicas(deps, job, replication);
    else job.holdAmount = await holdForJob(deps, job);
  };
  const unhold = async () => {
    for (const id of job.replication?.replicaIds ?? [jobId]) await releaseHold(deps, id);
  };

  const idem: IdempotencyRecord | undefined =
    idempotencyKey === undefined
      ? undefined
      : {
          scope: scopeOf(caller),
          keyHash: sha256Hex(idempotencyKey),
          requestHash: sha256Hex(canonicalJson({ functionId, body: body ?? {} })),
          jobId,
          createdAt,
          expiresAt: new Date(now(deps).getTime() + IDEMPOTENCY_TTL_S * 1000).toISOString(),
        };
  if (idem) {
    const earlier = await replay(deps, idem);
    if (earlier) return { job: earlier, mode, waitS, replayed: true };
  }
  // A job that would have to wait is refused (429/503 + Retry-After) when too many already wait.
  await admit(deps, job);
  if (!replication) {
    // Issue #16: where a provider has room and the balance covers the hold, the job is written
    // already placed, with its hold, its ledger entry and its idempotency record, in one transaction.
    const started = await startPlaced(deps, job, fn, { holdAmount: holdsOn(deps) ? job.maxCost : undefined, idem });
    if (started.kind === 'replayed') return { job: await replayed(deps, idem as IdempotencyRecord, started.existing), mode, waitS, replayed: true };
    if (started.kind === 'started') {
      deps.telemetry.jobCreated();
      return { job: started.job, mode, waitS, replayed: false };
    }
  }
  // Otherwise step by step. Reserve the worst case from the available balance (402 if it does not
  // cover it, after a new account's credit had its time to arrive); released if no job results.
  await hold();
  if (idem) {
    const outcome = await deps.jobs.createJobOnce(job, idem).catch(async (err) => {
      await unhold();
      throw err;
    });
    if (!outcome.created) {
      await unhold();
      return { job: await replayed(deps, idem, outcome.existing), mode, waitS, replayed: true };
    }
  } else {
    await deps.jobs.createJob(job).catch(async (err) => {
      await unhold();
      throw err;
    });
  }
  deps.telemetry.jobCreated();
  injectFault('invoke.afterJobWrite');
  if (replication) {
    await startReplicas(deps, job, fn);
    return { job, mode, waitS, replayed: false };
  }
  const dispatched = await dispatch(deps, job, fn);
  return { job: dispatched ?? job, mode, waitS, replayed: false };
}

function parseHeader(value: string): string {
  const result = IdempotencyKey.safeParse(value);
  if (!result.success) throw invalid('idempotency-key', `idempotency-key: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return value;
}

/**
 * A cheap check before admission: a retry of a request that already created its job answers
 * with that job even when the platform would now refuse a new one. The conditional write in
 * createJobOnce remains what makes two concurrent first requests create one job.
 */
async function replay(deps: Deps, idem: IdempotencyRecord): Promise<JobRecord | undefined> {
  const existing = await deps.jobs.getIdempotency?.(idem.scope, idem.keyHash);
  if (!existing || existing.expiresAt < idem.createdAt) return undefined;
  return replayed(deps, idem, existing);
}

async function replayed(deps: Deps, idem: IdempotencyRecord, existing: IdempotencyRecord): Promise<JobRecord> {
  if (existing.requestHash !== idem.requestHash) {
    throw conflict('idempotency-key was already used with a different request (another function or body); use a new key for a new request', {
      jobId: existing.jobId,
    });
  }
  const job = await deps.jobs.getJob(existing.jobId);
  if (!job) throw conflict('idempotency-key was used by a request whose job is not readable yet; retry', { jobId: existing.jobId });
  return job;
}

function encodeInput(input: unknown): Buffer {
  if (input === undefined) return Buffer.alloc(0);
  return Buffer.from(typeof input === 'string' ? input : JSON.stringify(input), 'utf8');
}

/**
 * `POST /functions/{id}/inputs`: a presigned PUT for an input of `size` bytes, valid UPLOAD_TTL_S.
 * The invocation then sends `{ "inputUpload": uploadId }`. Uploads are per caller and function.
 */
export async function createInputUpload(deps: Deps, inputs: InputStorage, caller: Caller, functionId: string, body: unknown) {
  const req = parse(CreateInputBody, body);
  await invocableFunction(deps, caller, functionId);
  const uploadId = newId('in');
  const uploadUrl = await inputs.presignUpload(uploadKey(caller, functionId, uploadId), req.size, UPLOAD_TTL_S);
  return {
    uploadId,
    uploadUrl,
    method: 'PUT' as const,
    size: req.size,
    headers: { 'content-length': String(req.size) },
    expiresAt: new Date(now(deps).getTime() + UPLOAD_TTL_S * 1000).toISOString(),
  };
}

/** The sync wait's reads: the first at once (one back-off later after the invocation that wrote the job), then every WAIT_MIN_MS, or a fifth of the time waited so far, up to WAIT_MAX_MS. */
export const WAIT_MIN_MS = 20;
export const WAIT_MAX_MS = 1000;

/**
 * Waits until the job is terminal or `waitS` has passed; returns its latest state. The wait
 * listens for the job's end (`deps.waiter`: in one process the accepted report wakes it at once,
 * handing over the job as its transition left it) and reads the job (consistent) first and after
 * each back-off or wake-up that handed over nothing: every WAIT_MIN_MS,
 * then a fifth of the time already waited (a long job is noticed at most ~20% late), at most
 * WAIT_MAX_MS. Where no notification can reach the waiting request (a Lambda in AWS), those reads
 * are how it notices: a job of 150 ms costs ~7 reads (ARCHITECTURE.md, "The sync wait").
 */
export async function waitForJob(
  deps: Deps,
  jobId: string,
  waitS: number,
  /** Default: the waiter's `readBackOff` for a job that names where this wait listens (`written.wakeTo`), else WAIT_MIN_MS..WAIT_MAX_MS. */
  backOff?: { minMs: number; maxMs: number },
  /**
   * The job as the caller has just written it (the invocation, not terminal): the wait starts with
   * a sleep instead of a read that would find the same (issue #16: one read less per sync job). A
   * wake-up sent before the wait listened is then noticed by the read one back-off later.
   */
  written?: JobRecord,
): Promise<JobRecord | undefined> {
  const started = Date.now();
  const until = started + waitS * 1000;
  const pace = backOff ?? (written?.wakeTo !== undefined ? deps.waiter?.readBackOff : undefined) ?? { minMs: WAIT_MIN_MS, maxMs: WAIT_MAX_MS };
  const wake = (deps.waiter ?? NO_WAKE).listen(jobId);
  try {
    // `known`: the job without a read — as the invocation wrote it, or as the write that ended it
    // in this process handed it over with its wake-up (issue #16: no read between the report's
    // transition and the answer).
    for (let known = written; ; known = wake.ended()) {
      const job = known ?? (await deps.jobs.getJob(jobId));
      if (!job || TERMINAL.includes(job.status) || Date.now() >= until) return job;
      const pause = Math.min(pace.maxMs, Math.max(pace.minMs, (Date.now() - started) / 5));
      await wake.sleep(Math.min(pause, Math.max(0, until - Date.now())));
    }
  } finally {
    wake.close();
  }
}
