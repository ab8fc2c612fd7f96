import { authenticate } from '../core/use-cases/accounts';
import { invoke, waitForJob } from '../core/use-cases/invocations';
import { jobView } from '../core/use-cases/jobs';
import { depsFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/**
 * `POST /functions/{id}/invocations`: creates the job, schedules it and sends the signed envelope.
 * Sync mode waits up to `waitS` for the result (200), then answers 202 with the job's link;
 * async mode answers 202 at once.
 */
export const handler = httpApi({
  'POST /functions/{functionId}/invocations': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const { job, mode, waitS } = await invoke(deps, user, req.params.functionId ?? '', req.body);
    const latest = mode === 'sync' ? ((await waitForJob(deps, job.jobId, waitS)) ?? job) : job;
    const done = latest.status === 'SUCCEEDED' || latest.status === 'FAILED';
    return json(done ? 200 : 202, await jobView(deps, latest), { location: `/jobs/${job.jobId}` });
  },
});
