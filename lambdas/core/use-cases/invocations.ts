import { DomainError } from '../errors';
import { JobRecord, TERMINAL, User } from '../model';
import { newId } from '../passwords';
import { worstCaseCost } from '../pricing';
import { InvokeBody, LIMITS } from '../schemas';
import { Deps, nowIso, parse } from './context';
import { getOwnFunction } from './functions';
import { dispatch } from './scheduling';

/** Invocations: a job per call, placed at once when capacity allows; sync callers wait for it. */

export async function invoke(deps: Deps, user: User, functionId: string, body: unknown): Promise<{ job: JobRecord; mode: 'sync' | 'async'; waitS: number }> {
  const req = parse(InvokeBody, body ?? {});
  const fn = await getOwnFunction(deps, user, functionId);
  const input = req.inputBase64 !== undefined ? Buffer.from(req.inputBase64, 'base64') : encodeInput(req.input);
  if (input.length > LIMITS.maxInlineInputBytes) {
    throw new DomainError('payload_too_large', `input is ${input.length} bytes; at most ${LIMITS.maxInlineInputBytes} may be sent inline`, 'input');
  }
  const jobId = newId('job');
  const maxCost = Math.min(fn.maxPrice ?? Number.MAX_SAFE_INTEGER, worstCaseCost(fn.resources, deps.config.billing));
  const job: JobRecord = {
    jobId,
    functionId: fn.functionId,
    functionVersion: fn.version,
    developerId: user.userId,
    status: 'QUEUED',
    attempt: 1,
    image: fn.image,
    resources: fn.resources,
    protocol: fn.protocol,
    network: fn.network,
    inputBase64: input.toString('base64'),
    resultKey: `results/${jobId}/result`,
    logKey: `results/${jobId}/log`,
    maxCost,
    billingVersion: deps.config.billing.version,
    createdAt: nowIso(deps),
    waitingShard: 'w',
  };
  await deps.jobs.createJob(job);
  const dispatched = await dispatch(deps, job, fn);
  return { job: dispatched ?? job, mode: req.mode ?? fn.mode, waitS: req.waitS ?? 25 };
}

function encodeInput(input: unknown): Buffer {
  if (input === undefined) return Buffer.alloc(0);
  return Buffer.from(typeof input === 'string' ? input : JSON.stringify(input), 'utf8');
}

/**
 * Places a QUEUED job: ranks providers with the configured policy, reserves capacity on the
 * first that still fits (conditional write), moves the job to ASSIGNED (conditional write),
 * records it for the ledger, signs the envelope and sends it to that provider's queue.
 * Returns the assigned job, or undefined if nothing fits (the job stays QUEUED).
 */

/** Polls the job until it is terminal or `waitS` has passed; returns its latest state. */
export async function waitForJob(deps: Deps, jobId: string, waitS: number): Promise<JobRecord | undefined> {
  const until = Date.now() + waitS * 1000;
  let delay = 50;
  for (;;) {
    const job = await deps.jobs.getJob(jobId);
    if (!job || TERMINAL.includes(job.status) || Date.now() >= until) return job;
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, until - Date.now()))));
    delay = Math.min(delay * 2, 500);
  }
}
