import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, Platform } from '../../local/platform';
import { Api, eventually, newUser } from '../support/api';

/**
 * The balances read model follows the ledger: after real jobs settle on the (embedded) ledger,
 * DynamoDB balances, each job's recorded cost and the ledger agree to the micro-credit, replays
 * change nothing, and the hash chain verifies.
 */
let platform: Platform;
let api: Api;
const SIGNUP_CREDIT = 100_000_000;

beforeAll(async () => {
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-bal-')), log: () => undefined });
  api = new Api(platform.apiUrl);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

test('balances, job costs and the ledger agree after settled jobs; the provider earns what developers pay', async () => {
  const dev = await newUser(api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'sha', image: platform.images.sha256, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })).body;
  const jobIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: `payload ${i}` });
    expect(res.body.status).toBe('SUCCEEDED');
    jobIds.push(res.body.jobId);
  }
  const jobs = await eventually('every job to carry its settled cost', async () => {
    await platform.flushLedger();
    const views = await Promise.all(jobIds.map(async (id) => (await dev.api.get(`/jobs/${id}`)).body));
    return views.every((j) => j.paid === true) ? views : undefined;
  });
  const spent = jobs.reduce((sum, j) => sum + j.cost, 0);
  expect(spent).toBeGreaterThan(0);
  for (const job of jobs) expect(Number.isSafeInteger(job.cost)).toBe(true);

  const account = (await dev.api.get('/account')).body;
  expect(account).toMatchObject({ accountId: dev.userId, balance: SIGNUP_CREDIT - spent, ledgerBalance: SIGNUP_CREDIT - spent });

  const providerAccount = (await api.as(platform.provider!.token).get('/account')).body;
  expect(providerAccount.balance).toBe(spent);
  expect(providerAccount.ledgerBalance).toBe(spent);

  for (const job of jobs) {
    const ledger = (await dev.api.get(`/jobs/${job.jobId}/ledger`)).body;
    expect(ledger.record.cost).toBe(job.cost);
  }

  const reconciliation = (await dev.api.get('/account/reconciliation')).body;
  expect(reconciliation).toMatchObject({ accounts: 1, jobs: 4, differences: [] });

  const history = (await dev.api.get('/account/history')).body.items;
  expect(history.filter((e: any) => e.kind === 'settlement').map((e: any) => -e.amount).sort()).toEqual(jobs.map((j) => j.cost).sort());
  expect(history.find((e: any) => e.kind === 'topup')).toMatchObject({ amount: SIGNUP_CREDIT });

  const verified = (await dev.api.get('/ledger/verify')).body;
  expect(verified).toMatchObject({ mode: 'embedded', ok: true });
  expect(verified.blocks).toBeGreaterThan(4);
});

test('replaying the ledger into the read model changes nothing, and a tampered balance is reported', async () => {
  // Loaded after the platform set the emulator endpoints, like a Lambda at cold start.
  const { DynamoBalanceStore } = await import('../../lambdas/adapters/dynamo/balances');
  const { DynamoJobStore } = await import('../../lambdas/adapters/dynamo/jobs');
  const { catchUpBalances, reconcile } = await import('../../lambdas/core/use-cases/balances');
  const { ledgerFromEnv } = await import('../../lambdas/adapters/deps');
  const ledger = await ledgerFromEnv();
  const balances = new DynamoBalanceStore(platform.env.BALANCES_TABLE as string);
  const jobs = new DynamoJobStore(platform.env.JOBS_TABLE as string);
  await platform.flushLedger();
  const before = await balances.list();
  expect(before.length).toBeGreaterThan(0);

  // Replay every movement from block 0: each is keyed by its transaction id, so nothing doubles.
  let replayed = 0;
  const stop = ledger.onBalanceMovements(async (m) => {
    if (await balances.apply(m.txId, new Map([[`${m.txId}-never`, 1]]), m.blockNumber)) replayed++;
  }, { fromBlock: 0 });
  await new Promise((r) => setTimeout(r, 300));
  stop();
  expect(replayed).toBe(0);
  expect(await catchUpBalances(ledger, balances, jobs, 50)).toBe(0);
  expect(await balances.list()).toEqual(before);
  expect((await reconcile(ledger, before)).differences).toEqual([]);

  const tampered = before.map((a, i) => (i === 0 ? { ...a, balance: a.balance + 1 } : a));
  const report = await reconcile(ledger, tampered);
  expect(report.differences).toEqual([{ kind: 'balance', id: before[0]!.accountId, readModel: before[0]!.balance + 1, ledger: before[0]!.balance }]);
});
