import { conflict, forbidden, invalid, notFound } from '../errors';
import {
  canonicalJson,
  compareSha256,
  DEFAULT_PROVIDER_DISK_MB,
  HeartbeatBody,
  LIMITS,
  parsePublicKey,
  RegisterProviderBody,
  ReportBody,
  RuntimeReport,
  sha256Hex,
  verifyPayload,
} from '../../../contract/src';
import { JobProgress, JobRecord, ProviderRecord, TERMINAL, User } from '../model';
import { newId } from '../passwords';
import { RUNTIME_GRACE_MS, vcpuMillicores as toMilli } from '../pricing';
import type { TemporaryCredentials } from '../ports';
import { Deps, getOwnProvider, now as clock, nowIso, parse, requireRole } from './context';
import { resultStorageFor } from './results';
import { dispatchWaiting, releaseJob } from './scheduling';
import { replicaEnded } from './verification';
import { injectFault } from '../faults';
import { capacityDiskMb, isOnline, reservedDiskMb } from '../scheduler';
import { score as reputationScore } from '../reputation';

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
    capacityDiskMb: req.capacity.diskMb ?? DEFAULT_PROVIDER_DISK_MB,
    reservedVcpuMilli: 0,
    reservedMemoryMb: 0,
    reservedDiskMb: 0,
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

/**
 * A heartbeat: the provider is alive, here is what it caches and holds warm, and these are the
 * jobs it runs. Each listed job that is still ASSIGNED to it gets its lease renewed (conditional
 * write); the others are answered as `revokedJobs` (re-queued elsewhere, finished or unknown), so
 * an agent may stop them. Then free capacity goes to waiting jobs. The answer carries the
 * controller's view of the provider's free capacity.
 */
export async function heartbeat(deps: Deps, user: User, providerId: string, body: unknown) {
  const req = parse(HeartbeatBody, body === undefined ? {} : body);
  const before = await getOwnProvider(deps, user, providerId);
  const now = clock(deps);
  const nextBeatS = req.runningJobs.length === 0 ? req.nextBeatS : undefined;
  await deps.providers.heartbeat(providerId, now.toISOString(), req.cachedImages, req.warmFunctions, req.draining, { nextBeatS, reportedFree: req.free });
  const leaseExpiresAt = new Date(now.getTime() + deps.config.scheduling.leaseS * 1000).toISOString();
  const revokedJobs: string[] = [];
  const jobs = [...new Set(req.runningJobs)];
  const progress = phasesByJob(req.phases, now);
  for (let i = 0; i < jobs.length; i += 25) {
    const batch = jobs.slice(i, i + 25);
    const renewed = await Promise.all(batch.map((jobId) => deps.jobs.renewLease(jobId, providerId, leaseExpiresAt, progress.get(jobId))));
    batch.forEach((jobId, j) => (renewed[j] ? undefined : revokedJobs.push(jobId)));
  }
  // Capacity appears when a provider comes (back) online or beats at the normal pace (it may have
  // freed some); an idle provider's slow beat that finds it online already brings nothing new,
  // and the reaper's pass offers its room to waiting jobs anyway (issue #24: idle beats stay cheap).
  const wasOnline = isOnline(before, { now: now.getTime(), heartbeatStaleMs: deps.config.heartbeatStaleMs });
  const dispatch = !req.draining && !(nextBeatS && wasOnline);
  if (dispatch) await dispatchWaiting(deps);
  // Without a dispatch this beat changed no reservation: the record read for the owner check answers.
  const provider = dispatch ? await deps.providers.getProvider(providerId) : before;
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
 * The heartbeat's phases by job (issue #22): the latest attempt's when an agent names a job twice,
 * `since` no later than the controller's clock. They are written only with the lease of a job
 * ASSIGNED to this provider (the renewal's condition), so a provider speaks of its own jobs only.
 */
function phasesByJob(phases: HeartbeatBody['phases'], now: Date): Map<string, JobProgress> {
  const byJob = new Map<string, JobProgress>();
  const reportedAt = now.toISOString();
  for (const p of phases ?? []) {
    if ((byJob.get(p.jobId)?.attempt ?? 0) > p.attempt) continue;
    const since = Date.parse(p.since) > now.getTime() ? reportedAt : new Date(p.since).toISOString();
    byJob.set(p.jobId, { attempt: p.attempt, phase: p.phase, since, reportedAt });
  }
  return byJob;
}

/**
 * Accepts a provider's signed run-time report: the caller must own the provider, the provider
 * must be the job's assignee for this attempt, the signature must verify against the provider's
 * registered key, the run time must fit the job's timeout and the time the controller saw pass
 * since it assigned the attempt (`checkRuntime`), and the result object must exist with
 * the reported size. Then the job moves to SUCCEEDED/FAILED (conditional: a duplicate report is
 * answered idempotently and changes nothing), capacity is released and the ledger events queued.
 * A provider whose lease lapsed (the job was re-queued to another) gets 409 for its late report,
 * and so does a report for an attempt that is not the job's current one.
 */
export async function acceptReport(deps: Deps, user: User, providerId: string, body: unknown) {
  const req = parse(ReportBody, body);
  const report = parse(RuntimeReport, req.report, 'report') as RuntimeReport;
  // Both reads at once (one round trip less on every report); the job is looked at only once the caller and the signature checked out.
  const jobRead = deps.jobs.getJob(report.jobId);
  jobRead.catch(() => undefined); // awaited below, or not at all when the report is refused first
  const provider = await getOwnProvider(deps, user, providerId);
  if (report.providerId !== providerId) throw forbidden('the report names another provider');
  if (!verifyPayload(report, req.signature, provider.publicKeyPem))
    throw forbidden("the report's signature does not verify against the provider's registered key");
  const job = await jobRead;
  if (job && job.providerId !== providerId && job.previousProviders?.includes(providerId)) {
    throw conflict(
      `job ${job.jobId} was taken from this provider (${job.requeueReason ?? 'its lease lapsed'}) and is now at attempt ${job.attempt}; this report is refused`,
      {
        attempt: job.attempt,
      },
    );
  }
  if (!job || job.providerId !== providerId) throw notFound('job', report.jobId);
  if (job.attempt !== report.attempt) throw conflict(`the job is at attempt ${job.attempt}; this report is for attempt ${report.attempt}`);
  if (TERMINAL.includes(job.status)) {
    if (job.runtimeMs === report.runtimeMs && job.resultSha256 === report.resultSha256) {
      await finishReport(deps, job, provider.ownerId);
      await afterReplicaReport(deps, job);
      return { jobId: job.jobId, status: job.status, duplicate: true };
    }
    throw conflict(`job ${job.jobId} is already ${job.status}`);
  }
  // One instant: the bound applied here and the one the ledger applies (reportAcceptedAt) agree.
  const accepted = clock(deps);
  checkRuntime(job, report, accepted);
  const resultInline = req.resultBase64 === undefined ? undefined : checkInlineResult(job, report, req.resultBase64);
  if (resultInline === undefined) {
    const storage = await resultStorageFor(deps, job);
    const stored = await storage.size(job.resultKey);
    if (report.status === 'succeeded' && stored !== report.resultSize) {
      throw invalid('report.resultSize', `report.resultSize: the stored result has ${stored ?? 'no'} bytes, the report says ${report.resultSize}`);
    }
    // Issue #19: a comparison hash is a vote; it must be of the bytes the caller will get.
    const uploaded = report.compareSha256 !== undefined && job.compare ? await storage.getObject?.(job.resultKey) : undefined;
    checkCompareHash(job, report, uploaded);
  } else {
    checkCompareHash(job, report, Buffer.from(resultInline, 'base64'));
  }
  const status = report.status === 'succeeded' ? 'SUCCEEDED' : 'FAILED';
  const acceptedAt = accepted.toISOString();
  const changes = {
      status,
      startedAt: report.startedAt,
      finishedAt: report.finishedAt,
      reportAcceptedAt: acceptedAt,
      runtimeMs: report.runtimeMs,
      exitCode: report.exitCode,
      reason: report.reason === undefined ? undefined : describeFailure(report),
      resultSha256: report.resultSha256,
      compareSha256: report.compareSha256,
      resultSize: report.resultSize,
      resultInline,
      logSize: report.logSize,
      limits: report.limits,
      limitsUnwatched: report.unwatched,
  } satisfies Partial<JobRecord>;
  // The signed report stays on the job until its ledger events are appended. When the job's own
  // fields give back exactly the signed bytes (a succeeded report: always), only the signature is
  // kept: the report doubled the job record's size, and every write of it is billed by size.
  const canonical = canonicalJson(report);
  const pendingReport = signedReportOf({ ...job, ...changes }) === canonical ? { signature: req.signature } : { report: canonical, signature: req.signature };
  const moved = await deps.jobs.transition(
    job.jobId,
    ['ASSIGNED'],
    { ...changes, pendingReport },
    { providerId, attempt: report.attempt },
    // The lease stays until finishReport: were this Lambda to die before that, the reaper finds the job again.
  );
  if (!moved) {
    // Another writer moved the job first: the same report again (idempotent), or the reaper took it back.
    const again = await deps.jobs.getJob(job.jobId);
    if (again && again.attempt === report.attempt && again.providerId === providerId && TERMINAL.includes(again.status)) {
      await finishReport(deps, again, provider.ownerId);
      return { jobId: job.jobId, status: again.status, duplicate: true };
    }
    throw conflict(
      `job ${job.jobId} is no longer this provider's attempt ${report.attempt} (now ${again?.status ?? 'missing'} at attempt ${again?.attempt ?? '?'})`,
    );
  }
  deps.telemetry.jobFinished(status === 'SUCCEEDED' ? 'succeeded' : 'failed');
  // The job is terminal in the table now: a sync call waiting in this process answers at once, with
  // the job as this write left it; one waiting elsewhere is woken through its wake queue meanwhile.
  const woken = deps.waiter?.notify(job, { ...job, ...changes, pendingReport });
  injectFault('report.afterTransition');
  await finishReport(deps, { ...job, ...changes, pendingReport }, provider.ownerId);
  await afterReplicaReport(deps, job);
  // The report freed this provider's room: the waiting jobs try it first (late binding, sampled policy).
  await dispatchWaiting(deps, undefined, providerId);
  await woken;
  return { jobId: job.jobId, status };
}

/** Issue #19: a replica's accepted report may complete its group's quorum (verification.ts#replicaEnded). */
async function afterReplicaReport(deps: Deps, job: JobRecord): Promise<void> {
  if (job.replicaOf !== undefined) await replicaEnded(deps, job.replicaOf);
}

/**
 * Issue #19: a comparison hash only where the job declared a rule (a replica's vote), and it must
 * be the hash of the result's very bytes (inline in the report, or the uploaded object read back),
 * so a provider cannot vote for the quorum's hash while handing out other bytes.
 */
function checkCompareHash(job: JobRecord, report: RuntimeReport, result: Buffer | undefined): void {
  if (report.compareSha256 === undefined) return;
  if (!job.compare) throw invalid('report.compareSha256', `report.compareSha256: job ${job.jobId} declares no comparison; its results compare as exact bytes`);
  if (report.status !== 'succeeded') throw invalid('report.compareSha256', 'report.compareSha256: a failed run has no result to compare');
  if (result === undefined || compareSha256(job.compare, result) !== report.compareSha256) {
    throw invalid('report.compareSha256', "report.compareSha256: it is not the comparison hash of the result under the job's declared rule");
  }
}

/**
 * A result carried in the report body instead of an object (issue #16): only where the envelope
 * allowed it (the platform's bucket, at most LIMITS.maxInlineResultBytes), and only the bytes the
 * signed report names (size and SHA-256), so it is as signed as an uploaded result. Returns the
 * base64 the job record keeps.
 */
function checkInlineResult(job: JobRecord, report: RuntimeReport, base64: string): string {
  if (job.resultBucket) throw invalid('resultBase64', `resultBase64: job ${job.jobId}'s results go to the developer's bucket; upload the result to resultPutUrl`);
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length > LIMITS.maxInlineResultBytes || bytes.toString('base64') !== base64) {
    throw invalid('resultBase64', `resultBase64: at most ${LIMITS.maxInlineResultBytes} bytes in canonical base64 may travel in the report; upload larger results`);
  }
  if (bytes.length !== report.resultSize) throw invalid('report.resultSize', `report.resultSize: resultBase64 has ${bytes.length} bytes, the report says ${report.resultSize}`);
  if (sha256Hex(bytes) !== report.resultSha256) throw invalid('report.resultSha256', "report.resultSha256: it is not the SHA-256 of resultBase64");
  return base64;
}

/**
 * A report may claim no more run time than the job's timeout allows (plus RUNTIME_GRACE_MS for a
 * container killed at its deadline), and no more than the controller itself saw pass since it
 * assigned this attempt (`assignedAt`, set before the envelope was sent): the container cannot
 * have started before the envelope existed. Both ends of that interval are read on the
 * controller's clock, so a provider's own clock plays no part; an honest agent's run time is
 * shorter still by the queue's delivery and the report's own trip.
 */
function checkRuntime(job: JobRecord, report: RuntimeReport, now: Date): void {
  const timeoutMs = job.resources.timeoutS * 1000;
  if (report.runtimeMs > timeoutMs + RUNTIME_GRACE_MS) {
    throw invalid('report.runtimeMs', `report.runtimeMs: ${report.runtimeMs} exceeds the job's timeout of ${job.resources.timeoutS}s`);
  }
  const assignedMs = job.assignedAt === undefined ? NaN : Date.parse(job.assignedAt);
  if (Number.isNaN(assignedMs)) return; // every ASSIGNED attempt has one; an old record keeps the timeout bound
  const observedMs = Math.max(0, now.getTime() - assignedMs);
  if (report.runtimeMs > observedMs) {
    throw invalid(
      'report.runtimeMs',
      `report.runtimeMs: ${report.runtimeMs} ms is longer than the ${observedMs} ms that passed since the controller assigned attempt ${job.attempt} to this provider`,
    );
  }
}

/**
 * What follows an accepted report, outside the transition that accepted it: the ledger events,
 * then the capacity and the lapsed lease. After a crash in between, the repeated report (the
 * agent retries a 500) or the reaper (the job is still in the leases index) finds `pendingReport`
 * and finishes. The events are appended at least once (the ledger takes the identical SetRuntime
 * and ConfirmReceipt again as duplicates); the capacity is released at most once, by whoever
 * removes `pendingReport` (a conditional write).
 *
 * `payee` is the ledger account the provider is paid into (its owner's: `RegisterProvider`); with
 * it the events travel in the developer's lane of the ledger writer, without it (the reaper's
 * path) they are committed alone (use-cases/outbox.ts).
 */
export async function finishReport(deps: Deps, job: JobRecord, payee?: string): Promise<void> {
  const pending = job.pendingReport;
  const providerId = job.providerId;
  if (!pending || !providerId || !TERMINAL.includes(job.status)) return;
  const signed = pending.report ?? signedReportOf(job);
  // Kept without its report only when these fields gave back the signed bytes, and they never change after.
  if (signed === undefined) throw new Error(`job ${job.jobId}: its pending report has no report and the job's fields give none`);
  await deps.outbox.append(job.jobId, [
    { type: 'SetRuntime', jobId: job.jobId, report: signed, signature: pending.signature },
    { type: 'ConfirmReceipt', jobId: job.jobId, resultSha256: job.resultSha256 ?? '', resultSize: job.resultSize ?? 0, acceptedAt: job.reportAcceptedAt },
  ], payee === undefined ? undefined : { lane: job.developerId, payee });
  const claimed = await deps.jobs.transition(job.jobId, TERMINAL, {}, { providerId, attempt: job.attempt, present: 'pendingReport' }, [
    'pendingReport',
    'leaseShard',
    'leaseExpiresAt',
  ]);
  if (claimed) await releaseJob(deps, job, providerId);
}

/**
 * The canonical JSON of a succeeded job's report, rebuilt from the fields the accepting transition
 * wrote (`acceptReport`); undefined for any other job. `acceptReport` keeps the report itself
 * whenever this does not give back the signed bytes exactly.
 */
function signedReportOf(job: JobRecord): string | undefined {
  if (job.status !== 'SUCCEEDED' || job.providerId === undefined || job.runtimeMs === undefined || job.resultSha256 === undefined) return undefined;
  if (job.resultSize === undefined || job.logSize === undefined || job.startedAt === undefined || job.finishedAt === undefined) return undefined;
  const report: RuntimeReport = {
    v: 1,
    jobId: job.jobId,
    providerId: job.providerId,
    attempt: job.attempt,
    status: 'succeeded',
    exitCode: job.exitCode ?? null,
    runtimeMs: job.runtimeMs,
    resultSha256: job.resultSha256,
    compareSha256: job.compareSha256,
    resultSize: job.resultSize,
    logSize: job.logSize,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    limits: job.limits,
    unwatched: job.limitsUnwatched,
  };
  return canonicalJson(report);
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

// ---------- the owner's view: GET /providers, GET /providers/{id} ----------

/**
 * A provider as its owner sees it: capacity, what is free of it, and whether the scheduler counts
 * it online — the same rule placement uses (`scheduler.ts#isOnline`: not draining, and a heartbeat
 * no older than HEARTBEAT_STALE_MS); draining only while it is still heard from, offline once
 * silent past that window. Never the queue URL's credentials or the public key.
 */
function providerView(deps: Deps, p: ProviderRecord, nowMs: number, runningJobs: number) {
  const online = isOnline(p, { now: nowMs, heartbeatStaleMs: deps.config.heartbeatStaleMs });
  const silentMs = Math.max(0, nowMs - Date.parse(p.lastHeartbeatAt));
  // "draining" is what the machine said last; once it has been silent past the scheduler's window
  // it is offline, whatever it said (a stopped agent's last heartbeat says draining).
  const heard = silentMs <= deps.config.heartbeatStaleMs;
  return {
    providerId: p.providerId,
    name: p.name,
    state: online ? ('online' as const) : heard && p.draining ? ('draining' as const) : ('offline' as const),
    online,
    lastHeartbeatAt: p.lastHeartbeatAt,
    silentS: Math.floor(silentMs / 1000),
    onlineWithinS: deps.config.heartbeatStaleMs / 1000,
    capacity: { vcpu: p.capacityVcpuMilli / 1000, memoryMb: p.capacityMemoryMb, diskMb: capacityDiskMb(p) },
    free: {
      vcpu: (p.capacityVcpuMilli - p.reservedVcpuMilli) / 1000,
      memoryMb: p.capacityMemoryMb - p.reservedMemoryMb,
      diskMb: capacityDiskMb(p) - reservedDiskMb(p),
    },
    runningJobs,
    cachedImages: p.cachedImages.length,
    warmFunctions: p.warmFunctions.length,
    draining: p.draining,
    createdAt: p.createdAt,
    reputation: reputationView(p),
  };
}

/** Issue #19: the provider's verification record as its owner sees it (absent before its first replicated job was decided). */
function reputationView(p: ProviderRecord) {
  const r = p.reputation;
  if (!r) return undefined;
  const { agreed, disagreed, missed, inconclusive, consecutiveValid, suspendedUntil } = r;
  return {
    agreed,
    disagreed,
    missed,
    inconclusive,
    unchecked: r.unchecked ?? 0,
    consecutiveValid,
    validByVersion: r.validByVersion ?? {},
    score: reputationScore(r),
    suspendedUntil,
  };
}

/** Jobs ASSIGNED to each provider right now (the sparse `leases` index). */
async function runningByProvider(deps: Deps): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const job of await deps.jobs.listLeased()) if (job.providerId) counts.set(job.providerId, (counts.get(job.providerId) ?? 0) + 1);
  return counts;
}

/** `GET /providers`: the caller's own providers, newest first (another user's are never listed). */
export async function listOwnProviders(deps: Deps, user: User) {
  const nowMs = clock(deps).getTime();
  const own = (await deps.providers.listProviders()).filter((p) => p.ownerId === user.userId);
  const running = own.length ? await runningByProvider(deps) : new Map<string, number>();
  const items = own.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((p) => providerView(deps, p, nowMs, running.get(p.providerId) ?? 0));
  return { items, heartbeatStaleS: deps.config.heartbeatStaleMs / 1000 };
}

/** `GET /providers/{id}`: one of the caller's providers; another user's answers 404 like an unknown id. */
export async function getOwnProviderView(deps: Deps, user: User, providerId: string) {
  const provider = await getOwnProvider(deps, user, providerId);
  const running = await runningByProvider(deps);
  return providerView(deps, provider, clock(deps).getTime(), running.get(providerId) ?? 0);
}
