import { jobCost } from '../../chaincode/src/pricing';
import { LocalFabricNetwork, startLocalFabric } from '../../bench/ledger-network';
import type { FabricLedger } from '../../lambdas/adapters/ledger/fabric-ledger';
import type { LedgerEvent } from '../../lambdas/core/ledger';
import type { Outbox } from '../../lambdas/core/ports';
import type { drainOutbox as Drain } from '../../lambdas/core/use-cases/outbox';
import { canonicalJson, generateKeyPair, signPayload } from '../../contract/src';

/**
 * Issue #17: the lanes writer (several transactions in flight, `LEDGER_WRITER_LANES`) on a REAL
 * Fabric network, through the DynamoDB outbox on DynamoDB Local, as the ledger writer Lambda runs
 * it. Three developers' jobs paying three providers are appended while the writer drains with 4
 * lanes: no transaction is invalidated (the plan keeps apart what Fabric could see as a conflict),
 * every job is paid once at its price, and every balance adds up. CHAINFAAS_SKIP_FABRIC=1 skips it.
 */
const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const describeFabric = skip ? describe.skip : describe;

const BILLING = { version: 1, vcpuMs: 10, mbMs: 1 };
const RESOURCES = { vcpu: 0.5, memoryMb: 128, timeoutS: 10 };
const SHA = 'cd'.repeat(32);
const SEED = 1_000_000_000_000;
const DEVELOPERS = 3;
const JOBS = 60;

describeFabric('the lanes writer on a real Fabric network', () => {
  let net: LocalFabricNetwork;
  let ledger: FabricLedger;
  let outbox: Outbox;
  let drainOutbox: typeof Drain;
  let stopDynamo: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const { startDynamoDbLocal } = await import('../../local/services');
    const { createTables } = await import('../../local/tables');
    const { ENV, TABLES } = await import('../../lambdas/handlers/manifest');
    const dynamo = await startDynamoDbLocal();
    stopDynamo = () => dynamo.stop();
    const names = Object.fromEntries(Object.keys(TABLES).map((t) => [t, `lanes-${t}`])) as Record<keyof typeof TABLES, string>;
    Object.assign(process.env, {
      [ENV.aws.endpoints.dynamodb]: dynamo.endpoint,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    });
    await createTables(dynamo.endpoint, names);
    const { DynamoOutbox } = await import('../../lambdas/adapters/dynamo/outbox');
    ({ drainOutbox } = await import('../../lambdas/core/use-cases/outbox'));
    outbox = new DynamoOutbox(names.outbox);
    net = await startLocalFabric({ maxMessageCount: 4, logSpec: 'warning' });
    ledger = net.ledger('controller');
  }, 15 * 60_000);

  afterAll(async () => {
    await ledger?.close();
    await net?.down();
    await stopDynamo();
  }, 60_000);

  test('#17: 4 lanes in flight, jobs appended while it drains: no transaction invalidated, each job paid once, balances exact', async () => {
    const keys = Array.from({ length: 3 }, generateKeyPair);
    const setUp: LedgerEvent[] = [];
    for (let d = 0; d < DEVELOPERS; d++) {
      setUp.push(
        { type: 'OpenAccount', accountId: `dev${d}`, owner: `dev${d}` },
        { type: 'TopUp', accountId: `dev${d}`, amount: SEED, reference: `seed-${d}` },
      );
    }
    keys.forEach((key, i) => {
      setUp.push({ type: 'OpenAccount', accountId: `prov${i}-acct`, owner: `prov${i}` });
      setUp.push({ type: 'RegisterProvider', providerId: `prov${i}`, accountId: `prov${i}-acct`, publicKeyPem: key.publicKeyPem });
    });
    expect((await ledger.submit(setUp)).results.filter((r) => !r.ok)).toEqual([]);

    const costs = new Map<string, number>();
    const appendJob = async (n: number) => {
      const jobId = `job-${n}`;
      const developerId = `dev${n % DEVELOPERS}`;
      const provider = n % keys.length;
      const runtimeMs = 100 + ((n * 37) % 3000);
      const report = {
        v: 1,
        jobId,
        providerId: `prov${provider}`,
        attempt: 1,
        status: 'succeeded',
        exitCode: 0,
        runtimeMs,
        resultSha256: SHA,
        resultSize: 42,
        logSize: 0,
        startedAt: '2026-12-05T10:00:00.000Z',
        finishedAt: '2026-12-05T10:00:05.000Z',
      };
      costs.set(jobId, jobCost(RESOURCES, BILLING, runtimeMs));
      const create: LedgerEvent = {
        type: 'CreateJob',
        jobId,
        developerId,
        providerId: `prov${provider}`,
        functionId: 'fn1',
        functionVersion: 1,
        resources: RESOURCES,
        billing: BILLING,
        maxCost: jobCost(RESOURCES, BILLING, RESOURCES.timeoutS * 1000),
      };
      await outbox.append(jobId, [create], { lane: developerId });
      await outbox.append(
        jobId,
        [
          { type: 'SetRuntime', jobId, report: canonicalJson(report), signature: signPayload(report, keys[provider]!.privateKeyPem) },
          { type: 'ConfirmReceipt', jobId, resultSha256: SHA, resultSize: 42 },
        ],
        { lane: developerId, payee: `prov${provider}-acct` },
      );
    };

    const failures: string[] = [];
    const spans: Array<[number, number]> = [];
    const drain = () =>
      drainOutbox(outbox, ledger, {
        lanes: 4,
        maxEvents: 10,
        onTransaction: (t) => {
          if (t.error) failures.push(String(t.error).slice(0, 200));
          spans.push([Date.now() - t.ms, Date.now()]);
        },
      });
    // Half the jobs first; the rest appended while the writer drains them, then a last drain.
    for (let n = 0; n < JOBS / 2; n++) await appendJob(n);
    const first = drain();
    for (let n = JOBS / 2; n < JOBS; n++) await appendJob(n);
    const totals = [await first, await drain()];

    expect({ failures, rejected: totals.reduce((a, t) => a + t.rejected, 0) }).toEqual({ failures: [], rejected: 0 });
    // Every event was committed, and submitted once (an outbox read that raced the deletion of
    // entries just committed must not bring them back: test/controller/outbox-drain.test.ts).
    expect(totals.reduce((a, t) => a + t.committed, 0)).toBe(JOBS * 3);
    // Lanes were really used: some transactions were in flight together.
    const overlapping = spans.filter(([start, end]) => spans.some(([s2, e2]) => (s2 !== start || e2 !== end) && s2 < end && start < e2)).length;
    expect(overlapping).toBeGreaterThan(1);
    expect(await outbox.pending(100)).toEqual([]);
    for (const [jobId, cost] of costs) expect(await ledger.getJob(jobId)).toMatchObject({ jobId, paid: true, cost });
    const total = [...costs.values()].reduce((a, b) => a + b, 0);
    const earned = await Promise.all(keys.map((_, i) => ledger.getBalance(`prov${i}-acct`)));
    expect(earned.reduce((a, b) => a + b, 0)).toBe(total);
    for (let d = 0; d < DEVELOPERS; d++) {
      const spent = [...costs].filter(([jobId]) => Number(jobId.slice(4)) % DEVELOPERS === d).reduce((a, [, c]) => a + c, 0);
      expect(await ledger.getBalance(`dev${d}`)).toBe(SEED - spent);
    }
  }, 300_000);
});
