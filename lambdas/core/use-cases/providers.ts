import { conflict, forbidden, invalid, notFound } from '../errors';
import { canonicalJson } from '../canonical-json';
import { ProviderRecord, TERMINAL, User } from '../model';
import { newId } from '../passwords';
import { vcpuMillicores as toMilli } from '../pricing';
import { HeartbeatBody, RegisterProviderBody, ReportBody, RuntimeReport } from '../schemas';
import { parsePublicKey, verifyPayload } from '../signing';
import type { TemporaryCredentials } from '../ports';
import { Deps, now as clock, nowIso, parse, requireRole } from './context';
import { resultStorageFor } from './results';
import { dispatchWaiting, releaseJob } from './scheduling';

/**
 * Providers: registration (with their own queue and credentials scoped to it), heartbeats that
 * renew the leases of the jobs they run, signed run-time reports accepted only from the job's
 * current assignee.
 */

export async function registerProvider(deps: Deps, user: User, body: unknown) {
  requireRole(user, 'provider');
  const req = parse(RegisterProviderBody, body);
  try {
    parsePublicKey(req.publicKey);
  } catch (err) {
    throw invalid('publicKey', `publicKey: ${(err as Error).message}`);
  }
  const providerId = newId('prv');
  const queueUrl = await deps.queues.createQueue(providerId);
  const queueArn = await deps.queues.queueArn(queueUrl);
  const at = nowIso(deps);
  const provider: ProviderRecord = {
    providerId,
    ownerId: user.userId,
    name: req.name,
    capacityVcpuMilli: toMilli(req.capacity.vcpu),
    capacityMemoryMb: req.capacity.memoryMb,
    reservedVcpuMilli: 0,
    reservedMemoryMb: 0,
    publicKeyPem: req.publicKey,
    queueUrl,
    lastHeartbeatAt: at,
    cachedImages: [],
    warmFunctions: [],
    draining: false,
    createdAt: at,
    onlineShard: '1',
    queueArn,
  };
  await deps.providers.createProvider(provider);
  await deps.outbox.append(providerId, [{ type: 'RegisterProvider', providerId, accountId: user.userId, publicKeyPem: req.publicKey }]);
  const controllerKey = await deps.signer.publicKey();
  return {
    providerId,
    queueUrl,
    queueArn,
    controllerPublicKey: controllerKey.pem,
    controllerKeyId: controllerKey.keyId,
    heartbeatIntervalS: deps.config.heartbeatIntervalS,
    leaseS: deps.config.scheduling.leaseS,
    region: deps.config.sqsRegion,
    sqsEndpoint: deps.config.sqsEndpoint,
    ...(await queueCredentials(deps, providerId, queueArn)),
  };
}

/**
 * The provider's AWS credentials for its own queue: in AWS, STS credentials whose session policy
 * names only that queue (`credentialsMode: 'sts'`, refreshed with `POST /providers/{id}/credentials`
 * before `credentials.expiration`); in local mode there is no STS and the agent uses the
 * environment's credentials (`credentialsMode: 'environment'`, no `credentials`).
 */
async function queueCredentials(
  deps: Deps,
  providerId: string,
  queueArn: string,
): Promise<{ credentialsMode: 'sts'; credentials: TemporaryCredentials } | { credentialsMode: 'environment' }> {
  if (!deps.credentials) return { credentialsMode: 'environment' };
  return { credentialsMode: 'sts', credentials: await deps.credentials.issue(providerId, queueArn) };
}

/** `POST /providers/{id}/credentials`: fresh queue-scoped credentials for the caller's own provider. */
export async function refreshCredentials(deps: Deps, user: User, providerId: string) {
  const provider = await getOwnProvider(deps, user, providerId);
  const queueArn = provider.queueArn ?? (await deps.queues.queueArn(provider.queueUrl));
  return { providerId, queueUrl: provider.queueUrl, queueArn, ...(await queueCredentials(deps, providerId, queueArn)) };
}

async function getOwnProvider(deps: Deps, user: User, providerId: string): Promise<ProviderRecord> {
  const provider = await deps.providers.getProvider(providerId);
  if (!provider || provider.ownerId !== user.userId) throw notFound('provider', providerId);
  return provider;
}

/**
 * A heartbeat: the provider is alive, here is what it caches and holds warm, and these are the
 * jobs it runs. Each listed job that is still ASSIGNED to it gets its lease renewed (conditional
 * write); the others are answered as `revokedJobs` (re-queued elsewhere, finished or unknown), so
 * an agent may stop them. Then free capacity goes to waiting jobs. The answer carries the
 * controller's view of the provider's free capacity.
 */
export async function heartbeat(deps: Deps, user: User, providerId: string, body: unknown) {
  const req = parse(HeartbeatBody, body ?? {});
  await getOwnProvider(deps, user, providerId);
  const now = clock(deps);
  await deps.providers.heartbeat(providerId, now.toISOString(), req.cachedImages, req.warmFunctions, req.draining);
  if (req.free) await deps.providers.recordReportedFree(providerId, req.free);
  const leaseExpiresAt = new Date(now.getTime() + deps.config.scheduling.leaseS * 1000).toISOString();
  const revokedJobs: string[] = [];
  const jobs = [...new Set(req.runningJobs)];
  for (let i = 0; i < jobs.length; i += 25) {
    const batch = jobs.slice(i, i + 25);
    const renewed = await Promise.all(batch.map((jobId) => deps.jobs.renewLease(jobId, providerId, leaseExpiresAt)));
    batch.forEach((jobId, j) => (renewed[j] ? undefined : revokedJobs.push(jobId)));
  }
  if (!req.draining) await dispatchWaiting(deps);
  const provider = await deps.providers.getProvider(providerId);
  return {
    ok: true,
    drain: false,
    leaseExpiresAt,
    revokedJobs,
    free: provider && {
      vcpu: (provider.capacityVcpuMilli - provider.reservedVcpuMilli) / 1000,
      memoryMb: provider.capacityMemoryMb - provider.reservedMemoryMb,
    },
  };
}

/**
 * Accepts a provider's signed run-time report: the caller must own the provider, the provider
 * must be the job's assignee for this attempt, the signature must verify against the provider's
 * registered key, the run time must fit the job's timeout, and the result object must exist with
 * the reported size. Then the job moves to SUCCEEDED/FAILED (conditional: a duplicate report is
 * answered idempotently and changes nothing), capacity is released and the ledger events queued.
 * A provider whose lease lapsed (the job was re-queued to another) gets 409 for its late report,
 * and so does a report for an attempt that is not the job's current one.
 */
export async function acceptReport(deps: Deps, user: User, providerId: string, body: unknown) {
  const req = parse(ReportBody, body);
  const report = parse(RuntimeReport, req.report) as RuntimeReport;
  const provider = await getOwnProvider(deps, user, providerId);
  if (report.providerId !== providerId) throw forbidden('the report names another provider');
  if (!verifyPayload(report, req.signature, provider.publicKeyPem))
    throw forbidden("the report's signature does not verify against the provider's registered key");
  const job = await deps.jobs.getJob(report.jobId);
  if (job && job.providerId !== providerId && job.previousProviders?.includes(providerId)) {
    throw conflict(`job ${job.jobId} was taken from this provider (${job.requeueReason ?? 'its lease lapsed'}) and is now at attempt ${job.attempt}; this report is refused`, {
      attempt: job.attempt,
    });
  }
  if (!job || job.providerId !== providerId) throw notFound('job', report.jobId);
  if (job.attempt !== report.attempt) throw conflict(`the job is at attempt ${job.attempt}; this report is for attempt ${report.attempt}`);
  if (TERMINAL.includes(job.status)) {
    if (job.runtimeMs === report.runtimeMs && job.resultSha256 === report.resultSha256) return { jobId: job.jobId, status: job.status, duplicate: true };
    throw conflict(`job ${job.jobId} is already ${job.status}`);
  }
  if (report.runtimeMs > job.resources.timeoutS * 1000 + 5000)
    throw invalid('report.runtimeMs', `report.runtimeMs: ${report.runtimeMs} exceeds the job's timeout of ${job.resources.timeoutS}s`);
  const stored = await (await resultStorageFor(deps, job)).size(job.resultKey);
  if (report.status === 'succeeded' && stored !== report.resultSize) {
    throw invalid('report.resultSize', `report.resultSize: the stored result has ${stored ?? 'no'} bytes, the report says ${report.resultSize}`);
  }
  const status = report.status === 'succeeded' ? 'SUCCEEDED' : 'FAILED';
  const moved = await deps.jobs.transition(
    job.jobId,
    ['ASSIGNED'],
    {
      status,
      startedAt: report.startedAt,
      finishedAt: report.finishedAt,
      runtimeMs: report.runtimeMs,
      exitCode: report.exitCode,
      reason: report.reason === undefined ? undefined : describeFailure(report),
      resultSha256: report.resultSha256,
      resultSize: report.resultSize,
    },
    { providerId, attempt: report.attempt },
    ['leaseShard', 'leaseExpiresAt'],
  );
  if (!moved) {
    // Another writer moved the job first: the same report again (idempotent), or the reaper took it back.
    const again = await deps.jobs.getJob(job.jobId);
    if (again && again.attempt === report.attempt && again.providerId === providerId && TERMINAL.includes(again.status)) {
      return { jobId: job.jobId, status: again.status, duplicate: true };
    }
    throw conflict(`job ${job.jobId} is no longer this provider's attempt ${report.attempt} (now ${again?.status ?? 'missing'} at attempt ${again?.attempt ?? '?'})`);
  }
  await releaseJob(deps, job, providerId);
  await deps.outbox.append(job.jobId, [
    { type: 'SetRuntime', jobId: job.jobId, report: canonicalJson(report), signature: req.signature },
    { type: 'ConfirmReceipt', jobId: job.jobId, resultSha256: report.resultSha256, resultSize: report.resultSize },
  ]);
  await dispatchWaiting(deps);
  return { jobId: job.jobId, status };
}

function describeFailure(report: RuntimeReport): string {
  switch (report.reason) {
    case 'exit':
      return `the function exited with code ${report.exitCode}`;
    case 'oom':
      return 'the function ran out of memory and was killed';
    case 'timeout':
      return 'the function ran past its timeout and was killed';
    case 'output_too_large':
      return 'the function wrote more output than the platform accepts';
    case 'image_unavailable':
      return "the provider could not pull the function's image";
    default:
      return 'the provider could not run the function';
  }
}
