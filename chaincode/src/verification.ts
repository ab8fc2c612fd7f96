import { canonicalJson } from './canonical-json';
import { keys } from './keys';
import { Job, Provider } from './models';
import { billedRuntimeMs, settleIfReady } from './settlement';
import type { Applied, Tx } from './state';
import { requireId, requireInteger } from './validate';

/**
 * Replicated jobs (issue #19): the quorum decision over a group of replicas, taken on the ledger.
 *
 * The controller runs a job as several replicas (each a ledger job with `replicaOf` = the group's
 * id, on providers of distinct owners) and, once every replica it started has ended, submits
 * `DecideReplicas` with the group's replica ids and quorum. The ledger decides, from what it holds
 * itself: each replica's result hash is the one its provider signed in its run-time report (and
 * the controller's receipt confirmed); a hash counts one vote per owner account (two machines of
 * one owner never confirm each other); the hash with the most owners wins if it has at least
 * `quorum` of them and no other hash has as many. Then, in the same transaction:
 *
 * - agreeing replicas are settled and paid, each for the median of the agreeing replicas' billed
 *   run times (the lower median for an even count), not the highest claim;
 * - a replica whose result differs (or a second replica of an owner already counted) is settled
 *   unpaid, cost 0;
 * - without a quorum every replica is settled unpaid, cost 0: the developer pays nothing;
 * - a replica the controller failed (`FailJob`: its provider missed the deadline) is never paid.
 *
 * Adaptive replication: a group of one replica decided with quorum 1 is a job the controller ran
 * alone on a provider it trusts (many consecutive agreements on the function version, in the
 * outcomes below). It is paid like an agreement, and recorded `unchecked`: it earns no trust.
 *
 * The decision is written once under the group (`replicaGroup`): each replica's provider, result
 * hash, verdict and whether it was paid; and each provider's raw outcome (agreed, disagreed,
 * missed, inconclusive) under `outcome`, from which anyone can recompute a reputation. The
 * identical decision again is a duplicate; a different one for a decided group is refused.
 */

export const MAX_REPLICAS = 16;

export type ReplicaOutcome = 'agreed' | 'disagreed' | 'missed' | 'inconclusive' | 'unchecked';

export interface ReplicaRecord {
  jobId: string;
  providerId: string;
  /** The owner's account the provider is paid into (one vote per account). */
  accountId?: string;
  /** The hash the provider signed and voted with: its result's SHA-256, or under a declared comparison its `compareSha256` (absent when it produced none: failed run, missed deadline). */
  resultSha256?: string;
  outcome: ReplicaOutcome;
  /** Run time the replica was paid for (agreed replicas). */
  billedMs?: number;
  paid: boolean;
}

export interface ReplicaGroupRecord {
  groupId: string;
  developerId: string;
  quorum: number;
  decision: 'agreed' | 'no-quorum';
  agreedSha256?: string;
  replicas: ReplicaRecord[];
  decidedAt: string;
}

export interface OutcomeRecord {
  providerId: string;
  jobId: string;
  groupId: string;
  /** The function version the replica ran (adaptive replication counts agreements per version). */
  functionId?: string;
  functionVersion?: number;
  outcome: ReplicaOutcome;
  decidedAt: string;
}

export async function decideReplicas(tx: Tx, groupIdArg: unknown, quorumArg: unknown, replicasArg: unknown): Promise<Applied> {
  const groupId = requireId('groupId', groupIdArg);
  const quorum = requireInteger('quorum', quorumArg, 1);
  if (quorum > MAX_REPLICAS) throw new Error(`quorum must be at most ${MAX_REPLICAS}`);
  if (!Array.isArray(replicasArg) || replicasArg.length === 0 || replicasArg.length > MAX_REPLICAS) {
    throw new Error(`replicas must be an array of 1-${MAX_REPLICAS} job ids`);
  }
  const replicaIds = replicasArg.map((id, i) => requireId(`replicas[${i}]`, id)).sort();
  if (new Set(replicaIds).size !== replicaIds.length) throw new Error('replicas must not repeat a job id');

  const groupKey = keys.replicaGroup(tx.state, groupId);
  const existing = await tx.state.get<ReplicaGroupRecord>(groupKey);
  if (existing) {
    const same = existing.quorum === quorum && canonicalJson(existing.replicas.map((r) => r.jobId).sort()) === canonicalJson(replicaIds);
    if (same) return 'duplicate';
    throw new Error(`replica group ${groupId} was already decided with other replicas or another quorum`);
  }

  const jobs: Job[] = [];
  for (const jobId of replicaIds) {
    const job = await tx.state.get<Job>(keys.job(tx.state, jobId));
    if (!job) throw new Error(`replica ${jobId} does not exist`);
    if (job.replicaOf !== groupId) throw new Error(`job ${jobId} is not a replica of ${groupId}`);
    const ended = job.failed !== undefined || (job.runtimeReport !== undefined && job.received === true);
    if (!ended) throw new Error(`replica ${jobId} has not ended: it has no run time and receipt, and was not failed`);
    jobs.push(job);
  }
  const developerId = jobs[0].developerId;
  if (jobs.some((j) => j.developerId !== developerId)) throw new Error(`the replicas of ${groupId} belong to different developers`);

  // One vote per owner account for each hash the providers signed (and the controller received).
  const accounts = new Map<string, string | undefined>();
  for (const job of jobs) accounts.set(job.jobId, (await tx.state.get<Provider>(keys.provider(tx.state, job.providerId)))?.accountId);
  const voteOf = (job: Job): string | undefined => (job.failed === undefined && job.status === 'succeeded' ? signedHash(job) : undefined);
  const owners = new Map<string, Set<string>>();
  for (const job of jobs) {
    const hash = voteOf(job);
    const account = accounts.get(job.jobId);
    if (hash === undefined || account === undefined) continue;
    owners.set(hash, (owners.get(hash) ?? new Set()).add(account));
  }
  const ranked = [...owners.entries()].map(([hash, set]) => ({ hash, votes: set.size })).sort((a, b) => b.votes - a.votes || a.hash.localeCompare(b.hash));
  const top = ranked[0];
  const winner = top !== undefined && top.votes >= quorum && (ranked[1]?.votes ?? 0) < top.votes ? top.hash : undefined;

  // The agreeing replicas: the first replica (job-id order) of each owner whose provider signed the winning hash.
  const agreed = new Set<string>();
  const counted = new Set<string>();
  for (const job of jobs) {
    const account = accounts.get(job.jobId);
    if (winner === undefined || voteOf(job) !== winner || account === undefined || counted.has(account)) continue;
    counted.add(account);
    agreed.add(job.jobId);
  }
  const medianMs = winner === undefined ? undefined : lowerMedian(jobs.filter((j) => agreed.has(j.jobId)).map(billedRuntimeMs));

  const replicas: ReplicaRecord[] = [];
  const unchecked = quorum === 1 && jobs.length === 1;
  for (const job of jobs) {
    const outcome: ReplicaOutcome =
      job.failed !== undefined
        ? 'missed'
        : winner === undefined
          ? 'inconclusive'
          : agreed.has(job.jobId)
            ? unchecked
              ? 'unchecked'
              : 'agreed'
            : 'disagreed';
    let settled = job;
    if (job.failed === undefined) {
      const verdict = outcome === 'agreed' || outcome === 'unchecked' ? 'agreed' : outcome === 'disagreed' ? 'disagreed' : 'no-quorum';
      const decided: Job = { ...job, verdict, ...(verdict === 'agreed' ? { verifiedBilledMs: medianMs } : {}) };
      tx.state.put(keys.job(tx.state, job.jobId), decided);
      await settleIfReady(tx, decided);
      settled = (await tx.state.get<Job>(keys.job(tx.state, job.jobId))) ?? decided;
    }
    replicas.push({
      jobId: job.jobId,
      providerId: job.providerId,
      accountId: accounts.get(job.jobId),
      resultSha256: voteOf(job),
      outcome,
      billedMs: outcome === 'agreed' || outcome === 'unchecked' ? medianMs : undefined,
      paid: settled.paid === true,
    });
    const record: OutcomeRecord = {
      providerId: job.providerId,
      jobId: job.jobId,
      groupId,
      functionId: job.functionId,
      functionVersion: job.functionVersion,
      outcome,
      decidedAt: tx.timestamp,
    };
    tx.state.put(keys.outcome(tx.state, job.providerId, tx.timestamp, job.jobId), record);
  }
  const group: ReplicaGroupRecord = {
    groupId,
    developerId,
    quorum,
    decision: winner === undefined ? 'no-quorum' : 'agreed',
    agreedSha256: winner,
    replicas,
    decidedAt: tx.timestamp,
  };
  tx.state.put(groupKey, group);
  return 'applied';
}

/**
 * The hash the provider signed in its report and votes with, if the controller's receipt confirmed
 * the result's hash; else none (no vote). Under a declared comparison the provider also signed
 * `compareSha256` (the hash of its result in the declared canonical form): that one is the vote.
 */
function signedHash(job: Job): string | undefined {
  if (job.runtimeReport === undefined) return undefined;
  const reported = JSON.parse(job.runtimeReport) as { resultSha256?: unknown; compareSha256?: unknown };
  if (typeof reported.resultSha256 !== 'string' || reported.resultSha256 !== job.resultSha256) return undefined;
  return typeof reported.compareSha256 === 'string' && /^[a-f0-9]{64}$/.test(reported.compareSha256) ? reported.compareSha256 : reported.resultSha256;
}

/** The lower median (an even count takes the lower middle: the developer is never charged above the middle). */
export function lowerMedian(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export function getReplicaGroup(tx: Tx, groupIdArg: unknown): Promise<ReplicaGroupRecord | undefined> {
  return tx.state.get<ReplicaGroupRecord>(keys.replicaGroup(tx.state, requireId('groupId', groupIdArg)));
}

/** A provider's raw verification outcomes, oldest first. */
export async function providerOutcomes(tx: Tx, providerIdArg: unknown): Promise<OutcomeRecord[]> {
  const providerId = requireId('providerId', providerIdArg);
  return (await tx.state.listByPartialKey<OutcomeRecord>('outcome', [providerId])).map((e) => e.value);
}
