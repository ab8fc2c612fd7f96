import type { FunctionRecord, JobRecord, ProviderRecord } from '../model';
import { vcpuMillicores as toMilli } from '../pricing';
import { rankProviders } from '../scheduler';
import type { JobEnvelope } from '../schemas';
import { Deps, now as clock } from './context';

/** Placement: reserve capacity on a provider, assign the job, sign the envelope, send it. */

export async function dispatch(deps: Deps, job: JobRecord, fn?: FunctionRecord): Promise<JobRecord | undefined> {
  const need = { vcpuMilli: toMilli(job.resources.vcpu), memoryMb: job.resources.memoryMb, image: job.image, functionId: job.functionId };
  const now = clock(deps);
  const ranked = rankProviders(deps.config.policy, await deps.providers.listProviders(), need, {
    now: now.getTime(),
    heartbeatStaleMs: deps.config.heartbeatStaleMs,
  });
  for (const provider of ranked) {
    if (!(await deps.providers.reserve(provider, need.vcpuMilli, need.memoryMb))) continue;
    const assignedAt = now.toISOString();
    const moved = await deps.jobs.transition(
      job.jobId,
      ['QUEUED'],
      { status: 'ASSIGNED', providerId: provider.providerId, assignedAt },
      { attempt: job.attempt },
      ['waitingShard'],
    );
    if (!moved) {
      // Someone else placed (or failed) the job meanwhile: give the capacity back.
      await deps.providers.release(provider.providerId, need.vcpuMilli, need.memoryMb);
      return undefined;
    }
    const assigned: JobRecord = { ...job, status: 'ASSIGNED', providerId: provider.providerId, assignedAt };
    await deps.outbox.append(job.jobId, [
      {
        type: 'CreateJob',
        jobId: job.jobId,
        developerId: job.developerId,
        providerId: provider.providerId,
        functionId: job.functionId,
        functionVersion: job.functionVersion,
        resources: job.resources,
        billing: deps.config.billing,
        maxCost: job.maxCost,
      },
    ]);
    await deps.queues.send(provider.queueUrl, JSON.stringify(await buildSignedEnvelope(deps, assigned, provider, fn)));
    return assigned;
  }
  return undefined;
}

async function buildSignedEnvelope(deps: Deps, job: JobRecord, provider: ProviderRecord, fn?: FunctionRecord) {
  const now = clock(deps);
  const ttl = deps.config.presignTtlS;
  const envelope: JobEnvelope = {
    v: 1,
    jobId: job.jobId,
    functionId: job.functionId,
    functionVersion: job.functionVersion,
    developerId: job.developerId,
    providerId: provider.providerId,
    image: job.image,
    protocol: job.protocol,
    network: job.network,
    resources: job.resources,
    env: fn?.env ?? (await deps.functions.getFunction(job.functionId))?.env ?? {},
    input: { kind: 'inline', base64: job.inputBase64 },
    resultPutUrl: await deps.storage.presignPut(job.resultKey, ttl),
    logPutUrl: await deps.storage.presignPut(job.logKey, ttl),
    issuedAt: now.toISOString(),
    startBy: new Date(now.getTime() + ttl * 1000).toISOString(),
    attempt: job.attempt,
  };
  const { signature, keyId } = await deps.signer.sign(envelope);
  return { envelope, signature, keyId };
}

/** Offers freed or new capacity to waiting jobs, oldest first. */
export async function dispatchWaiting(deps: Deps, limit = 20): Promise<number> {
  let placed = 0;
  for (const job of await deps.jobs.listWaiting(limit)) {
    if (await dispatch(deps, job)) placed++;
    else break;
  }
  return placed;
}
