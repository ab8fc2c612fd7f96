import { conflict, notFound } from '../errors';
import type { User } from '../model';
import { type Deps, getOwnProvider, requireRole } from './context';

/**
 * `DELETE /providers/{providerId}`: the owner removes a machine, and with it its queue and the
 * queue's alarm (`ProviderQueues.deleteQueue`), which live outside CloudFormation.
 *
 * Refused (409) while the provider holds running jobs, rather than draining first: a removal that
 * waited for jobs would need a state the scheduler, the heartbeat and the reaper all honour, and a
 * job half-way through would still lose its queue (its report could not be matched to a provider
 * any more). The owner drains instead (`chainfaas-provider stop` lets running jobs finish and tells
 * the controller it drains, so nothing new is placed) and removes the machine once idle.
 *
 * "Holds running jobs" is its reserved capacity: every placed job reserves capacity by a
 * conditional write and releases it when it ends. The record is deleted by one conditional write
 * on that reservation being zero, so a job placed concurrently either lands first (the removal is
 * refused) or finds no provider (its reservation fails and it goes elsewhere). The queue and alarm
 * are deleted after the record: an agent still polling gets errors, a heartbeat gets 404. If that
 * deletion fails, the reaper's hourly orphan sweep (reaper.ts#sweepOrphanQueues) deletes the queue
 * whose record is gone.
 */
export async function removeProvider(deps: Deps, user: User, providerId: string): Promise<void> {
  requireRole(user, 'provider');
  const provider = await getOwnProvider(deps, user, providerId);
  const outcome = await deps.providers.deleteProvider(provider.providerId, user.userId);
  if (outcome === 'missing') throw notFound('provider', providerId);
  if (outcome === 'busy') {
    const now = await deps.providers.getProvider(provider.providerId);
    throw conflict(
      `provider ${providerId} is running jobs: drain it (chainfaas-provider stop) and remove it once they have ended`,
      { reservedVcpu: (now?.reservedVcpuMilli ?? 0) / 1000, reservedMemoryMb: now?.reservedMemoryMb ?? 0 },
    );
  }
  await deps.queues.deleteQueue(provider.providerId);
}
