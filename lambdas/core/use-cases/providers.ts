import { conflict, forbidden, invalid, notFound } from '../errors';
import { canonicalJson } from '../canonical-json';
import { ProviderRecord, TERMINAL, User } from '../model';
import { newId } from '../passwords';
import { vcpuMillicores as toMilli } from '../pricing';
import { HeartbeatBody, RegisterProviderBody, ReportBody, RuntimeReport } from '../schemas';
import { parsePublicKey, verifyPayload } from '../signing';
import { Deps, nowIso, parse, requireRole } from './context';
import { dispatchWaiting } from './scheduling';

/** Providers: registration (with their own queue), heartbeats, signed run-time reports. */

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
  };
  await deps.providers.createProvider(provider);
  await deps.outbox.append(providerId, [{ type: 'RegisterProvider', providerId, accountId: user.userId, publicKeyPem: req.publicKey }]);
  const controllerKey = await deps.signer.publicKey();
  return {
    providerId,
    queueUrl,
    controllerPublicKey: controllerKey.pem,
    controllerKeyId: controllerKey.keyId,
    heartbeatIntervalS: deps.config.heartbeatIntervalS,
    region: deps.config.sqsRegion,
    sqsEndpoint: deps.config.sqsEndpoint,
  };
}

async function getOwnProvider(deps: Deps, user: User, providerId: string): Promise<ProviderRecord> {
  const provider = await deps.providers.getProvider(providerId);
  if (!provider || provider.ownerId !== user.userId) throw notFound('provider', providerId);
  return provider;
}

export async function heartbeat(deps: Deps, user: User, providerId: string, body: unknown) {
  const req = parse(HeartbeatBody, body ?? {});
  await getOwnProvider(deps, user, providerId);
  await deps.providers.heartbeat(providerId, nowIso(deps), req.cachedImages, req.warmFunctions, req.draining);
  if (!req.draining) await dispatchWaiting(deps);
  return { ok: true, drain: false };
}

/**
 * Accepts a provider's signed run-time report: the caller must own the provider, the provider
 * must be the job's assignee for this attempt, the signature must verify against the provider's
 * registered key, the run time must fit the job's timeout, and the result object must exist with
 * the reported size. Then the job moves to SUCCEEDED/FAILED (conditional: a duplicate report is
 * answered idempotently and changes nothing), capacity is released and the ledger events queued.
 */
export async function acceptReport(deps: Deps, user: User, providerId: string, body: unknown) {
  const req = parse(ReportBody, body);
  const report = parse(RuntimeReport, req.report) as RuntimeReport;
  const provider = await getOwnProvider(deps, user, providerId);
  if (report.providerId !== providerId) throw forbidden('the report names another provider');
  if (!verifyPayload(report, req.signature, provider.publicKeyPem))
    throw forbidden("the report's signature does not verify against the provider's registered key");
  const job = await deps.jobs.getJob(report.jobId);
  if (!job || job.providerId !== providerId) throw notFound('job', report.jobId);
  if (job.attempt !== report.attempt) throw conflict(`the job is at attempt ${job.attempt}; this report is for attempt ${report.attempt}`);
  if (TERMINAL.includes(job.status)) {
    if (job.runtimeMs === report.runtimeMs && job.resultSha256 === report.resultSha256) return { jobId: job.jobId, status: job.status, duplicate: true };
    throw conflict(`job ${job.jobId} is already ${job.status}`);
  }
  if (report.runtimeMs > job.resources.timeoutS * 1000 + 5000)
    throw invalid('report.runtimeMs', `report.runtimeMs: ${report.runtimeMs} exceeds the job's timeout of ${job.resources.timeoutS}s`);
  const stored = await deps.storage.size(job.resultKey);
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
  );
  if (!moved) {
    const again = await deps.jobs.getJob(job.jobId);
    return { jobId: job.jobId, status: again?.status ?? job.status, duplicate: true };
  }
  await deps.providers.release(providerId, toMilli(job.resources.vcpu), job.resources.memoryMb);
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
