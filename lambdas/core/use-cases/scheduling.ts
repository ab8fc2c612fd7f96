import { retryLater } from '../errors';
import type { FunctionRecord, IdempotencyRecord, JobRecord, ProviderRecord } from '../model';
import type { LedgerEvent } from '../ledger';
import { vcpuMillicores as toMilli } from '../pricing';
import { FairQueue, fits, isOnline, Need, onlineCapacity, rankProviders, SchedulerOptions } from '../scheduler';
import type { JobStartOutcome, WaitingJob } from '../ports';
import { LIMITS, type JobEnvelope } from '../../../contract/src';
import { Deps, now as clock, nowIso } from './context';
import { releaseHold } from './holds';
import { resultStorageFor } from './results';
import { deliver, injectFault } from '../faults';
import { placeSampled, sampledCandidates } from '../placement';
import { isSuspended, onProbation } from '../reputation';

/**
 * Placement and its failures: admit a job (bounded waiting), reserve capacity on a provider and
 * assign the job under a lease (conditional writes), sign and send its envelope; give freed
 * capacity to waiting jobs in Dominant Resource Fairness order; take a job back from a provider
 * whose lease lapsed (re-queue with attempt + 1, or FAILED after MAX_ATTEMPTS); fail jobs that
 * waited past MAX_WAIT_S.
 *
 * Every state change is a conditional write guarded by the job's status, provider and attempt, so
 * two controllers racing for one job (a heartbeat, a report, the reaper, a retried Lambda) change
 * it once, and capacity is released exactly by the writer whose transition succeeded.
 */

/** What a job reserves on its provider. */
export const needOf = (job: Pick<JobRecord, 'resources' | 'image' | 'functionId'>): Need => ({
  vcpuMilli: toMilli(job.resources.vcpu),
  memoryMb: job.resources.memoryMb,
  // Every job created since issue #23 carries its disk (invocations.ts); one created before reserved none.
  diskMb: job.resources.diskMb ?? 0,
  image: job.image,
  functionId: job.functionId,
});

const schedulerOptions = (deps: Deps, avoid?: readonly string[]): SchedulerOptions => ({
  now: clock(deps).getTime(),
  heartbeatStaleMs: deps.config.heartbeatStaleMs,
  avoid,
});

type Placement = { kind: 'assigned'; job: JobRecord } | { kind: 'no-capacity' } | { kind: 'gone' };

/**
 * Places a QUEUED job: ranks providers with the configured policy (providers that held the job
 * before come last), reserves capacity on the first that still fits (conditional write), moves the
 * job to ASSIGNED with a lease (conditional on QUEUED at this attempt), records it for the ledger
 * (`CreateJob`; for a re-queued job the same job with another provider), signs the envelope and
 * sends it to that provider's queue. `providers` is a snapshot the caller shares across several
 * placements; it is kept up to date with what this call reserves.
 */
async function place(deps: Deps, job: JobRecord, fn?: FunctionRecord, providers?: ProviderRecord[], freed?: ProviderRecord): Promise<Placement> {
  // A re-queue whose Lambda died before it gave the last provider's capacity back: give it back first.
  if (job.releaseFrom) await finishReclaim(deps, job);
  const need = needOf(job);
  const provider = await reserveSomewhere(deps, need, job.previousProviders, {
    snapshot: providers,
    excludedOwners: await replicaOwnersToAvoid(deps, job),
    unreplicated: job.replicaOf === undefined,
    freed,
  });
  if (!provider) return { kind: 'no-capacity' };
  const assignment = assignmentOn(deps, provider);
  let moved: boolean;
  try {
    moved = await deps.jobs.transition(job.jobId, ['QUEUED'], assignment, { attempt: job.attempt }, ['waitingShard']);
  } catch (err) {
    await releaseCapacity(deps, provider.providerId, need, provider);
    throw err;
  }
  if (!moved) {
    // Someone else placed (or failed) the job meanwhile: give the capacity back.
    await releaseCapacity(deps, provider.providerId, need, provider);
    return { kind: 'gone' };
  }
  const assigned: JobRecord = { ...job, ...assignment, waitingShard: undefined };
  injectFault('place.afterAssign');
  // The envelope is signed while the ledger event is appended; it is sent only once both are done,
  // so the job is on the outbox before any provider can run it (and report it).
  const signed = buildSignedEnvelope(deps, assigned, provider, fn);
  signed.catch(() => undefined); // awaited below; a failure there is handled there
  await deps.outbox.append(job.jobId, [createJobEvent(deps, job, provider.providerId, assignment.assignedAt)], { lane: job.developerId });
  await sendEnvelope(deps, assigned, provider, signed);
  return { kind: 'assigned', job: assigned };
}

/** What a job placed on `provider` now changes: ASSIGNED, under a lease of `leaseS`. */
function assignmentOn(deps: Deps, provider: ProviderRecord) {
  const now = clock(deps);
  return {
    status: 'ASSIGNED' as const,
    providerId: provider.providerId,
    assignedAt: now.toISOString(),
    leaseShard: 'l',
    leaseExpiresAt: new Date(now.getTime() + deps.config.scheduling.leaseS * 1000).toISOString(),
  };
}

/** The ledger's record of an assigned job (for a re-queued job: the same job, with another provider). */
function createJobEvent(deps: Deps, job: JobRecord, providerId: string, assignedAt: string): LedgerEvent {
  return {
    type: 'CreateJob',
    jobId: job.jobId,
    developerId: job.developerId,
    providerId,
    functionId: job.functionId,
    functionVersion: job.functionVersion,
    resources: job.resources,
    // The units the job was created under (billing.ts); jobs from before versioned prices use the configured ones.
    billing: job.billingUnits ?? deps.config.billing,
    maxCost: job.maxCost,
    assignedAt,
    ...(job.replicaOf === undefined ? {} : { replicaOf: job.replicaOf }),
  };
}

/** Sends an assigned job's envelope to its provider's queue; one that cannot be sent is left to its lease (the reaper re-queues it). */
async function sendEnvelope(deps: Deps, job: JobRecord, provider: ProviderRecord, signed: ReturnType<typeof buildSignedEnvelope>): Promise<void> {
  injectFault('place.beforeSend');
  try {
    const body = JSON.stringify(await signed);
    await deliver(
      () => deps.queues.send(provider.queueUrl, body),
      (err) => deps.telemetry.error('a late job envelope could not be sent; its lease will re-queue it', { jobId: job.jobId, providerId: provider.providerId, error: String(err) }),
    );
  } catch (err) {
    // The job is ASSIGNED under a lease that nobody renews: the reaper re-queues it when it lapses.
    deps.telemetry.error('could not send a job envelope; its lease will re-queue it', { jobId: job.jobId, providerId: provider.providerId, error: String(err) });
  }
}

export type Started = { kind: 'started'; job: JobRecord } | { kind: 'replayed'; existing: IdempotencyRecord } | { kind: 'unplaced' };

/**
 * Issue #16: a new job (not yet written) placed as it is created. Capacity is reserved on a
 * provider first (as `place` does); then the job, already ASSIGNED under its lease, its hold of
 * `holdAmount`, its `CreateJob` entry and its idempotency record are one transaction
 * (`deps.starts`), and the envelope (signed meanwhile) is sent. `unplaced`: nothing was written
 * (no provider had room, or the balance did not cover the hold) and the capacity is back; the
 * caller then takes the step-by-step path (hold, job QUEUED, `dispatch`), which waits for a new
 * account's credit, explains a refused hold, and lets the job wait for room. `replayed`: the
 * idempotency key was used before; nothing was written.
 */
export async function startPlaced(
  deps: Deps,
  job: JobRecord,
  fn: FunctionRecord,
  { holdAmount, idem }: { holdAmount?: number; idem?: IdempotencyRecord },
): Promise<Started> {
  if (!deps.starts) return { kind: 'unplaced' };
  const need = needOf(job);
  const provider = await reserveSomewhere(deps, need, undefined);
  if (!provider) return { kind: 'unplaced' };
  const { waitingShard: _unplaced, ...created } = job;
  const assignment = assignmentOn(deps, provider);
  const assigned: JobRecord = { ...created, ...assignment, ...(holdAmount === undefined ? {} : { holdAmount }) };
  const signed = buildSignedEnvelope(deps, assigned, provider, fn);
  signed.catch(() => undefined); // awaited by sendEnvelope, or not at all when nothing was written
  let outcome: JobStartOutcome;
  try {
    outcome = await deps.starts.start(assigned, {
      hold: holdAmount === undefined ? undefined : { amount: holdAmount, at: job.createdAt },
      events: [createJobEvent(deps, job, provider.providerId, assignment.assignedAt)],
      route: { lane: job.developerId },
      idem,
    });
  } catch (err) {
    await releaseCapacity(deps, provider.providerId, need, provider);
    throw err;
  }
  if (outcome.kind !== 'started') {
    await releaseCapacity(deps, provider.providerId, need, provider);
    return outcome.kind === 'replayed' ? outcome : { kind: 'unplaced' };
  }
  await sendEnvelope(deps, assigned, provider, signed);
  return { kind: 'started', job: assigned };
}

/**
 * Reserves `need` on a provider and returns it (its record counts the reservation), or undefined
 * when none had room. With the `sampled` policy and no shared snapshot, the candidates are a few
 * sampled from the index, in a few rounds (placement.ts#placeSampled: a cost that does not grow
 * with the number of providers); otherwise the policy's ranking of the snapshot, or of every
 * provider. Each reserve is a conditional write, so a stale view never oversubscribes.
 */
async function reserveSomewhere(
  deps: Deps,
  need: Need,
  avoid: readonly string[] | undefined,
  {
    snapshot,
    excludedOwners,
    unreplicated = true,
    freed,
  }: {
    /** A shared view of the providers (placing waiting jobs); absent: the policy's own reading. */
    snapshot?: ProviderRecord[];
    /** Owners already holding a replica of this job (issue #19). */
    excludedOwners?: ReadonlySet<string>;
    /** A job nobody checks: never on a provider on probation (issue #19). */
    unreplicated?: boolean;
    /** The provider a report just freed, tried first (late binding, issue #24). */
    freed?: ProviderRecord;
  } = {},
): Promise<ProviderRecord | undefined> {
  const opts = schedulerOptions(deps, avoid);
  const probation = deps.config.probationResults ?? 0;
  // Issue #19: jobs each provider holds now, read once per placement, only when one on probation is considered.
  let holding: Map<string, number> | undefined;
  const held = async (providerId: string) => {
    holding ??= (await deps.jobs.listLeased()).reduce((m, j) => (j.providerId ? m.set(j.providerId, (m.get(j.providerId) ?? 0) + 1) : m), new Map<string, number>());
    return holding.get(providerId) ?? 0;
  };
  const reserve = async (provider: ProviderRecord) => {
    // Issue #19: never a second replica of one job on machines of one owner; nothing on a suspended
    // provider; a job nobody checks never on a provider on probation, and one on probation holds at most PROBATION_QUOTA jobs.
    if (excludedOwners?.has(provider.ownerId) || isSuspended(provider.reputation, opts.now)) return false;
    if (probation > 0 && onProbation(provider.reputation, probation)) {
      if (unreplicated) return false;
      const quota = deps.config.probationQuota ?? 0;
      if (quota > 0 && (await held(provider.providerId)) >= quota) return false;
    }
    if (!(await deps.providers.reserve(provider, need.vcpuMilli, need.memoryMb, need.diskMb ?? 0))) {
      // The view was stale: someone else reserved there meanwhile. Refresh it for the next job.
      const fresh = await deps.providers.getProvider(provider.providerId);
      if (fresh) Object.assign(provider, fresh);
      return false;
    }
    if (holding) holding.set(provider.providerId, (holding.get(provider.providerId) ?? 0) + 1);
    provider.reservedVcpuMilli += need.vcpuMilli;
    provider.reservedMemoryMb += need.memoryMb;
    provider.reservedDiskMb = (provider.reservedDiskMb ?? 0) + (need.diskMb ?? 0);
    return true;
  };
  // Late binding (issue #24): the provider a report just freed is tried first, before any sample;
  // `reserve` keeps its record current, so once it is full the jobs after sample as usual.
  if (freed && !avoid?.includes(freed.providerId) && isOnline(freed, opts) && fits(freed, need) && (await reserve(freed))) {
    if (!fits(freed, need)) deps.providers.taken(need.functionId, freed.providerId);
    return freed;
  }
  if (deps.config.policy === 'sampled' && !snapshot) return (await placeSampled(deps.providers, need, { ...opts, random: Math.random }, reserve)).provider;
  const reserveRanked = async (providers: ProviderRecord[]) => {
    for (const provider of rankProviders(deps.config.policy, providers, need, opts)) {
      if (await reserve(provider)) {
        deps.providers.taken(need.functionId, provider.providerId);
        return provider;
      }
    }
    return undefined;
  };
  if (snapshot) return reserveRanked(snapshot);
  // This controller's recent listing first; only if nothing in it had room, a fresh one (a provider
  // may have come online or freed capacity since): staleness costs a listing, never a wrong or later placement.
  const view = await recentProviders(deps);
  return (await reserveRanked(view.providers)) ?? (view.fresh ? undefined : reserveRanked((await recentProviders(deps, true)).providers));
}

/**
 * How long an invocation places on the providers as this controller listed them, rather than
 * listing them again (issue #16: two listings per invocation were most of placement's reads). The
 * listing is per process (a Lambda sandbox, the local platform); its records follow what this
 * process reserves and releases. A stale record only costs a failed conditional reserve (which
 * re-reads that provider) or, when the listing shows no room, a fresh listing.
 */
export const PROVIDER_SNAPSHOT_MS = 1000;
let snapshot: { at: number; providers: ProviderRecord[] } | undefined;

/** The providers as listed at most PROVIDER_SNAPSHOT_MS ago, or listed now (`fresh`, and always when asked for). */
async function recentProviders(deps: Deps, fresh = false): Promise<{ providers: ProviderRecord[]; fresh: boolean }> {
  if (!fresh && snapshot && Date.now() - snapshot.at < PROVIDER_SNAPSHOT_MS) return { providers: snapshot.providers, fresh: false };
  const providers = await deps.providers.listProviders();
  snapshot = { at: Date.now(), providers };
  return { providers, fresh: true };
}

/**
 * Issue #19: the owners a replica must not be placed with: those of the providers its sibling
 * replicas are, or were, assigned to (read fresh, so a replacement avoids every owner already
 * in the group). Undefined for a job that is not a replica.
 */
async function replicaOwnersToAvoid(deps: Deps, job: JobRecord): Promise<ReadonlySet<string> | undefined> {
  if (job.replicaOf === undefined) return undefined;
  const group = await deps.jobs.getJob(job.replicaOf);
  const owners = new Set<string>();
  for (const siblingId of group?.replication?.replicaIds ?? []) {
    if (siblingId === job.jobId) continue;
    const sibling = await deps.jobs.getJob(siblingId);
    for (const providerId of [sibling?.providerId, ...(sibling?.previousProviders ?? [])]) {
      if (providerId === undefined) continue;
      const owner = (await deps.providers.getProvider(providerId))?.ownerId;
      if (owner !== undefined) owners.add(owner);
    }
  }
  return owners;
}

/** Places a QUEUED job now if some provider has room; returns the assigned job, or undefined (it stays QUEUED). */
export async function dispatch(deps: Deps, job: JobRecord, fn?: FunctionRecord): Promise<JobRecord | undefined> {
  const placement = await place(deps, job, fn);
  return placement.kind === 'assigned' ? placement.job : undefined;
}

async function buildSignedEnvelope(deps: Deps, job: JobRecord, provider: ProviderRecord, fn?: FunctionRecord) {
  const now = clock(deps);
  const ttl = deps.config.presignTtlS;
  const storage = await resultStorageFor(deps, job);
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
    // The version the job was created with, even if the function was updated while it waited.
    env: (fn?.version === job.functionVersion ? fn.env : (await deps.functions.getFunctionVersion(job.functionId, job.functionVersion))?.env) ?? {},
    input: await envelopeInput(deps, job),
    resultPutUrl: await storage.presignPut(job.resultKey, ttl),
    logPutUrl: await storage.presignPut(job.logKey, ttl),
    issuedAt: now.toISOString(),
    startBy: new Date(now.getTime() + ttl * 1000).toISOString(),
    attempt: job.attempt,
    ...(job.concurrency !== undefined && job.concurrency > 1 ? { concurrency: job.concurrency } : {}),
    // A small result may come back in the report (no object, no PUT/HEAD/GET); never for results the developer's bucket keeps.
    ...(job.resultBucket ? {} : { inlineResultMaxBytes: LIMITS.maxInlineResultBytes }),
    ...(job.compare ? { compare: job.compare } : {}),
  };
  const { signature, keyId } = await deps.signer.sign(envelope);
  return { envelope, signature, keyId };
}

/**
 * The envelope's input for a job: inline base64, or (uploaded input) a presigned GET with the
 * size the agent checks.
 */
export async function envelopeInput(deps: Pick<Deps, 'storage' | 'config'>, job: JobRecord): Promise<JobEnvelope['input']> {
  if (job.inputKey === undefined) return { kind: 'inline', base64: job.inputBase64 };
  return { kind: 'url', url: await deps.storage.presignGet(job.inputKey, deps.config.presignTtlS), size: job.inputSize ?? 0 };
}

/** How old the online capacity behind DRF's shares may be under the `sampled` policy (one listing per process per this). */
export const CAPACITY_MAX_AGE_MS = 60_000;

/**
 * Gives free capacity to waiting jobs in Dominant Resource Fairness order across developers
 * (`FairQueue`): the next job is the oldest of the developer whose running jobs hold the smallest
 * dominant share of the online capacity; a developer whose oldest job fits nowhere sits out the
 * pass. Called when capacity frees (a report), when it appears (a heartbeat) and by the reaper.
 * Returns how many jobs it placed.
 *
 * Under the `sampled` policy it reads no provider listing per call (issue #24): each job is placed
 * by `placeSampled` (a developer whose job finds no room in its sample sits out the pass), and the
 * shares' denominator is the online capacity from a listing at most `CAPACITY_MAX_AGE_MS` old.
 * A report passes the provider it freed (`freedProviderId`): that provider, known to have room,
 * is offered first to each job in DRF order (late binding), so the freed room does not wait for a
 * sample to find it.
 */
export async function dispatchWaiting(deps: Deps, limit = 50, freedProviderId?: string): Promise<number> {
  const waiting = await deps.jobs.listWaitingUpTo(deps.config.scheduling.maxWaitingTotal);
  if (waiting.length === 0) return 0;
  const opts = schedulerOptions(deps);
  const sampled = deps.config.policy === 'sampled';
  // Late binding (issue #24, sampled policy): a report freed room on this provider, so the waiting
  // jobs, in DRF order, try it first: one read, and no sample for the jobs it takes.
  const freed = sampled && freedProviderId ? await deps.providers.getProvider(freedProviderId) : undefined;
  const online = sampled ? undefined : (await deps.providers.listProviders()).filter((p) => isOnline(p, opts));
  const fitsSomewhere = (job: WaitingJob) => !online || online.some((p) => fits(p, needOf(job)));
  if (!waiting.some(fitsSomewhere)) return 0;
  const running = await deps.jobs.listLeased();
  const queue = new FairQueue(
    waiting.map((job) => ({ jobId: job.jobId, developerId: job.developerId, createdAt: job.createdAt, need: needOf(job), job })),
    running.map((job) => ({ developerId: job.developerId, need: needOf(job) })),
    online ? onlineCapacity(online, opts) : await deps.providers.onlineCapacity(opts, CAPACITY_MAX_AGE_MS),
  );
  let placed = 0;
  for (let next = queue.next(); next && placed < limit; next = queue.next()) {
    if (!fitsSomewhere(next.job)) {
      queue.skip(next);
      continue;
    }
    // The index holds what the choice needs; the job itself (input and all) is read only now.
    const job = await deps.jobs.getJob(next.job.jobId);
    if (!job || job.status !== 'QUEUED' || job.attempt !== next.job.attempt) {
      queue.gone(next);
      continue;
    }
    const placement = await place(deps, job, undefined, online, freed);
    if (placement.kind === 'assigned') {
      queue.placed(next);
      placed++;
    } else if (placement.kind === 'gone') queue.gone(next);
    else queue.skip(next);
  }
  return placed;
}

/**
 * Admission: a job may wait for capacity only while its developer has fewer than
 * MAX_WAITING_PER_DEVELOPER jobs waiting and the platform fewer than MAX_WAITING_TOTAL. At a bound
 * a job that can start at once is still accepted; one that would wait is refused with 429 (the
 * developer's bound) or 503 (the platform's), both with Retry-After. The count is read, not
 * reserved: concurrent invocations at the bound may pass it by their number.
 */
export async function admit(deps: Deps, job: JobRecord): Promise<void> {
  const { maxWaitingPerDeveloper, maxWaitingTotal, retryAfterS } = deps.config.scheduling;
  const opts = schedulerOptions(deps);
  const need = needOf(job);
  if (deps.config.policy === 'sampled') {
    if ((await sampledCandidates(deps.providers, need, { ...opts, random: Math.random })).ranked.length > 0) return;
  } else {
    const hasRoom = (providers: ProviderRecord[]) => providers.some((p) => isOnline(p, opts) && fits(p, need));
    const view = await recentProviders(deps);
    if (hasRoom(view.providers) || (!view.fresh && hasRoom((await recentProviders(deps, true)).providers))) return;
  }
  const waiting = await deps.jobs.countWaiting(job.developerId);
  if (waiting.developer >= maxWaitingPerDeveloper) {
    throw retryLater(
      'too_many_requests',
      `no provider has room for this job now and ${waiting.developer} of your jobs already wait for capacity, the most one developer may have waiting (${maxWaitingPerDeveloper}); try again once some have started`,
      retryAfterS,
      { waiting: waiting.developer, limit: maxWaitingPerDeveloper },
    );
  }
  if (waiting.total >= maxWaitingTotal) {
    throw retryLater(
      'no_capacity',
      `no provider has room for this job now and ${waiting.total} jobs already wait for capacity, the most the platform keeps waiting (${maxWaitingTotal}); try again later`,
      retryAfterS,
      { waiting: waiting.total, limit: maxWaitingTotal },
    );
  }
}

/** Gives capacity back; a release that finds less reserved than it returns is logged, not thrown (it must not block a transition already made). */
async function releaseCapacity(deps: Deps, providerId: string, need: Pick<Need, 'vcpuMilli' | 'memoryMb' | 'diskMb'>, snapshot?: ProviderRecord): Promise<void> {
  try {
    await deps.providers.release(providerId, need.vcpuMilli, need.memoryMb, need.diskMb ?? 0);
    if (snapshot) {
      snapshot.reservedVcpuMilli -= need.vcpuMilli;
      snapshot.reservedMemoryMb -= need.memoryMb;
      snapshot.reservedDiskMb = (snapshot.reservedDiskMb ?? 0) - (need.diskMb ?? 0);
    }
  } catch (err) {
    deps.telemetry.error('could not release capacity', { providerId, need, error: String(err) });
  }
}

/** Releases a finished job's capacity on its provider (after the transition that finished it); this process's listing follows. */
export async function releaseJob(deps: Deps, job: JobRecord, providerId: string): Promise<void> {
  const need = needOf(job);
  await releaseCapacity(deps, providerId, need);
  const listed = snapshot?.providers.find((p) => p.providerId === providerId);
  if (listed) {
    listed.reservedVcpuMilli = Math.max(0, listed.reservedVcpuMilli - need.vcpuMilli);
    listed.reservedMemoryMb = Math.max(0, listed.reservedMemoryMb - need.memoryMb);
  }
  deps.providers.freed(job.functionId, providerId);
}

export type Reclaimed = { outcome: 'requeued'; job: JobRecord } | { outcome: 'failed'; reason: string } | { outcome: 'gone' };

/**
 * Takes an ASSIGNED job back from its provider (its lease lapsed, or its message was
 * dead-lettered): below MAX_ATTEMPTS it goes back to QUEUED at attempt + 1, remembering the
 * provider so that the next placement prefers another one; at MAX_ATTEMPTS it is FAILED with
 * `reason`, and `FailJob` goes to the ledger. Both are conditional on the job still being
 * ASSIGNED to that provider at that attempt, so a report that won the race, or another reaper,
 * leaves it alone (`gone`). The provider's capacity is released by whoever moved the job. A late
 * report for the old attempt is refused (`acceptReport`). The caller then runs `dispatchWaiting`,
 * which places re-queued jobs in fairness order (they keep their age).
 */
export async function reclaim(deps: Deps, job: JobRecord, reason: string): Promise<Reclaimed> {
  const providerId = job.providerId;
  if (job.status !== 'ASSIGNED' || !providerId) return { outcome: 'gone' };
  const at = nowIso(deps);
  const guard = { providerId, attempt: job.attempt };
  const { maxAttempts } = deps.config.scheduling;
  // Issue #19: a replica is never re-queued: it FAILS (its provider missed it, on the ledger too) and its group replaces it on another owner.
  if (job.attempt >= maxAttempts || job.replicaOf !== undefined) {
    const failure =
      job.replicaOf !== undefined
        ? `${reason}; a replica is not re-queued: its job ${job.replicaOf} replaces it on another owner's provider`
        : `${reason}; gave up after ${job.attempt} attempt${job.attempt === 1 ? '' : 's'} (at most ${maxAttempts})`;
    // The lapsed lease stays until finishReclaim: were this Lambda to die before that, the reaper finds the job again.
    const failed = { status: 'FAILED' as const, reason: failure, finishedAt: at, releaseFrom: providerId };
    if (!(await deps.jobs.transition(job.jobId, ['ASSIGNED'], failed, guard))) {
      return { outcome: 'gone' };
    }
    deps.telemetry.jobFinished('failed');
    await deps.waiter?.notify(job);
    injectFault('reclaim.afterTransition');
    await finishReclaim(deps, { ...job, ...failed });
    return { outcome: 'failed', reason: failure };
  }
  const requeue = {
    status: 'QUEUED' as const,
    attempt: job.attempt + 1,
    waitingShard: 'w',
    queuedAt: at,
    previousProviders: [...(job.previousProviders ?? []), providerId],
    requeueReason: reason,
    releaseFrom: providerId,
  };
  if (!(await deps.jobs.transition(job.jobId, ['ASSIGNED'], requeue, guard, ['leaseShard', 'leaseExpiresAt', 'providerId', 'assignedAt']))) {
    return { outcome: 'gone' };
  }
  injectFault('reclaim.afterTransition');
  const requeued: JobRecord = { ...job, ...requeue };
  for (const gone of ['providerId', 'assignedAt', 'leaseShard', 'leaseExpiresAt'] as const) delete requeued[gone];
  await finishReclaim(deps, requeued);
  delete requeued.releaseFrom;
  return { outcome: 'requeued', job: requeued };
}

/**
 * What follows a reclaim's transition: for a FAILED job `FailJob` (appended at least once; the
 * ledger takes the same reason again as a duplicate) and its hold back (once, by the store); then
 * the provider's capacity, released at most once, by whoever removes `releaseFrom` (a conditional
 * write that also drops a FAILED job's lapsed lease). Called by reclaim itself, and after a crash
 * by the reaper (a FAILED job still in the leases index) or by the next placement (a re-queued job).
 */
export async function finishReclaim(deps: Deps, job: JobRecord): Promise<void> {
  const providerId = job.releaseFrom;
  if (!providerId) return;
  if (job.status === 'FAILED') {
    await deps.outbox.append(job.jobId, [{ type: 'FailJob', jobId: job.jobId, reason: job.reason ?? 'failed' }], { lane: job.developerId });
    // A failed job charges nothing: its hold goes back to the developer's available balance.
    await releaseHold(deps, job.jobId);
  }
  const remove: (keyof JobRecord)[] = job.status === 'FAILED' ? ['releaseFrom', 'leaseShard', 'leaseExpiresAt'] : ['releaseFrom'];
  if (await deps.jobs.transition(job.jobId, [job.status], {}, { present: 'releaseFrom' }, remove)) await releaseJob(deps, job, providerId);
}

/**
 * FAILS jobs that waited for capacity longer than MAX_WAIT_S (0: never), with a reason naming
 * what they needed; `onFailed` follows each (the reaper: a replica's group may be complete, issue #19). A job that never ran is not on the ledger; one that was re-queued is, and
 * gets `FailJob`. Returns how many it failed.
 */
export async function expireWaiting(deps: Deps, onFailed?: (job: WaitingJob) => Promise<void>): Promise<number> {
  const { maxWaitS, maxWaitingTotal } = deps.config.scheduling;
  if (maxWaitS === 0) return 0;
  const now = clock(deps);
  const cutoff = new Date(now.getTime() - maxWaitS * 1000).toISOString();
  let failed = 0;
  for (const job of await deps.jobs.listWaitingUpTo(maxWaitingTotal)) {
    if ((job.queuedAt ?? job.createdAt) >= cutoff) continue;
    const reason =
      `no provider had room for ${job.resources.vcpu} vCPU and ${job.resources.memoryMb} MB within ${maxWaitS}s of waiting` +
      (job.requeueReason ? ` (re-queued at attempt ${job.attempt} because ${job.requeueReason})` : '');
    const moved = await deps.jobs.transition(job.jobId, ['QUEUED'], { status: 'FAILED', reason, finishedAt: now.toISOString() }, { attempt: job.attempt }, ['waitingShard']);
    if (!moved) continue;
    deps.telemetry.jobFinished('failed');
    await deps.waiter?.notify(job);
    failed++;
    if (job.previousProviders?.length) await deps.outbox.append(job.jobId, [{ type: 'FailJob', jobId: job.jobId, reason }], { lane: job.developerId });
    await releaseHold(deps, job.jobId);
    await onFailed?.(job);
  }
  return failed;
}
