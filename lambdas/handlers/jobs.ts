import { authenticate, authenticateCaller } from '../core/use-cases/accounts';
import { getOwnJob, getReadableJob, jobView, searchJobs } from '../core/use-cases/jobs';
import { depsFromEnv, ledgerFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/**
 * Jobs, read only: the developer's task list (search and filter, paginated), a job's status and
 * result link (also for the invoke key that created it), and the job's record and history on the
 * monitoring ledger. Cancelling writes the job, so the invocations Lambda serves it.
 */
export const handler = httpApi({
  'GET /jobs': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await searchJobs(deps, user, req.query));
  },
  'GET /jobs/{jobId}': async (req) => {
    const caller = await authenticateCaller(deps, req.header('authorization'), req.header('x-api-key'));
    return json(200, await jobView(deps, await getReadableJob(deps, caller, req.params.jobId ?? '')));
  },
  'GET /jobs/{jobId}/ledger': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const job = await getOwnJob(deps, user, req.params.jobId ?? '');
    const ledger = await ledgerFromEnv();
    const [record, history] = await Promise.all([ledger.getJob(job.jobId), ledger.getJobHistory(job.jobId)]);
    return json(200, { jobId: job.jobId, onLedger: record !== undefined, record, history });
  },
});
