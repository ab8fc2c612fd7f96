import { createHash } from 'node:crypto';
import { generateKeyPair, RuntimeReport, signPayload } from '../../contract/src';
import type { JobRecord, User } from '../../lambdas/core/model';
import type { Deps } from '../../lambdas/core/use-cases/context';
import { definition, type Controller } from './harness';

/** A provider of a test file (online, with room for every job there) and what it signs with. */
export interface TestProvider {
  provider: { user: User };
  keys: { privateKeyPem: string };
  providerId: string;
}

/**
 * Sync jobs against a controller, for the sync-wait tests (issue #16): one provider per file,
 * registered on first use; a developer's sync job assigned to it; the agent's signed report of it.
 * `deps` stands for the process (a Lambda sandbox in AWS) that creates the job or accepts the report.
 */
export function syncJobs(c: Controller) {
  let machine: Promise<TestProvider> | undefined;
  const theProvider = () => {
    machine ??= (async () => {
      const { registerProvider, heartbeat } = await import('../../lambdas/core/use-cases/providers');
      const provider = await c.newUser(['provider']);
      const keys = generateKeyPair();
      const { providerId } = await registerProvider(c.deps, provider.user, { name: 'p', capacity: { vcpu: 64, memoryMb: 65536 }, publicKey: keys.publicKeyPem });
      await heartbeat(c.deps, provider.user, providerId, {});
      return { provider, keys, providerId };
    })();
    return machine;
  };

  /** A developer's sync job ASSIGNED to the provider, created by `deps`. */
  const assignedJob = async (deps: Deps = c.deps): Promise<TestProvider & { job: JobRecord }> => {
    const { createFunction } = await import('../../lambdas/core/use-cases/functions');
    const { invoke } = await import('../../lambdas/core/use-cases/invocations');
    const who = await theProvider();
    const dev = await c.newUser(['developer']);
    const fn = await createFunction(c.deps, dev.user, definition());
    const { job } = await invoke(deps, { user: dev.user }, fn.functionId, { mode: 'sync', input: 'x' });
    expect(job).toMatchObject({ status: 'ASSIGNED', providerId: who.providerId });
    return { ...who, job };
  };

  /** What the agent does after the run: PUT the result to the presigned URL, then post the signed report, accepted by `deps`. */
  const report = async (job: JobRecord, who: TestProvider, deps: Deps = c.deps) => {
    const { acceptReport } = await import('../../lambdas/core/use-cases/providers');
    const result = Buffer.from('done');
    const put = await fetch(await c.deps.storage.presignPut(job.resultKey, 60), { method: 'PUT', body: result });
    expect(put.ok).toBe(true);
    const at = new Date().toISOString();
    const body: RuntimeReport = {
      v: 1,
      jobId: job.jobId,
      providerId: who.providerId,
      attempt: job.attempt,
      status: 'succeeded',
      exitCode: 0,
      runtimeMs: 0,
      resultSha256: createHash('sha256').update(result).digest('hex'),
      resultSize: result.length,
      logSize: 0,
      startedAt: at,
      finishedAt: at,
    };
    return acceptReport(deps, who.provider.user, who.providerId, { report: body, signature: signPayload(body, who.keys.privateKeyPem) });
  };

  return { theProvider, assignedJob, report };
}

/** `deps` whose job reads are counted (the real store underneath). */
export function counted(deps: Deps): { deps: Deps; reads: () => number } {
  let n = 0;
  const jobs = new Proxy(deps.jobs, {
    get: (target, prop, receiver) =>
      prop === 'getJob'
        ? (jobId: string) => {
            n++;
            return target.getJob(jobId);
          }
        : Reflect.get(target, prop, receiver),
  });
  return { deps: { ...deps, jobs }, reads: () => n };
}
