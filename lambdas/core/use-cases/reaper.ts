import type { ProviderRecord } from '../model';
import { Deps, nowIso } from './context';
import { dispatchWaiting, expireWaiting, finishReclaim, reclaim } from './scheduling';
import { sweepHolds } from './holds';
import { finishReport } from './providers';
import { replicaEnded } from './verification';

/**
 * The reaper: run on a schedule (EventBridge in AWS, a timer in local mode). It takes back every
 * job whose lease lapsed, because its provider stopped heart-beating or stopped listing the job
 * (re-queued elsewhere at attempt + 1, or FAILED after MAX_ATTEMPTS, with the reason), fails jobs
 * that waited for capacity past MAX_WAIT_S, and offers the capacity this freed to waiting jobs in
 * fairness order, and releases the balance holds of jobs that ended without releasing theirs
 * (holds.ts#sweepHolds). Every step is a conditional write, so overlapping sweeps change nothing twice.
 */

export interface SweepResult {
  /** Jobs taken back from a silent provider and queued again. */
  requeued: number;
  /** Jobs failed because they ran out of attempts. */
  failed: number;
  /** Jobs failed because they waited too long for capacity. */
  expired: number;
  /** Waiting jobs placed on providers by this sweep. */
  placed: number;
  /** Holds released because their job ended without releasing them (a crash after the transition). */
  holdsReleased?: number;
  /** Provider queues deleted because their provider's record is gone (once an hour, at minute 0). */
  orphanQueuesRemoved?: number;
  /** Issue #16: wake queues of sync waits deleted past their age (AWS; once an hour, at minute 0). */
  wakeQueuesRemoved?: number;
}

/**
 * How old a provider queue without a record must be before the sweep deletes it: registration
 * creates the queue first and writes the record after, so a young queue may be a registration in
 * progress.
 */
export const ORPHAN_QUEUE_GRACE_MS = 15 * 60_000;

/**
 * Deletes provider queues (and their alarms) whose provider record no longer exists: what a
 * removal leaves when `deleteQueue` fails after the record was deleted (provider-removal.ts), or a
 * registration that died between the queue and the record. Only queues the adapter lists as tagged
 * `chainfaas:provider` for the provider their name gives, older than ORPHAN_QUEUE_GRACE_MS.
 */
export async function sweepOrphanQueues(deps: Deps): Promise<number> {
  if (!deps.queues.listProviderQueues) return 0;
  const now = Date.parse(nowIso(deps));
  let removed = 0;
  for (const queue of await deps.queues.listProviderQueues()) {
    if (now - Date.parse(queue.createdAt) < ORPHAN_QUEUE_GRACE_MS) continue;
    if (await deps.providers.getProvider(queue.providerId)) continue;
    await deps.queues.deleteQueue(queue.providerId);
    removed++;
  }
  return removed;
}

/** Expired leases handled per sweep; the next sweep continues. */
const BATCH = 100;

export async function sweep(deps: Deps): Promise<SweepResult> {
  const result: SweepResult = { requeued: 0, failed: 0, expired: 0, placed: 0, holdsReleased: 0 };
  const now = nowIso(deps);
  // The providers of the expired leases only, each read once (listing every provider per sweep grew with their number: issue #24).
  const providers = new Map<string, Promise<ProviderRecord | undefined>>();
  const providerOf = (id: string) => {
    if (!providers.has(id)) providers.set(id, deps.providers.getProvider(id));
    return providers.get(id) as Promise<ProviderRecord | undefined>;
  };
  for (const job of await deps.jobs.listExpiredLeases(now, BATCH)) {
    // A job still in the leases index after it ended: the Lambda that ended it (a reclaim that
    // failed it, a report) died before it released the capacity; finish what it left.
    if (job.status !== 'ASSIGNED') {
      if (job.releaseFrom) await finishReclaim(deps, job);
      if (job.pendingReport) await finishReport(deps, job);
      continue;
    }
    const provider = job.providerId ? await providerOf(job.providerId) : undefined;
    const silentMs = provider ? Date.parse(now) - Date.parse(provider.lastHeartbeatAt) : undefined;
    const reason =
      silentMs !== undefined && silentMs > deps.config.heartbeatStaleMs
        ? `provider ${job.providerId} stopped heart-beating (silent for ${Math.round(silentMs / 1000)}s) while it held attempt ${job.attempt}`
        : `provider ${job.providerId} did not renew its lease on attempt ${job.attempt} (the job was not among its running jobs for ${deps.config.scheduling.leaseS}s)`;
    const outcome = await reclaim(deps, job, reason);
    if (outcome.outcome === 'requeued') result.requeued++;
    if (outcome.outcome === 'failed') result.failed++;
    // Issue #19: a replica that missed for good may complete its group (a replacement, or the decision).
    if (outcome.outcome === 'failed' && job.replicaOf !== undefined) await replicaEnded(deps, job.replicaOf);
  }
  result.expired = await expireWaiting(deps, async (job) => {
    if (job.replicaOf !== undefined) await replicaEnded(deps, job.replicaOf);
  });
  result.placed = await dispatchWaiting(deps);
  result.holdsReleased = await sweepHolds(deps);
  // Listing every queue is one request per queue: once an hour is enough for what it cleans up.
  if (new Date(now).getUTCMinutes() === 0) {
    result.orphanQueuesRemoved = await sweepOrphanQueues(deps);
    if (deps.waiter?.sweep) result.wakeQueuesRemoved = await deps.waiter.sweep();
  }
  return result;
}
