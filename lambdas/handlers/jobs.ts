import { authenticate } from '../core/use-cases/accounts';
import { getOwnJob, jobView } from '../core/use-cases/jobs';
import { depsFromEnv, ledgerFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/** Jobs: status and result link, and the job's record and history on the monitoring ledger. */
export const handler = httpApi({
  'GET /jobs/{jobId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await jobView(deps, await getOwnJob(deps, user, req.params.jobId ?? '')));
  },
  'GET /jobs/{jobId}/ledger': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const job = await getOwnJob(deps, user, req.params.jobId ?? '');
    const ledger = await ledgerFromEnv();
    const [record, history] = await Promise.all([ledger.getJob(job.jobId), ledger.getJobHistory(job.jobId)]);
    return json(200, { jobId: job.jobId, onLedger: record !== undefined, record, history });
  },
});
