import { authenticate, authenticateCaller } from '../core/use-cases/accounts';
import { createInputUpload, invoke, waitForJob } from '../core/use-cases/invocations';
import { cancelJob, jobView } from '../core/use-cases/jobs';
import { TERMINAL } from '../core/model';
import { allowLoopbackCallbacks, inputStorage } from '../adapters/api-options';
import { depsFromEnv } from '../adapters/deps';
import { httpApi, json, type HttpRequest } from './http';

const deps = depsFromEnv();
/** What a sync invocation keeps of its time for reading the job and answering after its wait. */
const ANSWER_MARGIN_MS = 3000;
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
    // The wait ends in time for the answer: a waitS longer than the request may last (the Lambda's
    // timeout; 30 s locally) is cut short, and the caller gets 202 as after any wait (issue #25:
    // waitS 58 ran into the timeout and answered 500).
    const budgetS = Math.max(0, Math.floor((req.remainingMs() - ANSWER_MARGIN_MS) / 1000));
    const latest = mode === 'sync' && !TERMINAL.includes(job.status) ? ((await waitForJob(deps, job.jobId, Math.min(waitS, budgetS), undefined, replayed ? undefined : job)) ?? job) : job;
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
