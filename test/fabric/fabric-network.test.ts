import { jobCost } from '../../chaincode/src/pricing';
import { LocalFabricNetwork, startLocalFabric } from '../../bench/ledger-network';
import { ChaincodeError, ContractName } from '../../lambdas/adapters/ledger/contract-ledger';
import { FabricLedger } from '../../lambdas/adapters/ledger/fabric-ledger';
import { createLedger } from '../../lambdas/adapters/ledger';
import { canonicalJson, generateKeyPair, KeyPairPem, signPayload } from '../../contract/src';
import type { BalanceMovements, LedgerEvent, LedgerEventResult } from '../../lambdas/core/ledger';

/**
 * The chaincode on a REAL Fabric network: chaincode/network/up.sh starts a Raft orderer, a peer
 * and the chaincode as a service on 127.0.0.1 (building Fabric's binaries on first use), and the
 * controller talks to it through FabricLedger, as it does in production. Everything below is
 * endorsed by the peer, ordered by the orderer, validated (MVCC included) and committed.
 *
 * Needs the go toolchain the first time (fabric-bin.sh). CHAINFAAS_SKIP_FABRIC=1 skips the file.
 */

const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const describeFabric = skip ? describe.skip : describe;

const MONITORING: ContractName = 'MonitoringContract';
const BILLING = { version: 1, vcpuMs: 10, mbMs: 1 };
const RESOURCES = { vcpu: 0.5, memoryMb: 128, timeoutS: 10 };
const SHA = 'ab'.repeat(32);
const STARTING_CREDIT = 1_000_000_000;
const COST_1234MS = 1234 * (0.5 * 10 + 128 * 1);

/** FabricLedger plus raw transactions, to call the contracts directly as a given identity. */
class RawFabricLedger extends FabricLedger {
  transact(contract: ContractName, fn: string, args: string[]): Promise<{ txId: string; result: string }> {
    return this.submitTx(contract, fn, args);
  }
  query(contract: ContractName, fn: string, args: string[]): Promise<string> {
    return this.evaluateTx(contract, fn, args);
  }
}

describeFabric('the chaincode on a real Fabric network (Raft orderer, peer, CCaaS)', () => {
  let net: LocalFabricNetwork;
  let controller: RawFabricLedger;
  let other: RawFabricLedger;
  const movements: BalanceMovements[] = [];
  let stopFeed: () => void = () => undefined;

  beforeAll(async () => {
    net = await startLocalFabric();
    console.log(`fabric network up in ${net.startSeconds.toFixed(1)} s (${net.stateDir}, ports ${net.basePort}-${net.basePort + 9})`);
    controller = new RawFabricLedger(net.options('controller'));
    other = new RawFabricLedger(net.options('other'));
    stopFeed = controller.onBalanceMovements((m) => void movements.push(m), { fromBlock: 0 });
  }, 15 * 60_000);

  afterAll(async () => {
    stopFeed();
    await controller?.close();
    await other?.close();
    await net?.down();
  }, 60_000);

  // Every test works on its own accounts, providers and jobs, named with its own prefix.
  let testNo = 0;
  let p = '';
  let keys: Record<'prov1' | 'prov2', KeyPairPem>;

  beforeEach(async () => {
    testNo += 1;
    p = `t${testNo}-`;
    keys = { prov1: generateKeyPair(), prov2: generateKeyPair() };
    const results = await batch([
      { type: 'OpenAccount', accountId: `${p}dev1`, owner: 'dev1@example.com' },
      { type: 'OpenAccount', accountId: `${p}prov1-acct`, owner: 'prov1@example.com' },
      { type: 'OpenAccount', accountId: `${p}prov2-acct`, owner: 'prov2@example.com' },
      { type: 'OpenAccount', accountId: `${p}marker`, owner: 'test' },
      { type: 'TopUp', accountId: `${p}dev1`, amount: STARTING_CREDIT, reference: `${p}signup` },
      { type: 'RegisterProvider', providerId: `${p}prov1`, accountId: `${p}prov1-acct`, publicKeyPem: keys.prov1.publicKeyPem },
      { type: 'RegisterProvider', providerId: `${p}prov2`, accountId: `${p}prov2-acct`, publicKeyPem: keys.prov2.publicKeyPem },
    ]);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });

  async function batch(events: LedgerEvent[]): Promise<LedgerEventResult[]> {
    return (await controller.submit(events)).results;
  }

  function createJob(jobId: string, overrides: Partial<Extract<LedgerEvent, { type: 'CreateJob' }>> = {}): Extract<LedgerEvent, { type: 'CreateJob' }> {
    return {
      type: 'CreateJob',
      jobId: p + jobId,
      developerId: `${p}dev1`,
      providerId: `${p}prov1`,
      functionId: 'fn1',
      functionVersion: 1,
      resources: RESOURCES,
      billing: BILLING,
      maxCost: jobCost(RESOURCES, BILLING, RESOURCES.timeoutS * 1000),
      ...overrides,
    };
  }

  /** The provider agent's run-time report for `jobId`, signed with `signer` (default: prov1's key). */
  function setRuntime(jobId: string, fields: Record<string, unknown> = {}, signer?: KeyPairPem): Extract<LedgerEvent, { type: 'SetRuntime' }> {
    const report = {
      v: 1,
      jobId: p + jobId,
      providerId: `${p}prov1`,
      attempt: 1,
      status: 'succeeded',
      exitCode: 0,
      runtimeMs: 1234,
      resultSha256: SHA,
      resultSize: 42,
      logSize: 0,
      startedAt: '2026-11-23T10:00:00.000Z',
      finishedAt: '2026-11-23T10:00:01.234Z',
      ...fields,
    };
    return { type: 'SetRuntime', jobId: p + jobId, report: canonicalJson(report), signature: signPayload(report, (signer ?? keys.prov1).privateKeyPem) };
  }

  function receipt(jobId: string): Extract<LedgerEvent, { type: 'ConfirmReceipt' }> {
    return { type: 'ConfirmReceipt', jobId: p + jobId, resultSha256: SHA, resultSize: 42 };
  }

  /**
   * The settlements the chaincode announced for `jobId` so far. Commits a marker top-up and waits
   * until the event feed delivers it: the feed is in block order, so everything before is in.
   */
  async function settlementsOf(jobId: string): Promise<BalanceMovements['settlements']> {
    const { txId } = await controller.submit([{ type: 'TopUp', accountId: `${p}marker`, amount: 1, reference: `${p}marker-${Date.now()}` }]);
    const deadline = Date.now() + 20_000;
    while (!movements.some((m) => m.txId === txId)) {
      if (Date.now() > deadline) throw new Error(`the BalanceMovements of ${txId} never arrived`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return movements.flatMap((m) => m.settlements).filter((s) => s.jobId === p + jobId);
  }

  it('is reachable by createLedger from the settings up.sh wrote (LEDGER_MODE=fabric + <state>/env)', async () => {
    const ledger = await createLedger({ LEDGER_MODE: 'fabric', ...net.env });
    try {
      expect(await ledger.getBalance(`${p}dev1`)).toBe(STARTING_CREDIT);
    } finally {
      await ledger.close();
    }
  });

  describe('identities', () => {
    it('made the controller (User1) the chaincode controller at deployment, and refuses a second InitLedger from anyone', async () => {
      const recorded = JSON.parse(await controller.query(MONITORING, 'GetController', [])) as { mspId: string; clientId: string };
      expect(recorded.mspId).toBe('ChainFaaSMSP');
      expect(recorded.clientId).toMatch(/^x509::.*CN=User1@chainfaas\.local::.*CN=ca\.chainfaas\.local$/);
      await expect(controller.transact(MONITORING, 'InitLedger', [])).rejects.toThrow(/already initialised/);
      await expect(other.transact(MONITORING, 'InitLedger', [])).rejects.toThrow(/already initialised/);
    });

    it('refuses CreateJob from another identity of the same organisation (User2), directly or in a batch, and records nothing', async () => {
      const job = createJob('job-x');
      await expect(other.transact(MONITORING, 'CreateJob', [JSON.stringify(job)])).rejects.toThrow(/only the controller may create jobs/);
      await expect(other.submit([job])).rejects.toThrow(/only the controller may/);
      await expect(other.submit([{ type: 'TopUp', accountId: `${p}dev1`, amount: 1, reference: `${p}free` }])).rejects.toThrow(/only the controller may/);
      expect(await controller.getJob(job.jobId)).toBeUndefined();
      expect(await controller.getBalance(`${p}dev1`)).toBe(STARTING_CREDIT);
      // The refusal is the chaincode's, reported by the gateway as such.
      await expect(other.submit([job])).rejects.toBeInstanceOf(ChaincodeError);
    });
  });

  describe('SetRuntime', () => {
    beforeEach(async () => {
      expect(await batch([createJob('job1')])).toEqual([{ ok: true }]);
    });

    it('refuses a forged report (signed by a key no provider registered)', async () => {
      const [result] = await batch([setRuntime('job1', {}, generateKeyPair())]);
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/signature does not verify/) });
      expect((await controller.getJob(`${p}job1`))?.runtimeMs).toBeUndefined();
    });

    it("refuses a report signed with another registered provider's key", async () => {
      const [result] = await batch([setRuntime('job1', {}, keys.prov2)]);
      expect(result).toMatchObject({
        ok: false,
        error: expect.stringMatching(new RegExp(`signature does not verify against the key registered for provider ${p}prov1`)),
      });
      expect((await controller.getJob(`${p}job1`))?.runtimeMs).toBeUndefined();
    });

    it('refuses a report altered after it was signed', async () => {
      const signed = setRuntime('job1');
      const [result] = await batch([{ ...signed, report: signed.report.replace('"runtimeMs":1234', '"runtimeMs":9999') }]);
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/signature does not verify/) });
    });

    it('refuses a second run time, in a later transaction and directly; the identical report again is a harmless duplicate', async () => {
      const first = setRuntime('job1');
      expect(await batch([first])).toEqual([{ ok: true }]);
      const second = setRuntime('job1', { runtimeMs: 1 });
      const [refused] = await batch([second]);
      expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/already has a run time/) });
      // SetRuntime may be submitted by anyone (the signature is the authority): still refused.
      await expect(other.transact(MONITORING, 'SetRuntime', [second.jobId, second.report, second.signature])).rejects.toThrow(/already has a run time/);
      expect(await batch([first])).toEqual([{ ok: true, duplicate: true }]);
      expect(await controller.getJob(`${p}job1`)).toMatchObject({ runtimeMs: 1234, runtimeReport: first.report });
    });
  });

  describe('settlement', () => {
    async function expectSettledOnce(jobId: string): Promise<void> {
      expect(await controller.getJob(p + jobId)).toMatchObject({ paid: true, cost: COST_1234MS });
      expect(await controller.getBalance(`${p}dev1`)).toBe(STARTING_CREDIT - COST_1234MS);
      expect(await controller.getBalance(`${p}prov1-acct`)).toBe(COST_1234MS);
      expect(await settlementsOf(jobId)).toEqual([
        {
          jobId: p + jobId,
          developerId: `${p}dev1`,
          providerId: `${p}prov1`,
          payerAccountId: `${p}dev1`,
          payeeAccountId: `${p}prov1-acct`,
          cost: COST_1234MS,
          paid: true,
        },
      ]);
      const history = await controller.getAccountHistory(`${p}prov1-acct`);
      expect(history).toEqual([expect.objectContaining({ amount: COST_1234MS, kind: 'settlement', reference: p + jobId })]);
    }

    it('settles exactly once when the receipt comes before the run time', async () => {
      await batch([createJob('job1'), receipt('job1')]);
      expect((await controller.getJob(`${p}job1`))?.paid).toBe(false);
      expect(await controller.getBalance(`${p}prov1-acct`)).toBe(0);
      const { txId } = await controller.submit([setRuntime('job1')]);
      const replay = await controller.submit([setRuntime('job1'), receipt('job1')]);
      expect(replay.results).toEqual([
        { ok: true, duplicate: true },
        { ok: true, duplicate: true },
      ]);
      await expectSettledOnce('job1');
      expect(movements.find((m) => m.txId === txId)?.settlements).toHaveLength(1);
    });

    it('settles exactly once when the run time comes before the receipt', async () => {
      await batch([createJob('job1'), setRuntime('job1')]);
      expect((await controller.getJob(`${p}job1`))?.paid).toBe(false);
      await batch([receipt('job1')]);
      const replay = await controller.submit([receipt('job1')]);
      expect(replay.results).toEqual([{ ok: true, duplicate: true }]);
      await expectSettledOnce('job1');
    });

    it('keeps the job history in the peer history database, one version per committed transaction', async () => {
      await batch([createJob('job1')]);
      await batch([setRuntime('job1')]);
      await batch([receipt('job1')]);
      const history = await controller.getJobHistory(`${p}job1`);
      expect(history.map((v) => [v.value?.runtimeMs !== undefined, v.value?.received === true, v.value?.paid])).toEqual([
        [false, false, false],
        [true, false, false],
        [true, true, true],
      ]);
      expect(new Set(history.map((v) => v.txId)).size).toBe(3);
    });

    it('invalidates the second of two concurrent batches debiting the same developer (phantom read), and it applies when resubmitted', async () => {
      await batch([createJob('a'), setRuntime('a'), createJob('b'), setRuntime('b')]);
      const outcomes = await Promise.allSettled([controller.submit([receipt('a')]), controller.submit([receipt('b')])]);
      const committed = outcomes.filter((o) => o.status === 'fulfilled');
      const invalidated = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(committed).toHaveLength(1);
      expect(invalidated).toHaveLength(1);
      // The debit's range read over the developer's balance deltas sees the other's new delta key.
      expect(String(invalidated[0]?.reason)).toMatch(/PHANTOM_READ_CONFLICT|MVCC_READ_CONFLICT/);
      expect(await controller.getBalance(`${p}prov1-acct`)).toBe(COST_1234MS);
      // The invalidated transaction left nothing behind; the outbox's retry settles the job.
      const retry = await batch([receipt('a'), receipt('b')]);
      expect(retry.filter((r) => r.duplicate)).toHaveLength(1);
      expect(await controller.getBalance(`${p}prov1-acct`)).toBe(2 * COST_1234MS);
      expect(await controller.getBalance(`${p}dev1`)).toBe(STARTING_CREDIT - 2 * COST_1234MS);
    });

    it('moves a payout out in the transaction that checks the balance: of two concurrent payouts that together exceed the earnings one commits; a failed one returns once', async () => {
      await batch([createJob('e1'), setRuntime('e1'), receipt('e1'), createJob('e2'), setRuntime('e2'), receipt('e2')]);
      const acct = `${p}prov1-acct`;
      expect(await controller.getBalance(acct)).toBe(2 * COST_1234MS);
      const request = (payoutId: string, amount: number): LedgerEvent => ({ type: 'RequestPayout', accountId: acct, payoutId: p + payoutId, amount, fee: 0 });
      // Each fits alone; both together would take more than was earned. Both read the account's
      // balance and entry ranges, so the second to be validated meets the first's writes.
      const outcomes = await Promise.allSettled([controller.submit([request('pa', COST_1234MS + 1000)]), controller.submit([request('pb', COST_1234MS + 1000)])]);
      const committed = outcomes.filter((o): o is PromiseFulfilledResult<Awaited<ReturnType<typeof controller.submit>>> => o.status === 'fulfilled');
      const invalidated = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(committed).toHaveLength(1);
      expect(committed[0]!.value.results).toEqual([{ ok: true }]);
      expect(invalidated).toHaveLength(1);
      expect(String(invalidated[0]!.reason)).toMatch(/PHANTOM_READ_CONFLICT|MVCC_READ_CONFLICT/);
      expect(await controller.getBalance(acct)).toBe(COST_1234MS - 1000);
      // The outbox's retry of the invalidated one is now refused: it exceeds what may be withdrawn.
      const winner = (await controller.getPayouts(acct))[0]!;
      const loser = winner.payoutId === `${p}pa` ? 'pb' : 'pa';
      expect(await batch([request(loser, COST_1234MS + 1000)])).toEqual([{ ok: false, error: expect.stringMatching(/exceeds what account .* may withdraw/) }]);
      // The transfer failed: the money comes back once; a late "paid" is refused.
      const fail: LedgerEvent = { type: 'FailPayout', accountId: acct, payoutId: winner.payoutId, reason: 'transfer refused' };
      expect(await batch([fail, fail, { type: 'CompletePayout', accountId: acct, payoutId: winner.payoutId, transferId: 'tr_late' }])).toEqual([
        { ok: true },
        { ok: true, duplicate: true },
        { ok: false, error: expect.stringMatching(/cannot be paid/) },
      ]);
      expect(await controller.getBalance(acct)).toBe(2 * COST_1234MS);
      expect(await controller.getPayouts(acct)).toEqual([expect.objectContaining({ payoutId: winner.payoutId, status: 'failed', failureReason: 'transfer refused' })]);
      // The read model's feed carries the payout and its return, summing to nothing.
      await settlementsOf('e1');
      const adjustments = movements.flatMap((m) => m.adjustments ?? []).filter((a) => a.accountId === acct);
      expect(adjustments.map((a) => [a.kind, a.amount])).toEqual([
        ['payout', -(COST_1234MS + 1000)],
        ['payoutreturn', COST_1234MS + 1000],
      ]);
    });

    it('keeps the balances equal to the sum of the costs after 200 settled jobs (4 batches of 150 events)', async () => {
      const costs: number[] = [];
      const txIds: string[] = [];
      for (let round = 0; round < 4; round++) {
        const events: LedgerEvent[] = [];
        for (let i = 0; i < 50; i++) {
          const n = round * 50 + i;
          const runtimeMs = 37 * n + 1;
          const vcpu = [0.25, 0.5, 1, 1.1][n % 4] as number;
          const resources = { vcpu, memoryMb: 64 + (n % 7) * 64, timeoutS: 30 };
          const jobId = `bulk-${n}`;
          const provider = n % 3 === 0 ? 'prov2' : 'prov1';
          events.push(
            createJob(jobId, { resources, maxCost: jobCost(resources, BILLING, 30_000), providerId: p + provider }),
            // receipts before run times for odd jobs, after for even ones
            ...(n % 2 === 1 ? [receipt(jobId)] : []),
            setRuntime(jobId, { runtimeMs, providerId: p + provider }, keys[provider]),
            ...(n % 2 === 0 ? [receipt(jobId)] : []),
          );
          costs.push(jobCost(resources, BILLING, runtimeMs));
        }
        const { txId, results } = await controller.submit(events);
        expect(results.filter((r) => !r.ok)).toEqual([]);
        txIds.push(txId);
      }
      const total = costs.reduce((a, b) => a + b, 0);
      const jobs = await Promise.all(costs.map((_, n) => controller.getJob(`${p}bulk-${n}`)));
      expect(jobs.every((job) => job?.paid === true)).toBe(true);
      expect(jobs.map((job) => job?.cost)).toEqual(costs);
      expect(await controller.getBalance(`${p}dev1`)).toBe(STARTING_CREDIT - total);
      expect((await controller.getBalance(`${p}prov1-acct`)) + (await controller.getBalance(`${p}prov2-acct`))).toBe(total);
      // The read model's feed: one paid settlement per job, the four transactions in block order.
      await settlementsOf('bulk-0');
      const settled = movements.filter((m) => txIds.includes(m.txId));
      expect(settled.map((m) => m.txId)).toEqual(txIds);
      const settlements = settled.flatMap((m) => m.settlements);
      expect(settlements).toHaveLength(200);
      expect(settlements.every((s) => s.paid)).toBe(true);
      expect(settlements.reduce((sum, s) => sum + s.cost, 0)).toBe(total);
      const devHistory = await controller.getAccountHistory(`${p}dev1`);
      expect(devHistory.reduce((sum, e) => sum + e.amount, 0)).toBe(STARTING_CREDIT - total);
    });
  });

  // Last: it stops peer0.
  describe('a second peer', () => {
    it('joins the channel, catches up, and endorses and commits on its own once peer0 is gone', async () => {
      await batch([createJob('before'), setRuntime('before'), receipt('before')]);
      const out = await net.run('join-peer.sh');
      const endpoint = /^FABRIC_PEER1_ENDPOINT=(.+)$/m.exec(out)?.[1];
      expect(endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
      const viaPeer1 = new RawFabricLedger(net.options('controller', { endpoint: endpoint as string, hostAlias: 'peer1.chainfaas.local' }));
      try {
        // Caught up: the state committed before it joined is there.
        expect(await viaPeer1.getJob(`${p}before`)).toMatchObject({ paid: true, cost: COST_1234MS });
        stopFeed(); // it follows peer0
        await net.kill('peer0');
        await expect(controller.getJob(`${p}before`)).rejects.toBeInstanceOf(ChaincodeError);
        // Only peer1 is left to endorse (the policy needs one peer of the organisation) and commit.
        const { results } = await viaPeer1.submit([createJob('after'), setRuntime('after'), receipt('after')]);
        expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
        expect(await viaPeer1.getJob(`${p}after`)).toMatchObject({ paid: true, cost: COST_1234MS });
        expect(await viaPeer1.getBalance(`${p}prov1-acct`)).toBe(2 * COST_1234MS);
      } finally {
        await viaPeer1.close();
      }
    });
  });
});
