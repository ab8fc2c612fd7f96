import { notFound } from '../errors';
import { JobRecord, TERMINAL, User } from '../model';
import { Deps } from './context';

/** Jobs as their developer sees them: status, timings, result and log links. */

export async function getOwnJob(deps: Deps, user: User, jobId: string): Promise<JobRecord> {
  const job = await deps.jobs.getJob(jobId);
  if (!job || job.developerId !== user.userId) throw notFound('job', jobId);
  return job;
}

/** The public view of a job: what `GET /jobs/{id}` returns. */
export async function jobView(deps: Deps, job: JobRecord) {
  const succeeded = job.status === 'SUCCEEDED';
  return {
    jobId: job.jobId,
    functionId: job.functionId,
    functionVersion: job.functionVersion,
    status: job.status,
    attempt: job.attempt,
    providerId: job.providerId,
    timings: { createdAt: job.createdAt, assignedAt: job.assignedAt, startedAt: job.startedAt, finishedAt: job.finishedAt },
    runtimeMs: job.runtimeMs,
    cost: job.cost,
    paid: job.paid,
    exitCode: job.exitCode,
    reason: job.reason,
    result: job.resultSize !== undefined ? { sha256: job.resultSha256, size: job.resultSize } : undefined,
    resultUrl: succeeded ? await deps.storage.presignGet(job.resultKey, deps.config.presignTtlS) : undefined,
    logUrl: TERMINAL.includes(job.status) ? await deps.storage.presignGet(job.logKey, deps.config.presignTtlS) : undefined,
  };
}
