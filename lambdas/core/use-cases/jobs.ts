import { conflict, DomainError, invalid, notFound } from '../errors';
import { JobRecord, JobStatus, TERMINAL, User } from '../model';
import type { JobCursor } from '../ports';
import { JobsQuery } from '../../../contract/src';
import type { Caller } from './accounts';
import { Deps, nowIso, parse } from './context';
import { resultStorageFor } from './results';
import { releaseHold } from './holds';
import { replicaOutcome } from './verification';

/**
 * Jobs as their developer sees them: status, timings, provider, run time, cost, result and log
 * links; the developer's task list (search by function, status and time, paginated); cancelling a
 * job that has not been placed yet. A job created with an invoke key is also readable with that
 * key (and no other).
 */

const JOB_ID = /^job_[A-Za-z0-9]{1,60}$/;

/** Every status a job can have (a compile error here means a new status needs a place in the search). */
const STATUSES: Record<JobStatus, true> = { QUEUED: true, ASSIGNED: true, SUCCEEDED: true, FAILED: true, CANCELLED: true };

export async function getOwnJob(deps: Deps, user: User, jobId: string): Promise<JobRecord> {
  const job = JOB_ID.test(jobId) ? await deps.jobs.getJob(jobId) : undefined;
  if (!job || job.developerId !== user.userId) throw notFound('job', jobId);
  return job;
}

/** The developer reads all their jobs; an invoke key reads only the jobs it created. Anything else is "not found". */
export async function getReadableJob(deps: Deps, caller: Caller, jobId: string): Promise<JobRecord> {
  const job = await getOwnJob(deps, caller.user, jobId);
  if (caller.key && job.invokeKeyId !== caller.key.tokenId) throw notFound('job', jobId);
  return job;
}

/** The part of a job's view that needs no presigning: what the task list shows. */
export function jobSummary(job: JobRecord) {
  return {
    jobId: job.jobId,
    functionId: job.functionId,
    functionVersion: job.functionVersion,
    status: job.status,
    attempt: job.attempt,
    providerId: job.providerId,
    timings: {
      createdAt: job.createdAt,
      queuedAt: job.queuedAt ?? job.createdAt,
      assignedAt: job.assignedAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      cancelledAt: job.cancelledAt,
    },
    // The assignee's word on the attempt it runs now; an earlier attempt's, or an ended job's, is history.
    progress:
      job.status === 'ASSIGNED' && job.progress?.attempt === job.attempt
        ? { phase: job.progress.phase, since: job.progress.since, reportedAt: job.progress.reportedAt }
        : undefined,
    runtimeMs: job.runtimeMs,
    cost: job.cost,
    paid: job.paid,
    exitCode: job.exitCode,
    reason: job.reason,
    limits: job.limits,
    limitsUnwatched: job.limitsUnwatched,
    input:
      job.inputKey !== undefined
        ? { kind: 'upload' as const, size: job.inputSize }
        : { kind: 'inline' as const, size: Buffer.byteLength(job.inputBase64, 'base64') },
    result: job.resultSize !== undefined ? { sha256: job.resultSha256, size: job.resultSize } : undefined,
    invokeKeyId: job.invokeKeyId,
    replicaOf: job.replicaOf,
    verification: verificationSummary(job),
    callback:
      job.callbackUrl === undefined
        ? undefined
        : {
            url: job.callbackUrl,
            status: job.callbackDeliveredAt ? ('delivered' as const) : job.callbackShard ? ('pending' as const) : ('failed' as const),
            attempts: job.callbackAttempts ?? 0,
            deliveredAt: job.callbackDeliveredAt,
            error: job.callbackError,
            event: job.callbackPhase === 'verdict' ? ('job.verified' as const) : ('job.finished' as const),
          },
  };
}

/** Issue #19: a replicated job's policy and decision (the replicas themselves are in `jobView`). */
function verificationSummary(job: JobRecord) {
  const r = job.replication;
  if (!r) return undefined;
  return {
    mode: r.mode ?? ('replicate' as const),
    k: r.k,
    quorum: r.quorum,
    maxReplicas: r.maxReplicas,
    decision: r.decision ?? ('pending' as const),
    agreedSha256: r.agreedSha256,
    extra: r.extra ?? 0,
    trusted: r.trusted !== undefined && r.replicaIds.length === 1 ? r.trusted : undefined,
    deadlineAt: r.deadlineAt,
    respond: r.respond ?? ('quorum' as const),
    verdict: r.provisional === undefined ? undefined : (r.verdict ?? ('unverified' as const)),
  };
}

/**
 * Issue #19: each replica of a replicated job: its provider, the hash it signed, its outcome in the
 * decision and what it was paid (from the ledger's settlement). The job's cost is their sum, once
 * every replica that ran is settled.
 */
async function replicasView(deps: Deps, job: JobRecord) {
  const r = job.replication;
  if (!r) return undefined;
  const replicas = (await Promise.all(r.replicaIds.map((id) => deps.jobs.getJob(id)))).filter((x): x is JobRecord => x !== undefined);
  const outcomeOf = (x: JobRecord) => replicaOutcome(r, x);
  const items = replicas.map((x) => ({
    jobId: x.jobId,
    status: x.status,
    providerId: x.providerId,
    resultSha256: x.resultSha256,
    compareSha256: x.compareSha256,
    outcome: outcomeOf(x),
    cost: x.cost,
    paid: x.paid,
  }));
  const ran = replicas.filter((x) => x.reportAcceptedAt !== undefined);
  const settled = r.decision !== undefined && ran.every((x) => x.cost !== undefined);
  return { items, cost: settled ? ran.reduce((sum, x) => sum + (x.cost ?? 0), 0) : undefined };
}

/** The public view of a job: what `GET /jobs/{id}` returns (and a callback carries). */
export async function jobView(deps: Deps, job: JobRecord) {
  const succeeded = job.status === 'SUCCEEDED';
  // A cancelled job never ran: it has no result and no log.
  const ran = TERMINAL.includes(job.status) && job.status !== 'CANCELLED';
  const replicas = await replicasView(deps, job);
  const summary = jobSummary(job);
  // While its provider says it runs (or uploads), the log so far: the agent uploads it as it grows (issue #22).
  const live = summary.progress !== undefined && summary.progress.phase !== 'pulling';
  return {
    ...summary,
    ...(replicas ? { cost: replicas.cost, verification: { ...summary.verification!, replicas: replicas.items } } : {}),
    resultUrl: succeeded ? await resultLink(deps, job) : undefined,
    // A log of 0 bytes was never stored: no link to a missing object.
    logUrl: (ran && job.logSize !== 0) || live ? await (await resultStorageFor(deps, job)).presignGet(job.logKey, deps.config.presignTtlS) : undefined,
  };
}

/**
 * The caller's link to a succeeded job's result: a presigned GET of its object, or, for a result
 * the report carried inline, a `data:` URL of its bytes (no request to fetch, never expires; it is
 * given only where the job view is, so under the same authorisation as a presigned link).
 */
async function resultLink(deps: Deps, job: JobRecord): Promise<string> {
  if (job.resultInline !== undefined) return `data:application/octet-stream;base64,${job.resultInline}`;
  return (await resultStorageFor(deps, job)).presignGet(job.resultKey, deps.config.presignTtlS);
}

const encodeCursor = (c: JobCursor) => Buffer.from(JSON.stringify([c.createdAt, c.jobId])).toString('base64url');

function decodeCursor(raw: string): JobCursor {
  try {
    const [createdAt, jobId] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof jobId === 'string' && JOB_ID.test(jobId)) return { createdAt, jobId };
  } catch {
    // fall through to the named error
  }
  throw invalid('cursor', 'cursor: not a cursor this API returned; send the `next` value of the previous page as it was');
}

/**
 * `GET /jobs`: the developer's jobs, newest first, filtered by function, status (one or several,
 * comma-separated) and creation time (`from`/`to`, inclusive ISO instants), `limit` per page; the
 * answer's `next` is the cursor of the following page (absent on the last one).
 */
export async function searchJobs(deps: Deps, user: User, query: unknown) {
  const q = parse(JobsQuery, query ?? {});
  const statuses = q.status?.split(',');
  const unknown = statuses?.find((s) => !(s in STATUSES));
  if (unknown !== undefined) throw invalid('status', `status: ${unknown} is not one of ${Object.keys(STATUSES).join(', ')}`);
  const from = q.from === undefined ? undefined : new Date(q.from).toISOString();
  const to = q.to === undefined ? undefined : new Date(q.to).toISOString();
  if (from !== undefined && to !== undefined && from > to) throw invalid('from', 'from: must not be after to');
  const page = await deps.jobs.searchJobs({
    developerId: user.userId,
    functionId: q.functionId,
    statuses: statuses as JobStatus[] | undefined,
    from,
    to,
    limit: q.limit,
    after: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
  });
  return { items: page.items.map(jobSummary), next: page.next ? encodeCursor(page.next) : undefined };
}

/**
 * `POST /jobs/{id}/cancel`: only a QUEUED job (not yet placed on a provider) can be cancelled; the
 * move to CANCELLED is conditional on QUEUED at the same attempt, so a placement racing with the
 * cancel wins or loses as a whole. A queued job holds no provider capacity; a job that was placed
 * before and re-queued is on the ledger, which gets `FailJob` so it is never paid.
 */
export async function cancelJob(deps: Deps, user: User, jobId: string) {
  const job = await getOwnJob(deps, user, jobId);
  if (job.status !== 'QUEUED') throw notCancellable(job);
  // Issue #19: a replicated job ends by its quorum decision (which settles every replica and gives their holds back), never half-cancelled.
  if (job.replication || job.replicaOf) {
    throw conflict(`job ${jobId} is ${job.replication ? 'replicated' : `a replica of ${job.replicaOf}`}: it ends when its replicas' results are decided, and cannot be cancelled`, {
      status: job.status,
    });
  }
  const at = nowIso(deps);
  const changes: Partial<JobRecord> = { status: 'CANCELLED', cancelledAt: at, finishedAt: at, reason: 'cancelled by the developer' };
  // A callback owed for this job becomes due now.
  if (job.callbackShard !== undefined) changes.callbackDueAt = at;
  if (!(await deps.jobs.transition(jobId, ['QUEUED'], changes, { attempt: job.attempt }, ['waitingShard']))) {
    throw notCancellable((await deps.jobs.getJob(jobId)) ?? job);
  }
  deps.telemetry.jobFinished('cancelled');
  await deps.waiter?.notify(job);
  if (job.previousProviders?.length) await deps.outbox.append(jobId, [{ type: 'FailJob', jobId, reason: 'cancelled by the developer' }], { lane: job.developerId });
  // A cancelled job charges nothing: its hold goes back to the developer's available balance.
  await releaseHold(deps, jobId);
  return { ...job, ...changes } as JobRecord;
}

const notCancellable = (job: JobRecord) =>
  conflict(`job ${job.jobId} is ${job.status}: only a QUEUED job can be cancelled`, { id: job.jobId, status: job.status }) as DomainError;
