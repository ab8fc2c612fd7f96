import { authenticate, authenticateCaller } from '../core/use-cases/accounts';
import { createInputUpload, invoke, waitForJob } from '../core/use-cases/invocations';
import { cancelJob, jobView } from '../core/use-cases/jobs';
import { TERMINAL } from '../core/model';
import { allowLoopbackCallbacks, inputStorage } from '../adapters/api-options';
import { depsFromEnv } from '../adapters/deps';
import { httpApi, json, type HttpRequest } from './http';

const deps = depsFromEnv();
const loopback = allowLoopbackCallbacks();

const caller = (req: HttpRequest) => authenticateCaller(deps, req.header('authorization'), req.header('x-api-key'));

/**
 * `POST /functions/{id}/invocations`: creates the job, schedules it and sends the signed envelope.
 * Sync mode waits up to `waitS` for the result (200), then answers 202 with the job's link;
 * async mode answers 202 at once. The developer's token or an invoke key of the function may call
 * it; `idempotency-key` makes retries return the first request's job (header
 * `idempotent-replayed: true`). `POST /functions/{id}/inputs` presigns the upload of a large input;
 * `POST /jobs/{id}/cancel` cancels a queued job (this Lambda writes jobs; the jobs Lambda only reads).
 */
export const handler = httpApi({
  'POST /functions/{functionId}/invocations': async (req) => {
    const who = await caller(req);
    const { job, mode, waitS, replayed } = await invoke(deps, who, req.params.functionId ?? '', req.body, {
      idempotencyKey: req.header('idempotency-key'),
      allowLoopbackCallbacks: loopback,
    });
    const latest = mode === 'sync' && !TERMINAL.includes(job.status) ? ((await waitForJob(deps, job.jobId, waitS)) ?? job) : job;
    const done = TERMINAL.includes(latest.status);
    return json(mode === 'sync' && done ? 200 : 202, await jobView(deps, latest), {
      location: `/jobs/${job.jobId}`,
      ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
    });
  },
  'POST /jobs/{jobId}/cancel': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await jobView(deps, await cancelJob(deps, user, req.params.jobId ?? '')));
  },
  'POST /functions/{functionId}/inputs': async (req) => {
    const who = await caller(req);
    return json(201, await createInputUpload(deps, inputStorage(), who, req.params.functionId ?? '', req.body));
  },
});
