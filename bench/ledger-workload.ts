import { jobCost } from '../chaincode/src/pricing';
import { canonicalJson, KeyPairPem, Resources, signPayload } from '../contract/src';
import type { BillingUnits, LedgerEvent } from '../lambdas/core/ledger';

/**
 * The ledger workload shared by the settlement benchmark (bench/ledger.ts) and the tests of the
 * ledger writer on real Fabric (test/fabric, test/controller/outbox-drain): the set-up of
 * developers and providers, one settled job's three events with the provider's signed report,
 * and the DynamoDB outbox tables on DynamoDB Local that the writer drains.
 */

/** A developer's seed balance: large enough that no job of a run waits for money. */
export const SEED_BALANCE = 1_000_000_000_000;

/**
 * Opens `developers` accounts `${prefix}dev<d>` (each topped up with `seed`) and, per key, a provider
 * `${prefix}prov<i>` paying `${prefix}prov<i>-acct`.
 */
export function ledgerSetUp(prefix: string, developers: number, keys: KeyPairPem[], seed = SEED_BALANCE): LedgerEvent[] {
  const events: LedgerEvent[] = [];
  for (let d = 0; d < developers; d++) {
    events.push({ type: 'OpenAccount', accountId: `${prefix}dev${d}`, owner: `dev${d}` });
    events.push({ type: 'TopUp', accountId: `${prefix}dev${d}`, amount: seed, reference: `${prefix}seed-${d}` });
  }
  keys.forEach((key, i) => {
    events.push({ type: 'OpenAccount', accountId: `${prefix}prov${i}-acct`, owner: `prov${i}` });
    events.push({ type: 'RegisterProvider', providerId: `${prefix}prov${i}`, accountId: `${prefix}prov${i}-acct`, publicKeyPem: key.publicKeyPem });
  });
  return events;
}

export interface SettledJob {
  /** CreateJob, then the report's SetRuntime (signed with the provider's key) and ConfirmReceipt. */
  events: [LedgerEvent, LedgerEvent, LedgerEvent];
  /** What the ledger must charge for it: the price of `runtimeMs` at `billing`. */
  cost: number;
}

/** One job that ran `runtimeMs` on `providerId` and succeeded, as the controller appends it. */
export function settledJob(job: {
  jobId: string;
  developerId: string;
  providerId: string;
  key: KeyPairPem;
  runtimeMs: number;
  resources: Resources;
  billing: BillingUnits;
  resultSha256: string;
}): SettledJob {
  const { jobId, providerId, resultSha256 } = job;
  const report = {
    v: 1,
    jobId,
    providerId,
    attempt: 1,
    status: 'succeeded',
    exitCode: 0,
    runtimeMs: job.runtimeMs,
    resultSha256,
    resultSize: 42,
    logSize: 0,
    startedAt: '2026-12-05T10:00:00.000Z',
    finishedAt: '2026-12-05T10:00:05.000Z',
  };
  return {
    cost: jobCost(job.resources, job.billing, job.runtimeMs),
    events: [
      {
        type: 'CreateJob',
        jobId,
        developerId: job.developerId,
        providerId,
        functionId: 'fn1',
        functionVersion: 1,
        resources: job.resources,
        billing: job.billing,
        maxCost: jobCost(job.resources, job.billing, job.resources.timeoutS * 1000),
      },
      { type: 'SetRuntime', jobId, report: canonicalJson(report), signature: signPayload(report, job.key.privateKeyPem) },
      { type: 'ConfirmReceipt', jobId, resultSha256, resultSize: 42 },
    ],
  };
}

/**
 * DynamoDB Local with the platform's tables named `${prefix}<table>`, and this process's AWS
 * settings pointed at it (`env`: the same settings, for a child process).
 */
export async function startOutboxTables(prefix: string) {
  const { startDynamoDbLocal } = await import('../local/services');
  const { createTables } = await import('../local/tables');
  const { ENV, TABLES } = await import('../lambdas/handlers/manifest');
  const dynamo = await startDynamoDbLocal();
  const names = Object.fromEntries(Object.keys(TABLES).map((t) => [t, `${prefix}${t}`])) as Record<keyof typeof TABLES, string>;
  const env = {
    [ENV.aws.endpoints.dynamodb]: dynamo.endpoint,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
  };
  Object.assign(process.env, env);
  await createTables(dynamo.endpoint, names);
  return { names, env, stop: () => dynamo.stop() };
}
