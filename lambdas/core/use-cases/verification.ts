import { LIMITS, type CompareRule } from '../../../contract/src';
import { DomainError } from '../errors';
import type { FunctionRecord, JobRecord, ReplicationState } from '../model';
import { TERMINAL } from '../model';
import { newId } from '../passwords';
import { applyOutcome, EMPTY_REPUTATION, replicationChance, versionKey, type Outcome } from '../reputation';
import { Deps, nowIso } from './context';
import { holdForJob, releaseHold } from './holds';
import { dispatch } from './scheduling';

/**
 * Replicated jobs (issue #19): a function whose verification policy is `replicate` runs each job
 * as `k` replicas, each a job of its own (`replicaOf`) on a provider of a distinct owner
 * (scheduling.ts#replicaOwnersToAvoid). The job the caller sees is never placed itself: it ends
 * when the replicas' results are decided.
 *
 * - Before the job is written, one hold per replica reserves `k` × the worst case (402 if the
 *   balance does not cover it); each replica's hold goes back when the ledger settles it or when
 *   it fails, as any job's does.
 * - Each provider signs its report, which names the job, itself and the result's SHA-256 (the
 *   commitment); no provider ever gets another replica's result or its links.
 * - When every replica started has ended (`replicaEnded`, after an accepted report or a final
 *   reclaim), the controller counts one vote per owner for each result hash. A hash with `quorum`
 *   owners (and more than any other hash) wins: the job SUCCEEDS with that result. Otherwise,
 *   below `maxReplicas`, one more replica runs (a replacement for a disagreeing or missing one);
 *   at `maxReplicas` the job FAILS with the reason. Either way the decision goes to the ledger
 *   (`DecideReplicas`), which decides again from the signed reports it holds and moves the money
 *   (chaincode/src/verification.ts): agreeing providers are paid the median of their billed times,
 *   the others nothing, and nobody without a quorum.
 */

type Replicate = Extract<NonNullable<FunctionRecord['verification']>, { mode: 'replicate' }>;

/** How a spot-checked job is replicated. */
export const SPOT_CHECK = { k: 2, quorum: 2, maxReplicas: 3 } as const;

/** The replication a job gets before its holds: its state without replica ids, and its deadline in seconds from the invocation. */
export type ReplicationPlan = Omit<ReplicationState, 'replicaIds' | 'deadlineAt'> & { deadlineS: number };

/** Most replicas one job may ever start, replacements for missing ones included (the ledger decides over at most 16). */
export const MAX_STARTED = 2 * LIMITS.maxReplicas;

/** A function's replication deadline when it declares none: 4 × its timeout, at least 300 s. */
export const defaultDeadlineS = (fn: FunctionRecord) => Math.max(300, 4 * fn.resources.timeoutS);

/**
 * The replication this job gets, defaults filled in, or undefined when it runs on one provider.
 * `spot-check` draws here, on the controller, with `random`: nothing in a job's envelope says
 * whether it was drawn.
 */
export function replicationPolicy(fn: FunctionRecord, random: () => number = Math.random): ReplicationPlan | undefined {
  const policy = fn.verification;
  const deadlineS = (policy?.mode === 'replicate' ? policy.deadlineS : undefined) ?? defaultDeadlineS(fn);
  if (policy?.mode === 'spot-check') return random() < policy.fraction ? { mode: 'spot-check', ...SPOT_CHECK, ...compareOf(policy), ...respondOf(policy), deadlineS } : undefined;
  if (policy?.mode !== 'replicate') return undefined;
  return {
    k: policy.k,
    quorum: policy.quorum ?? majority(policy),
    maxReplicas: policy.maxReplicas ?? policy.k,
    ...(policy.extra ? { extra: policy.extra } : {}),
    ...(policy.adaptive ? { adaptive: true as const } : {}),
    ...compareOf(policy),
    ...respondOf(policy),
    deadlineS,
  };
}

const compareOf = (policy: { compare?: CompareRule }) => (policy.compare ? { compare: policy.compare } : {});
const respondOf = (policy: { respond?: 'quorum' | 'first' }) => (policy.respond === 'first' ? { respond: 'first' as const } : {});

/** The hash a replica votes with: the comparison hash its provider signed under a declared rule, else its result's SHA-256. */
export const voteHash = (r: JobRecord): string | undefined => r.compareSha256 ?? r.resultSha256;

const majority = (policy: Replicate) => Math.max(2, Math.floor(policy.k / 2) + 1);

/**
 * Places the holds of the first round's replicas (the job's own `maxCost` each) and returns the
 * replication state the job is written with. All or nothing: a hold that fails gives back the ones
 * placed and answers 402 naming the whole amount.
 */
export async function holdReplicas(deps: Deps, job: JobRecord, plan: ReplicationPlan): Promise<ReplicationState> {
  const { deadlineS, ...policy } = plan;
  const first = policy.k + (policy.extra ?? 0);
  const replicaIds = Array.from({ length: first }, () => newId('job'));
  const held: string[] = [];
  try {
    for (const replicaId of replicaIds) {
      await holdForJob(deps, replicaRecord(job, replicaId));
      held.push(replicaId);
    }
  } catch (err) {
    for (const replicaId of held) await releaseHold(deps, replicaId);
    if (err instanceof DomainError && err.code === 'insufficient_funds') {
      throw new DomainError(
        'insufficient_funds',
        `this function is replicated on ${first} providers, so an invocation holds ${first} × its worst case (${first * job.maxCost} micro-credits): ${err.message}`,
        undefined,
        { ...(err.details ?? {}), required: first * job.maxCost, replicas: first },
      );
    }
    throw err;
  }
  return { ...policy, replicaIds, deadlineAt: new Date(Date.parse(job.createdAt) + deadlineS * 1000).toISOString() };
}

/** A replica of `group`: the same function, version, input and price cap; its own id, result and log; no callback. */
function replicaRecord(group: JobRecord, jobId: string): JobRecord {
  const replica: JobRecord = {
    ...group,
    jobId,
    replicaOf: group.jobId,
    status: 'QUEUED',
    attempt: 1,
    waitingShard: 'w',
    resultKey: `results/${jobId}/result`,
    logKey: `results/${jobId}/log`,
    holdAmount: group.maxCost,
    ...(group.replication?.compare ? { compare: group.replication.compare } : {}),
  };
  for (const key of ['replication', 'callbackUrl', 'callbackShard', 'callbackDueAt', 'callbackAttempts'] as const) delete replica[key];
  return replica;
}

/**
 * Writes and places the replicas the group lists that do not exist yet. A replica that finds no
 * room waits like any job, and is placed later on an owner its siblings do not have.
 */
export async function startReplicas(deps: Deps, group: JobRecord, fn?: FunctionRecord): Promise<void> {
  const state = group.replication;
  if (state?.adaptive && state.trusted === undefined && state.replicaIds.length > 1 && !(await deps.jobs.getJob(state.replicaIds[0] as string))) {
    if (await startAlone(deps, group, fn)) return;
  }
  for (const replicaId of group.replication?.replicaIds ?? []) {
    if (await deps.jobs.getJob(replicaId)) continue;
    const replica = replicaRecord(group, replicaId);
    await deps.jobs.createJob(replica);
    deps.telemetry.jobCreated();
    await dispatch(deps, replica, fn);
  }
}

/**
 * Adaptive replication (BOINC's): the first replica is placed before the others. On a provider
 * trusted for this function version (reputation.ts#replicationChance: TRUST_AFTER agreements in a
 * row there), the job is checked only with chance 1 / that count, drawn here; otherwise it runs
 * alone: the group keeps that one replica, decided with quorum 1 (the ledger records `unchecked`,
 * which earns no trust), and the other replicas' holds go back. True when it runs alone. A first
 * replica that waits for room, or a provider not trusted, gets the full replication.
 */
async function startAlone(deps: Deps, group: JobRecord, fn?: FunctionRecord): Promise<boolean> {
  const state = group.replication as ReplicationState;
  const [firstId, ...rest] = state.replicaIds as [string, ...string[]];
  const replica = replicaRecord(group, firstId);
  await deps.jobs.createJob(replica);
  deps.telemetry.jobCreated();
  const placed = await dispatch(deps, replica, fn);
  if (placed?.providerId === undefined) return false;
  const reputation = (await deps.providers.getProvider(placed.providerId))?.reputation;
  const version = versionKey(group.functionId, group.functionVersion);
  const chance = replicationChance(reputation, version);
  if (chance >= 1 || Math.random() < chance) return false;
  const alone = { ...state, replicaIds: [firstId], trusted: { providerId: placed.providerId, validRuns: reputation?.validByVersion?.[version] ?? 0 } };
  if (!(await deps.jobs.transition(group.jobId, [group.status], { attempt: group.attempt + 1, replication: alone }, { attempt: group.attempt }))) return false;
  for (const id of rest) await releaseHold(deps, id);
  // The replica may have ended already, while the group still listed the others.
  await replicaEnded(deps, group.jobId);
  return true;
}

/** The quorum the group is decided with: 1 for a job run alone on trust (until a replacement joins it), else the policy's. */
export const quorumOf = (state: ReplicationState): number => (state.trusted !== undefined && state.replicaIds.length === 1 ? 1 : state.quorum);

interface Tally {
  winner?: string;
  /** Result hash → owners whose providers signed it. */
  votes: Map<string, Set<string>>;
}

/** One vote per owner for each result hash of a succeeded replica (the ledger counts the same way, by payout account). */
async function tally(deps: Deps, replicas: JobRecord[], quorum: number): Promise<Tally> {
  const votes = new Map<string, Set<string>>();
  for (const r of replicas) {
    const hash = voteHash(r);
    if (r.status !== 'SUCCEEDED' || hash === undefined || r.providerId === undefined) continue;
    const owner = (await deps.providers.getProvider(r.providerId))?.ownerId;
    if (owner === undefined) continue;
    votes.set(hash, (votes.get(hash) ?? new Set()).add(owner));
  }
  const ranked = [...votes.entries()].map(([hash, owners]) => ({ hash, n: owners.size })).sort((a, b) => b.n - a.n);
  const top = ranked[0];
  const winner = top !== undefined && top.n >= quorum && (ranked[1]?.n ?? 0) < top.n ? top.hash : undefined;
  return { winner, votes };
}

/** The lower median of the agreeing replicas' run times (what each of them is paid for). */
function lowerMedian(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

/**
 * A replica of `groupId` ended (its report was accepted, or it was failed for good). When every
 * replica started has ended: decide, or start one more. Safe to call again and from several
 * places at once: each change of the group is a conditional write on its status and `attempt`
 * (used as the group's version), and the ledger takes the same decision again as a duplicate.
 */
export async function replicaEnded(deps: Deps, groupId: string): Promise<void> {
  const group = await deps.jobs.getJob(groupId);
  const state = group?.replication;
  if (!group || !state) return;
  const replicas = (await Promise.all(state.replicaIds.map((id) => deps.jobs.getJob(id)))).filter((r): r is JobRecord => r !== undefined);
  if (state.decision !== undefined) {
    // Decided before (a retried report): the ledger event again, which the ledger takes as a duplicate.
    await appendDecision(deps, group, replicas);
    await queueVerdict(deps, group);
    return;
  }
  // Undecided and ended: only a job answered unverified, which its decision still confirms or overturns.
  if (TERMINAL.includes(group.status) && state.provisional === undefined) return;
  if (state.respond === 'first' && state.provisional === undefined) {
    const first = replicas.find((r) => r.status === 'SUCCEEDED' && voteHash(r) !== undefined);
    // The first result goes out at once; then the decision is taken as usual (the group's version moved on).
    if (first) return answerUnverified(deps, group, first);
  }
  if (replicas.length < state.replicaIds.length) return;
  // A job answered unverified is SUCCEEDED until its decision; one waiting for its quorum, QUEUED.
  const from = [group.status];
  const at = nowIso(deps);
  // Replicas that ended without a result: their provider went silent (a replica is never re-queued,
  // scheduling.ts#reclaim) or nobody had room. They never count against `maxReplicas`.
  const missed = replicas.filter((r) => TERMINAL.includes(r.status) && r.reportAcceptedAt === undefined);
  const late = state.deadlineAt !== undefined && at >= state.deadlineAt;
  const canStart = !late && state.replicaIds.length < MAX_STARTED;
  if (replicas.some((r) => !TERMINAL.includes(r.status))) {
    // Still running: a missing replica is replaced at once, on another owner, when fewer than k may
    // still answer (with `extra`, the first round's spares absorb misses without a replacement).
    const open = state.replicaIds.length - missed.length;
    // A job run alone on trust needs its one replica only (quorumOf: 1).
    if (open < (quorumOf(state) === 1 ? 1 : state.k) && canStart) await addReplica(deps, group, replicas, from, at);
    return;
  }
  const { winner, votes } = await tally(deps, replicas, quorumOf(state));
  if (winner !== undefined) {
    const agreeing = replicas.filter((r) => r.status === 'SUCCEEDED' && voteHash(r) === winner);
    // A confirmed unverified answer stays the one the caller already has.
    const chosen = agreeing.find((r) => r.jobId === state.provisional?.replicaId) ?? (agreeing[0] as JobRecord);
    const decided = {
      status: 'SUCCEEDED' as const,
      finishedAt: at,
      reportAcceptedAt: at,
      runtimeMs: lowerMedian(agreeing.map((r) => r.runtimeMs ?? 0)),
      exitCode: chosen.exitCode,
      resultKey: chosen.resultKey,
      // A small result travelled in the chosen replica's report (no object under resultKey).
      resultInline: chosen.resultInline,
      logKey: chosen.logKey,
      logSize: chosen.logSize,
      resultSha256: chosen.resultSha256,
      resultSize: chosen.resultSize,
      replication: { ...state, decision: 'agreed' as const, agreedSha256: winner, ...verdictOf(state, winner) },
    };
    if (!(await deps.jobs.transition(groupId, from, decided, { attempt: group.attempt }))) return;
    await finishGroup(deps, { ...group, ...decided }, replicas, 'succeeded');
    return;
  }
  // No quorum: one more replica, while the results (missed replicas aside) stay below maxReplicas.
  if (state.replicaIds.length - missed.length < state.maxReplicas && canStart) return addReplica(deps, group, replicas, from, at);
  const seen = [...votes.entries()].map(([hash, owners]) => `${hash.slice(0, 12)}… from ${owners.size} owner${owners.size === 1 ? '' : 's'}`);
  const missing = replicas.filter((r) => r.status !== 'SUCCEEDED').length;
  const limit = late ? `the replication deadline ${state.deadlineAt} passed` : state.replicaIds.length >= MAX_STARTED ? `the most a job may start, ${MAX_STARTED}` : `the most allowed, ${state.maxReplicas}, missed ones aside`;
  const reason =
    `no quorum: ${state.quorum} owners had to return the same result; ${replicas.length} replicas ran (${limit}): ` +
    `${seen.length ? seen.join('; ') : 'no result'}${missing ? `; ${missing} produced no result` : ''}`;
  await fail(deps, group, replicas, state, at, reason);
}

/**
 * Starts one more replica of the group (its hold first; a hold that fails decides the job: no
 * quorum). Conditional on the group's version, so two writers start one.
 */
async function addReplica(deps: Deps, group: JobRecord, replicas: JobRecord[], from: JobRecord['status'][], at: string): Promise<void> {
  const state = group.replication as ReplicationState;
  const replicaId = newId('job');
  const next = { ...state, replicaIds: [...state.replicaIds, replicaId] };
  try {
    await holdForJob(deps, replicaRecord(group, replicaId));
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    if (replicas.some((r) => !TERMINAL.includes(r.status))) return;
    return fail(deps, group, replicas, state, at, `no quorum of ${state.quorum} after ${replicas.length} replicas, and no more could be held: ${err.message}`);
  }
  if (!(await deps.jobs.transition(group.jobId, from, { attempt: group.attempt + 1, replication: next }, { attempt: group.attempt }))) {
    await releaseHold(deps, replicaId);
    return;
  }
  await startReplicas(deps, { ...group, attempt: group.attempt + 1, replication: next });
}

/**
 * No quorum: the job FAILS with the reason. A job answered unverified is overturned: the result
 * handed out is withdrawn from its view (no result, no link), and, as for any job without a
 * quorum, the ledger charges nothing for it.
 */
async function fail(deps: Deps, group: JobRecord, replicas: JobRecord[], state: ReplicationState, at: string, reason: string): Promise<void> {
  const overturned = state.provisional !== undefined;
  const failed = {
    status: 'FAILED' as const,
    finishedAt: at,
    reason: overturned ? `the unverified result handed out first was overturned: ${reason}; nothing is charged for this job` : reason,
    replication: { ...state, decision: 'no-quorum' as const, ...(overturned ? { verdict: 'overturned' as const } : {}) },
  };
  const withdrawn: (keyof JobRecord)[] = overturned ? ['resultInline', 'resultSha256', 'resultSize', 'exitCode', 'runtimeMs'] : [];
  const changes = overturned ? { ...failed, resultKey: `results/${group.jobId}/result`, logKey: `results/${group.jobId}/log` } : failed;
  if (!(await deps.jobs.transition(group.jobId, [group.status], changes, { attempt: group.attempt }, withdrawn))) return;
  const after = { ...group, ...changes };
  for (const key of withdrawn) delete after[key];
  await finishGroup(deps, after, replicas, 'failed');
}

/** `respond: first`: the quorum's verdict on the result handed out unverified. */
function verdictOf(state: ReplicationState, winner: string): { verdict?: 'confirmed' | 'overturned' } {
  if (state.provisional === undefined) return {};
  return { verdict: state.provisional.hash === winner ? 'confirmed' : 'overturned' };
}

/**
 * `respond: first`: the group takes the first succeeded replica's result and ends (SUCCEEDED, its
 * verdict unverified): a waiting caller gets it, its callback goes out. The group's decision comes
 * later, as for any replicated job, and confirms or overturns it. Nothing is paid for the answer
 * itself: the ledger pays when the quorum decides.
 */
async function answerUnverified(deps: Deps, group: JobRecord, first: JobRecord): Promise<void> {
  const state = group.replication as ReplicationState;
  const answer = {
    status: 'SUCCEEDED' as const,
    attempt: group.attempt + 1,
    finishedAt: nowIso(deps),
    runtimeMs: first.runtimeMs,
    exitCode: first.exitCode,
    resultKey: first.resultKey,
    resultInline: first.resultInline,
    logKey: first.logKey,
    logSize: first.logSize,
    resultSha256: first.resultSha256,
    resultSize: first.resultSize,
    replication: { ...state, provisional: { replicaId: first.jobId, hash: voteHash(first) as string } },
  };
  if (await deps.jobs.transition(group.jobId, ['QUEUED'], answer, { attempt: group.attempt })) {
    deps.telemetry.jobFinished('succeeded');
    await deps.waiter?.notify(group);
  }
  // Whoever moved the group on, the decision may be due now (every replica may have ended already).
  await replicaEnded(deps, group.jobId);
}

/**
 * Whether a job answered unverified owes its caller the verdict (`job.verified`): it has a
 * callback, the quorum decided, and the verdict delivery was not queued yet.
 */
export function verdictOwed(job: JobRecord): boolean {
  return job.callbackUrl !== undefined && job.replication?.provisional !== undefined && job.replication.decision !== undefined && job.callbackPhase === undefined;
}

/**
 * Queues the verdict delivery once the job's first delivery is done (callbacks.ts queues it too,
 * when that delivery ends after the decision): the store's conditional write lets one of them win.
 */
async function queueVerdict(deps: Deps, group: JobRecord): Promise<void> {
  // Not judged by `callbackShard` as read: the first delivery may have ended since; the write checks it.
  if (verdictOwed(group)) await deps.jobs.queueVerdictCallback(group.jobId, nowIso(deps));
}

async function finishGroup(deps: Deps, group: JobRecord, replicas: JobRecord[], outcome: 'succeeded' | 'failed'): Promise<void> {
  // A job answered unverified was counted finished and its waiter woken when it was answered.
  if (group.replication?.provisional === undefined) {
    deps.telemetry.jobFinished(outcome);
    await deps.waiter?.notify(group);
  }
  await appendDecision(deps, group, replicas);
  await recordOutcomes(deps, group, replicas);
  await queueVerdict(deps, group);
}

/**
 * A replica's outcome in its group's decision, as the ledger records it: agreed, disagreed,
 * missed (no report: its provider never finished), inconclusive (no quorum), or pending.
 */
export function replicaOutcome(state: ReplicationState, replica: JobRecord): Outcome | 'pending' {
  if (state.decision === undefined) return 'pending';
  if (replica.status === 'SUCCEEDED' && voteHash(replica) === state.agreedSha256) return quorumOf(state) === 1 ? 'unchecked' : 'agreed';
  if (replica.status !== 'SUCCEEDED' && replica.reportAcceptedAt === undefined) return 'missed';
  return state.decision === 'no-quorum' ? 'inconclusive' : 'disagreed';
}

/**
 * Folds each replica's outcome into its provider's reputation (reputation.ts), once per decision
 * (only the writer whose transition decided the group gets here). A write that loses a race with
 * another decision reads again and retries; the ledger's outcomes remain the source to rebuild from.
 */
async function recordOutcomes(deps: Deps, group: JobRecord, replicas: JobRecord[]): Promise<void> {
  const state = group.replication as ReplicationState;
  const at = nowIso(deps);
  for (const replica of replicas) {
    const outcome = replicaOutcome(state, replica);
    if (outcome === 'pending' || replica.providerId === undefined || !deps.providers.setReputation) continue;
    for (let tries = 0; tries < 5; tries++) {
      const provider = await deps.providers.getProvider(replica.providerId);
      if (!provider) break;
      const next = applyOutcome(provider.reputation ?? EMPTY_REPUTATION, outcome, at, versionKey(replica.functionId, replica.functionVersion));
      if (await deps.providers.setReputation(replica.providerId, next, provider.reputationVersion ?? 0)) break;
    }
  }
}

/**
 * The decision for the ledger: the group, its quorum and every replica the ledger knows (those
 * ever assigned; one that never left the queue was never recorded there). Committed alone by the
 * ledger writer (no route: it credits several payees), after the replicas' own events.
 */
async function appendDecision(deps: Deps, group: JobRecord, replicas: JobRecord[]): Promise<void> {
  const state = group.replication as ReplicationState;
  const onLedger = replicas.filter((r) => r.providerId !== undefined || (r.previousProviders?.length ?? 0) > 0).map((r) => r.jobId);
  if (onLedger.length === 0) return;
  await deps.outbox.append(group.jobId, [{ type: 'DecideReplicas', groupId: group.jobId, quorum: quorumOf(state), replicas: onLedger }]);
}
