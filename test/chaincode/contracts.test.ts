import { canonicalJson, generateKeyPair, KeyPairPem, signPayload } from '../../contract/src';
import type { AccountEntry, HistoryEntry, LedgerEvent, LedgerEventResult, LedgerJob, LedgerPayout } from '../../lambdas/core/ledger';
import { jobCost } from '../../chaincode/src/pricing';
import * as controllerPricing from '../../lambdas/core/pricing';
import { ChaincodeHarness, CONTROLLER, embeddedHarness, Identity, memoryHarness } from './harness';
import { shimHarness } from './shim-peer';

/**
 * The contract test suite, written once and run three ways: on an in-memory stub, on the
 * EmbeddedLedger, and inside the real fabric-shim (the chaincode service a peer would call),
 * driven over gRPC by a stand-in peer.
 */

const MONITORING = 'MonitoringContract';
const MONETARY = 'MonetaryContract';
const STRANGER: Identity = { mspId: 'ProviderMSP', id: 'x509::/CN=mallory::/CN=test-ca' };
const BILLING = { version: 1, vcpuMs: 10, mbMs: 1 };
const RESOURCES = { vcpu: 0.5, memoryMb: 128, timeoutS: 10 };
const SHA = 'ab'.repeat(32);
const OTHER_SHA = 'cd'.repeat(32);
const STARTING_CREDIT = 1_000_000_000;

const providerKeys: Record<string, KeyPairPem> = { prov1: generateKeyPair(), prov2: generateKeyPair(), prov3: generateKeyPair(), prov3b: generateKeyPair() };
const strangerKeys = generateKeyPair();

describe.each([memoryHarness, embeddedHarness, shimHarness])('chaincode contracts on the $name', (kind) => {
  let h: ChaincodeHarness;

  beforeAll(async () => {
    await kind.setup?.();
  });

  afterAll(async () => {
    await kind.teardown?.();
  });

  beforeEach(async () => {
    h = await kind.create();
    const results = await batch([
      { type: 'OpenAccount', accountId: 'dev1', owner: 'dev1@example.com' },
      { type: 'OpenAccount', accountId: 'dev2', owner: 'dev2@example.com' },
      { type: 'OpenAccount', accountId: 'prov1-acct', owner: 'prov1@example.com' },
      { type: 'OpenAccount', accountId: 'prov2-acct', owner: 'prov2@example.com' },
      { type: 'TopUp', accountId: 'dev1', amount: STARTING_CREDIT, reference: 'signup-dev1' },
      { type: 'RegisterProvider', providerId: 'prov1', accountId: 'prov1-acct', publicKeyPem: providerKeys.prov1!.publicKeyPem },
      { type: 'RegisterProvider', providerId: 'prov2', accountId: 'prov2-acct', publicKeyPem: providerKeys.prov2!.publicKeyPem },
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  afterEach(async () => {
    await h.close();
  });

  async function batch(events: LedgerEvent[], as?: Identity): Promise<LedgerEventResult[]> {
    return JSON.parse(await h.submit(MONITORING, 'SubmitBatch', [JSON.stringify(events)], as)) as LedgerEventResult[];
  }

  async function getJob(jobId: string): Promise<LedgerJob | null> {
    return JSON.parse(await h.evaluate(MONITORING, 'GetJob', [jobId])) as LedgerJob | null;
  }

  async function balance(accountId: string): Promise<number> {
    return JSON.parse(await h.evaluate(MONETARY, 'GetBalance', [accountId])) as number;
  }

  function createJob(jobId: string, overrides: Partial<Extract<LedgerEvent, { type: 'CreateJob' }>> = {}): LedgerEvent {
    return {
      type: 'CreateJob',
      jobId,
      developerId: 'dev1',
      providerId: 'prov1',
      functionId: 'fn1',
      functionVersion: 1,
      resources: RESOURCES,
      billing: BILLING,
      maxCost: jobCost(RESOURCES, BILLING, RESOURCES.timeoutS * 1000),
      ...overrides,
    };
  }

  /** A run-time report as the provider agent builds it, signed with `keys` (default: prov1's). */
  function setRuntime(
    jobId: string,
    fields: Record<string, unknown> = {},
    keys: KeyPairPem = providerKeys.prov1!,
  ): Extract<LedgerEvent, { type: 'SetRuntime' }> {
    const report = {
      v: 1,
      jobId,
      providerId: 'prov1',
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
    return { type: 'SetRuntime', jobId, report: canonicalJson(report), signature: signPayload(report, keys.privateKeyPem) };
  }

  function receipt(jobId: string, resultSha256 = SHA, resultSize = 42): LedgerEvent {
    return { type: 'ConfirmReceipt', jobId, resultSha256, resultSize };
  }

  const COST_1234MS = 1234 * (0.5 * 10 + 128 * 1); // 164,122 micro-credits

  describe('authorisation', () => {
    it('refuses a second InitLedger, from anyone', async () => {
      await expect(h.submit(MONITORING, 'InitLedger', [])).rejects.toThrow(/already initialised/);
      await expect(h.submit(MONITORING, 'InitLedger', [], STRANGER)).rejects.toThrow(/already initialised/);
      const controller = JSON.parse(await h.evaluate(MONITORING, 'GetController', [])) as { mspId: string; clientId: string };
      expect(controller).toMatchObject({ mspId: CONTROLLER.mspId, clientId: CONTROLLER.id });
    });

    it('refuses CreateJob from an identity other than the controller, and records nothing', async () => {
      const job = createJob('job-x');
      await expect(h.submit(MONITORING, 'CreateJob', [JSON.stringify(job)], STRANGER)).rejects.toThrow(/only the controller may create jobs/);
      expect(await getJob('job-x')).toBeNull();
      await h.submit(MONITORING, 'CreateJob', [JSON.stringify(job)]);
      expect(await getJob('job-x')).toMatchObject({ jobId: 'job-x', providerId: 'prov1', paid: false });
    });

    it('refuses every other controller-only transaction from a stranger', async () => {
      const attempts: Array<[string, string, string[]]> = [
        [MONITORING, 'RegisterProvider', ['prov9', 'dev1', strangerKeys.publicKeyPem]],
        [MONITORING, 'ConfirmReceipt', ['job-x', SHA, '1']],
        [MONITORING, 'FailJob', ['job-x', 'because']],
        [MONITORING, 'SubmitBatch', ['[]']],
        [MONETARY, 'OpenAccount', ['acct9', 'me']],
        [MONETARY, 'TopUp', ['dev1', '1000', 'free-money']],
      ];
      for (const [contract, fn, args] of attempts) {
        await expect(h.submit(contract, fn, args, STRANGER)).rejects.toThrow(/only the controller may/);
      }
      expect(await balance('dev1')).toBe(STARTING_CREDIT);
    });
  });

  describe('SetRuntime', () => {
    beforeEach(async () => {
      expect(await batch([createJob('job1')])).toEqual([{ ok: true }]);
    });

    it('refuses a forged report (signed by a key no provider registered)', async () => {
      const [result] = await batch([setRuntime('job1', {}, strangerKeys)]);
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/signature does not verify/) });
      expect((await getJob('job1'))?.runtimeMs).toBeUndefined();
    });

    it("refuses a report signed with another registered provider's key", async () => {
      const [result] = await batch([setRuntime('job1', {}, providerKeys.prov2)]);
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/signature does not verify against the key registered for provider prov1/) });
    });

    it('refuses a report altered after it was signed', async () => {
      const signed = setRuntime('job1');
      const tampered = { ...signed, report: signed.report.replace('"runtimeMs":1234', '"runtimeMs":9999') };
      const [result] = await batch([tampered]);
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/signature does not verify/) });
    });

    it('refuses a report for another job, naming another provider, or longer than the timeout', async () => {
      await batch([createJob('job2')]);
      const results = await batch([
        { ...setRuntime('job2'), jobId: 'job1' },
        setRuntime('job1', { providerId: 'prov2' }, providerKeys.prov2),
        setRuntime('job1', { runtimeMs: RESOURCES.timeoutS * 1000 + 5001 }),
      ]);
      expect(results.map((r) => r.ok)).toEqual([false, false, false]);
      expect(results[0]?.error).toMatch(/is for job job2, not job1/);
      expect(results[1]?.error).toMatch(/assigned to prov1/);
      expect(results[2]?.error).toMatch(/exceeds the job's timeout of 10000 ms/);
    });

    it('accepts a run killed at its timeout and measured a little after it, and charges nothing for it (a failed run)', async () => {
      const measured = RESOURCES.timeoutS * 1000 + 40;
      await batch([setRuntime('job1', { status: 'failed', reason: 'timeout', exitCode: 137, runtimeMs: measured }), receipt('job1')]);
      expect(await getJob('job1')).toMatchObject({ runtimeMs: measured, paid: true, cost: 0 });
    });

    it('bills a succeeded run measured a little past its timeout only up to the timeout', async () => {
      const measured = RESOURCES.timeoutS * 1000 + 40;
      await batch([createJob('late1'), setRuntime('late1', { runtimeMs: measured }), receipt('late1')]);
      expect(await getJob('late1')).toMatchObject({ runtimeMs: measured, paid: true, cost: RESOURCES.timeoutS * 1000 * 133 });
    });

    it('refuses a second run time; the identical report again is a harmless duplicate', async () => {
      const first = setRuntime('job1');
      expect(await batch([first])).toEqual([{ ok: true }]);
      const [second] = await batch([setRuntime('job1', { runtimeMs: 1 })]);
      expect(second).toMatchObject({ ok: false, error: expect.stringMatching(/already has a run time/) });
      expect(await batch([first])).toEqual([{ ok: true, duplicate: true }]);
      expect((await getJob('job1'))?.runtimeMs).toBe(1234);
    });

    it('refuses a report for an unknown job, and accepts one submitted directly by anyone (the signature is the authority)', async () => {
      const unknown = setRuntime('nojob');
      await expect(h.submit(MONITORING, 'SetRuntime', [unknown.jobId, unknown.report, unknown.signature], STRANGER)).rejects.toThrow(
        /job nojob does not exist/,
      );
      const good = setRuntime('job1');
      const job = JSON.parse(await h.submit(MONITORING, 'SetRuntime', [good.jobId, good.report, good.signature], STRANGER)) as LedgerJob;
      expect(job).toMatchObject({ runtimeMs: 1234, status: 'succeeded', runtimeReport: good.report, runtimeSignature: good.signature });
    });
  });

  describe('settlement', () => {
    it('settles exactly once when the receipt comes before the run time', async () => {
      await batch([createJob('job1'), receipt('job1')]);
      expect((await getJob('job1'))?.paid).toBe(false);
      expect(await balance('prov1-acct')).toBe(0);
      await batch([setRuntime('job1')]);
      await expectSettledOnce('job1', COST_1234MS);
    });

    it('settles exactly once when the run time comes before the receipt', async () => {
      await batch([createJob('job1'), setRuntime('job1')]);
      expect((await getJob('job1'))?.paid).toBe(false);
      await batch([receipt('job1')]);
      await expectSettledOnce('job1', COST_1234MS);
    });

    it('settles within one batch holding the whole job, and a replay of the batch changes nothing', async () => {
      const events = [createJob('job1'), setRuntime('job1'), receipt('job1')];
      expect(await batch(events)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
      expect(await batch(events)).toEqual([
        { ok: true, duplicate: true },
        { ok: true, duplicate: true },
        { ok: true, duplicate: true },
      ]);
      await expectSettledOnce('job1', COST_1234MS);
    });

    it('#19: pays at most the time the controller saw pass between assignment and accepted report, even for a larger report submitted directly', async () => {
      // Assigned at 10:00:00.000, report accepted 800 ms later: a claim of 1,234 ms (within the
      // timeout) could not have been spent. The provider sends it to the ledger itself.
      await batch([createJob('job1', { assignedAt: '2026-11-23T10:00:00.000Z' })]);
      const claim = setRuntime('job1');
      await h.submit(MONITORING, 'SetRuntime', [claim.jobId, claim.report, claim.signature], STRANGER);
      await batch([{ ...receipt('job1'), acceptedAt: '2026-11-23T10:00:00.800Z' } as LedgerEvent]);
      const cost800 = 800 * (0.5 * 10 + 128 * 1);
      await expectSettledOnce('job1', cost800);
      expect(await getJob('job1')).toMatchObject({
        runtimeMs: 1234,
        billedMs: 800,
        assignedAt: '2026-11-23T10:00:00.000Z',
        reportAcceptedAt: '2026-11-23T10:00:00.800Z',
      });

      // Without the instants (a job recorded before they were kept) the timeout alone bounds it, as before.
      await batch([createJob('job2'), setRuntime('job2'), receipt('job2')]);
      expect(await getJob('job2')).toMatchObject({ paid: true, cost: COST_1234MS, billedMs: 1234 });

      // An instant that is not one is refused with its field named.
      expect(await batch([createJob('job3', { assignedAt: 'yesterday' })])).toEqual([
        { ok: false, error: expect.stringMatching(/assignedAt must be an ISO 8601 UTC instant/) },
      ]);
    });

    it('#23: a job with disk settles at the price list\'s cost, disk included, and at the controller\'s estimate for the same run', async () => {
      // Priced by hand from the price list: 1,234 ms * (0.5 vCPU * 10 + 128 MB * 1 + 512 MB disk * 2) micro-credits.
      const billing = { version: 2, vcpuMs: 10, mbMs: 1, diskMbMs: 2 };
      const resources = { ...RESOURCES, diskMb: 512 };
      const byHand = 1234 * (0.5 * 10 + 128 * 1 + 512 * 2); // 1,427,738
      // The controller's estimate: its hold (the worst case) and the cost it would compute for this run.
      const maxCost = controllerPricing.worstCaseCost(resources, billing);
      expect(controllerPricing.jobCost(resources, billing, 1234)).toBe(byHand);
      await batch([createJob('job1', { resources, billing, maxCost }), setRuntime('job1'), receipt('job1')]);
      await expectSettledOnce('job1', byHand);
      expect(await getJob('job1')).toMatchObject({ resources: { diskMb: 512 }, billing: { diskMbMs: 2 } });

      // A job recorded without disk (before issue #23) pays none, even under a price list with a disk unit.
      await batch([createJob('job2', { billing }), setRuntime('job2'), receipt('job2')]);
      expect(await getJob('job2')).toMatchObject({ paid: true, cost: COST_1234MS });
      // A disk that is not a whole number of MB is refused with its field named.
      expect(await batch([createJob('job3', { resources: { ...RESOURCES, diskMb: 1.5 } })])).toEqual([
        { ok: false, error: expect.stringMatching(/resources\.diskMb/) },
      ]);
    });

    async function expectSettledOnce(jobId: string, cost: number): Promise<void> {
      const job = await getJob(jobId);
      expect(job).toMatchObject({ paid: true, cost });
      expect(job?.paidAt).toEqual(expect.any(String));
      expect(await balance('dev1')).toBe(STARTING_CREDIT - cost);
      expect(await balance('prov1-acct')).toBe(cost);
      const settlements = (await h.movements()).flatMap((m) => m.settlements).filter((s) => s.jobId === jobId);
      expect(settlements).toEqual([
        { jobId, developerId: 'dev1', providerId: 'prov1', payerAccountId: 'dev1', payeeAccountId: 'prov1-acct', cost, paid: true },
      ]);
      const history = JSON.parse(await h.evaluate(MONETARY, 'GetAccountHistory', ['prov1-acct'])) as AccountEntry[];
      expect(history).toEqual([expect.objectContaining({ amount: cost, kind: 'settlement', reference: jobId })]);
    }

    it('keeps the record of a job the developer cannot pay, unpaid with the reason, and pays it on the next top-up', async () => {
      await batch([createJob('poor1', { developerId: 'dev2' }), setRuntime('poor1'), receipt('poor1')]);
      const unpaid = await getJob('poor1');
      expect(unpaid).toMatchObject({ paid: false, cost: COST_1234MS, runtimeMs: 1234, received: true });
      expect(unpaid?.unpaidReason).toMatch(/insufficient funds: account dev2 has 0, the job costs 164122/);
      expect(await balance('dev2')).toBe(0);
      expect(await balance('prov1-acct')).toBe(0);

      await batch([{ type: 'TopUp', accountId: 'dev2', amount: 100_000, reference: 'dev2-a' }]);
      expect((await getJob('poor1'))?.paid).toBe(false);
      expect(await balance('dev2')).toBe(100_000);

      await batch([{ type: 'TopUp', accountId: 'dev2', amount: 100_000, reference: 'dev2-b' }]);
      const paid = await getJob('poor1');
      expect(paid).toMatchObject({ paid: true, cost: COST_1234MS });
      expect(paid?.unpaidReason).toBeUndefined();
      expect(await balance('dev2')).toBe(200_000 - COST_1234MS);
      expect(await balance('prov1-acct')).toBe(COST_1234MS);
      const settlements = (await h.movements()).flatMap((m) => m.settlements).filter((s) => s.jobId === 'poor1');
      expect(settlements.map((s) => s.paid)).toEqual([false, true]);
    });

    it("charges nothing for a failed run, neither the function's own failure nor the provider's", async () => {
      await batch([
        createJob('oom1'),
        setRuntime('oom1', { status: 'failed', reason: 'oom', exitCode: 137, runtimeMs: 500 }),
        receipt('oom1'),
        createJob('pull1'),
        setRuntime('pull1', { status: 'failed', reason: 'image_unavailable', exitCode: null, runtimeMs: 0 }),
        receipt('pull1'),
      ]);
      expect(await getJob('oom1')).toMatchObject({ paid: true, cost: 0, status: 'failed', failureReason: 'oom', exitCode: 137 });
      expect(await getJob('pull1')).toMatchObject({ paid: true, cost: 0, status: 'failed', exitCode: null });
      expect(await balance('prov1-acct')).toBe(0);
      expect(await balance('dev1')).toBe(STARTING_CREDIT);
    });

    it('caps the cost at the job maxCost', async () => {
      await batch([createJob('capped', { maxCost: 1000 }), setRuntime('capped'), receipt('capped')]);
      expect(await getJob('capped')).toMatchObject({ paid: true, cost: 1000 });
    });

    it('does not pay a job whose receipt disagrees with the report', async () => {
      await batch([createJob('dispute'), setRuntime('dispute'), receipt('dispute', OTHER_SHA)]);
      const job = await getJob('dispute');
      expect(job).toMatchObject({ paid: false });
      expect(job?.unpaidReason).toMatch(/differs from the provider's report/);
      expect(await balance('dev1')).toBe(STARTING_CREDIT);
    });

    it('moves a re-queued job to its new provider, who alone is then paid', async () => {
      await batch([createJob('moved')]);
      expect(await batch([createJob('moved', { providerId: 'prov2' })])).toEqual([{ ok: true }]);
      const [stale, fresh] = await batch([setRuntime('moved'), setRuntime('moved', { providerId: 'prov2' }, providerKeys.prov2), receipt('moved')]);
      expect(stale).toMatchObject({ ok: false, error: expect.stringMatching(/assigned to prov2/) });
      expect(fresh).toEqual({ ok: true });
      expect(await getJob('moved')).toMatchObject({ providerId: 'prov2', paid: true, cost: COST_1234MS });
      expect(await balance('prov2-acct')).toBe(COST_1234MS);
      const byProvider = async (id: string) => (JSON.parse(await h.evaluate(MONITORING, 'QueryJobsByProvider', [id])) as LedgerJob[]).map((j) => j.jobId);
      expect(await byProvider('prov1')).toEqual([]);
      expect(await byProvider('prov2')).toEqual(['moved']);
      const [late] = await batch([createJob('moved')]);
      expect(late).toMatchObject({ ok: false, error: expect.stringMatching(/already has a run time/) });
      const [changed] = await batch([createJob('moved', { providerId: 'prov2', maxCost: 1 })]);
      expect(changed).toMatchObject({ ok: false, error: expect.stringMatching(/different details/) });
    });

    it('never pays a job the controller failed, and refuses its late run time', async () => {
      await batch([createJob('lost'), { type: 'FailJob', jobId: 'lost', reason: 'provider stopped heart-beating' }]);
      const [late] = await batch([setRuntime('lost'), receipt('lost')]);
      expect(late).toMatchObject({ ok: false, error: expect.stringMatching(/was failed by the controller/) });
      expect(await getJob('lost')).toMatchObject({ paid: false, failed: 'provider stopped heart-beating' });
      expect(await balance('prov1-acct')).toBe(0);
    });

    it('keeps the balances equal to the sum of the costs after 200 settled jobs', async () => {
      const costs: number[] = [];
      for (let round = 0; round < 4; round++) {
        const events: LedgerEvent[] = [];
        for (let i = 0; i < 50; i++) {
          const n = round * 50 + i;
          const runtimeMs = 37 * n + 1;
          const vcpu = [0.25, 0.5, 1, 1.1][n % 4] as number;
          const resources = { vcpu, memoryMb: 64 + (n % 7) * 64, timeoutS: 30 };
          const jobId = `bulk-${n}`;
          events.push(
            createJob(jobId, { resources, maxCost: jobCost(resources, BILLING, 30_000), providerId: n % 3 === 0 ? 'prov2' : 'prov1' }),
            // receipts before run times for odd jobs, after for even ones
            ...(n % 2 === 1 ? [receipt(jobId)] : []),
            setRuntime(jobId, { runtimeMs, providerId: n % 3 === 0 ? 'prov2' : 'prov1' }, n % 3 === 0 ? providerKeys.prov2 : providerKeys.prov1),
            ...(n % 2 === 0 ? [receipt(jobId)] : []),
          );
          costs.push(jobCost(resources, BILLING, runtimeMs));
        }
        const results = await batch(events);
        expect(results.filter((r) => !r.ok)).toEqual([]);
      }
      const total = costs.reduce((a, b) => a + b, 0);
      const paid = await Promise.all(costs.map((_, n) => getJob(`bulk-${n}`)));
      expect(paid.every((job) => job?.paid === true)).toBe(true);
      expect(paid.map((job) => job?.cost)).toEqual(costs);
      expect(await balance('dev1')).toBe(STARTING_CREDIT - total);
      expect((await balance('prov1-acct')) + (await balance('prov2-acct'))).toBe(total);
      const settled = (await h.movements()).flatMap((m) => m.settlements);
      expect(settled).toHaveLength(200);
      expect(settled.reduce((sum, s) => sum + s.cost, 0)).toBe(total);
      const devHistory = JSON.parse(await h.evaluate(MONETARY, 'GetAccountHistory', ['dev1'])) as AccountEntry[];
      expect(devHistory.reduce((sum, e) => sum + e.amount, 0)).toBe(STARTING_CREDIT - total);
    });
  });

  describe('#19: replicated jobs, decided on the ledger', () => {
    const REPLICA_RUN = { resources: RESOURCES, billing: BILLING };
    const costOf = (ms: number) => jobCost(RESOURCES, BILLING, ms);

    beforeEach(async () => {
      // prov3 and prov3b: two machines of ONE owner (one payout account).
      const results = await batch([
        { type: 'OpenAccount', accountId: 'prov3-acct', owner: 'prov3@example.com' },
        { type: 'RegisterProvider', providerId: 'prov3', accountId: 'prov3-acct', publicKeyPem: providerKeys.prov3!.publicKeyPem },
        { type: 'RegisterProvider', providerId: 'prov3b', accountId: 'prov3-acct', publicKeyPem: providerKeys.prov3b!.publicKeyPem },
      ]);
      expect(results.every((r) => r.ok)).toBe(true);
    });

    /** One replica of `group` run by `providerId`, reporting `sha` after `runtimeMs`, and its receipt. */
    function replica(group: string, n: number, providerId: string, sha: string, runtimeMs: number): LedgerEvent[] {
      const jobId = `${group}-r${n}`;
      return [
        createJob(jobId, { providerId, replicaOf: group, ...REPLICA_RUN }),
        setRuntime(jobId, { providerId, resultSha256: sha, runtimeMs }, providerKeys[providerId]),
        receipt(jobId, sha),
      ];
    }
    const decide = (groupId: string, quorum: number, replicas: string[]): LedgerEvent => ({ type: 'DecideReplicas', groupId, quorum, replicas });

    it('pays the agreeing providers the median of their times, not the disagreeing one; the developer pays for agreed work only', async () => {
      const results = await batch([...replica('g1', 1, 'prov1', SHA, 1000), ...replica('g1', 2, 'prov2', SHA, 1400), ...replica('g1', 3, 'prov3', OTHER_SHA, 3000)]);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      // Nothing is settled before the decision: no replica is paid on its own report.
      expect((await h.movements()).flatMap((m) => m.settlements)).toEqual([]);
      expect(await getJob('g1-r1')).toMatchObject({ paid: false, replicaOf: 'g1' });

      expect(await batch([decide('g1', 2, ['g1-r1', 'g1-r2', 'g1-r3'])])).toEqual([{ ok: true }]);
      // Lower median of [1000, 1400] is 1000: each agreeing provider is paid for 1000 ms, not its own claim.
      expect(await balance('prov1-acct')).toBe(costOf(1000));
      expect(await balance('prov2-acct')).toBe(costOf(1000));
      expect(await balance('prov3-acct')).toBe(0);
      expect(await balance('dev1')).toBe(STARTING_CREDIT - 2 * costOf(1000));
      expect(await getJob('g1-r2')).toMatchObject({ paid: true, verdict: 'agreed', billedMs: 1000, cost: costOf(1000) });
      expect(await getJob('g1-r3')).toMatchObject({ paid: false, verdict: 'disagreed', cost: 0, unpaidReason: expect.stringMatching(/disagreed/) });

      const group = JSON.parse(await h.evaluate(MONITORING, 'GetReplicaGroup', ['g1'])) as Record<string, unknown>;
      expect(group).toMatchObject({
        decision: 'agreed',
        agreedSha256: SHA,
        quorum: 2,
        replicas: [
          { jobId: 'g1-r1', providerId: 'prov1', resultSha256: SHA, outcome: 'agreed', paid: true, billedMs: 1000 },
          { jobId: 'g1-r2', providerId: 'prov2', resultSha256: SHA, outcome: 'agreed', paid: true, billedMs: 1000 },
          { jobId: 'g1-r3', providerId: 'prov3', resultSha256: OTHER_SHA, outcome: 'disagreed', paid: false },
        ],
      });
      const outcomes = JSON.parse(await h.evaluate(MONITORING, 'GetProviderOutcomes', ['prov3'])) as Array<Record<string, unknown>>;
      expect(outcomes).toEqual([expect.objectContaining({ jobId: 'g1-r3', groupId: 'g1', outcome: 'disagreed' })]);

      // Exactly once: the same decision again is a duplicate, another one for the group is refused; nothing moves.
      expect(await batch([decide('g1', 2, ['g1-r3', 'g1-r2', 'g1-r1'])])).toEqual([{ ok: true, duplicate: true }]);
      expect(await batch([decide('g1', 1, ['g1-r1'])])).toEqual([{ ok: false, error: expect.stringMatching(/already decided/) }]);
      const settlements = (await h.movements()).flatMap((m) => m.settlements);
      expect(settlements.map((s) => [s.jobId, s.paid, s.cost])).toEqual([
        ['g1-r1', true, costOf(1000)],
        ['g1-r2', true, costOf(1000)],
        ['g1-r3', false, 0],
      ]);
    });

    it('counts two machines of one owner as one vote: they cannot confirm each other, and without a quorum nobody is paid', async () => {
      await batch([...replica('g2', 1, 'prov1', SHA, 500), ...replica('g2', 2, 'prov3', OTHER_SHA, 500), ...replica('g2', 3, 'prov3b', OTHER_SHA, 500)]);
      expect(await batch([decide('g2', 2, ['g2-r1', 'g2-r2', 'g2-r3'])])).toEqual([{ ok: true }]);
      const group = JSON.parse(await h.evaluate(MONITORING, 'GetReplicaGroup', ['g2'])) as { decision: string; replicas: Array<{ outcome: string; paid: boolean }> };
      expect(group.decision).toBe('no-quorum');
      expect(group.replicas.map((r) => [r.outcome, r.paid])).toEqual([
        ['inconclusive', false],
        ['inconclusive', false],
        ['inconclusive', false],
      ]);
      expect(await balance('dev1')).toBe(STARTING_CREDIT);
      expect(await balance('prov3-acct')).toBe(0);
      expect(await balance('prov1-acct')).toBe(0);
    });

    it('records a replica the controller failed as missed, never paid; refuses to decide while a replica is still running', async () => {
      await batch([...replica('g3', 1, 'prov1', SHA, 700), ...replica('g3', 2, 'prov2', SHA, 900), createJob('g3-r3', { providerId: 'prov3', replicaOf: 'g3' })]);
      expect(await batch([decide('g3', 2, ['g3-r1', 'g3-r2', 'g3-r3'])])).toEqual([{ ok: false, error: expect.stringMatching(/g3-r3 has not ended/) }]);
      expect(await batch([decide('g3', 2, ['g3-r1', 'nope'])])).toEqual([{ ok: false, error: expect.stringMatching(/nope does not exist/) }]);
      await batch([{ type: 'FailJob', jobId: 'g3-r3', reason: 'missed the deadline' }, decide('g3', 2, ['g3-r1', 'g3-r2', 'g3-r3'])]);
      const group = JSON.parse(await h.evaluate(MONITORING, 'GetReplicaGroup', ['g3'])) as { replicas: Array<{ outcome: string; paid: boolean }> };
      expect(group.replicas.map((r) => [r.outcome, r.paid])).toEqual([
        ['agreed', true],
        ['agreed', true],
        ['missed', false],
      ]);
      expect(await balance('prov1-acct')).toBe(costOf(700));
      expect(await balance('dev1')).toBe(STARTING_CREDIT - 2 * costOf(700));
    });

    it('#19 adaptive: a group of one decided with quorum 1 (run alone on trust) is paid, and recorded unchecked with its function version', async () => {
      await batch([...replica('g5', 1, 'prov1', SHA, 600), decide('g5', 1, ['g5-r1'])]);
      const group = JSON.parse(await h.evaluate(MONITORING, 'GetReplicaGroup', ['g5'])) as Record<string, unknown>;
      expect(group).toMatchObject({ decision: 'agreed', quorum: 1, replicas: [{ jobId: 'g5-r1', outcome: 'unchecked', paid: true, billedMs: 600 }] });
      expect(await balance('prov1-acct')).toBe(costOf(600));
      const outcomes = JSON.parse(await h.evaluate(MONITORING, 'GetProviderOutcomes', ['prov1'])) as Array<Record<string, unknown>>;
      const job = await getJob('g5-r1');
      expect(outcomes).toEqual([expect.objectContaining({ groupId: 'g5', outcome: 'unchecked', functionId: job!.functionId, functionVersion: job!.functionVersion })]);
    });

    it('#19: under a declared comparison counts the comparison hash each provider signed, not the exact bytes', async () => {
      const CANON = 'ef'.repeat(32);
      const signed = (group: string, n: number, providerId: string, sha: string, compareSha256: string | undefined): LedgerEvent[] => {
        const jobId = `${group}-r${n}`;
        return [
          createJob(jobId, { providerId, replicaOf: group, ...REPLICA_RUN }),
          setRuntime(jobId, { providerId, resultSha256: sha, runtimeMs: 800, compareSha256 }, providerKeys[providerId]),
          receipt(jobId, sha),
        ];
      };
      // Two results whose bytes differ (a timestamp) but whose canonical forms agree; a third whose canonical form differs.
      const results = await batch([...signed('g4', 1, 'prov1', SHA, CANON), ...signed('g4', 2, 'prov2', OTHER_SHA, CANON), ...signed('g4', 3, 'prov3', '12'.repeat(32), '34'.repeat(32))]);
      expect(results.filter((r) => !r.ok)).toEqual([]);
      expect(await batch([decide('g4', 2, ['g4-r1', 'g4-r2', 'g4-r3'])])).toEqual([{ ok: true }]);
      const group = JSON.parse(await h.evaluate(MONITORING, 'GetReplicaGroup', ['g4'])) as { decision: string; agreedSha256: string; replicas: Array<{ outcome: string; paid: boolean }> };
      expect(group).toMatchObject({ decision: 'agreed', agreedSha256: CANON });
      expect(group.replicas.map((r) => [r.outcome, r.paid])).toEqual([
        ['agreed', true],
        ['agreed', true],
        ['disagreed', false],
      ]);
      expect(await balance('dev1')).toBe(STARTING_CREDIT - 2 * costOf(800));
      // A malformed comparison hash in a signed report is refused with the field's name.
      const bad = await batch([createJob('g5-r1', { providerId: 'prov1', replicaOf: 'g5', ...REPLICA_RUN }), setRuntime('g5-r1', { compareSha256: 'nope' })]);
      expect(bad[1]).toEqual({ ok: false, error: expect.stringMatching(/report\.compareSha256/) });
    });
  });

  describe('monetary ledger', () => {
    it('credits a top-up once per reference, and refuses the reference for a different top-up', async () => {
      const topUp = { type: 'TopUp' as const, accountId: 'dev2', amount: 5000, reference: 'pay-123' };
      expect(await batch([topUp, topUp])).toEqual([{ ok: true }, { ok: true, duplicate: true }]);
      const direct = JSON.parse(await h.submit(MONETARY, 'TopUp', ['dev2', '5000', 'pay-123'])) as { balance: number; duplicate: boolean };
      expect(direct).toEqual({ accountId: 'dev2', balance: 5000, duplicate: true });
      const [other] = await batch([{ ...topUp, amount: 6000 }]);
      expect(other).toMatchObject({ ok: false, error: expect.stringMatching(/already used/) });
      expect(await balance('dev2')).toBe(5000);
      expect((await h.movements()).flatMap((m) => m.topUps).filter((t) => t.reference === 'pay-123')).toHaveLength(1);
    });

    it('refuses top-ups that are not positive integers or go to unknown accounts', async () => {
      const results = await batch([
        { type: 'TopUp', accountId: 'dev2', amount: 0, reference: 'r0' },
        { type: 'TopUp', accountId: 'dev2', amount: 1.5, reference: 'r1' },
        { type: 'TopUp', accountId: 'nobody', amount: 10, reference: 'r2' },
      ]);
      expect(results.map((r) => r.ok)).toEqual([false, false, false]);
      expect(results[2]?.error).toMatch(/account nobody does not exist/);
      await expect(h.evaluate(MONETARY, 'GetBalance', ['nobody'])).rejects.toThrow(/does not exist/);
    });

    it('opens an account once; the same owner again is a duplicate, another owner is refused', async () => {
      const results = await batch([
        { type: 'OpenAccount', accountId: 'dev1', owner: 'dev1@example.com' },
        { type: 'OpenAccount', accountId: 'dev1', owner: 'eve@example.com' },
      ]);
      expect(results).toEqual([
        { ok: true, duplicate: true },
        { ok: false, error: expect.stringMatching(/another owner/) },
      ]);
    });
  });

  describe('payouts and reversals', () => {
    const P = 'prov1-acct';
    const EARNED = 2 * COST_1234MS;
    const request = (payoutId: string, amount: number, fee = 0) => ({ type: 'RequestPayout' as const, accountId: P, payoutId, amount, fee });
    const payouts = async () => JSON.parse(await h.evaluate(MONETARY, 'GetPayouts', [P])) as LedgerPayout[];
    const adjustments = async () => (await h.movements()).flatMap((m) => m.adjustments ?? []);

    beforeEach(async () => {
      // prov1 earns two settled jobs; its account also holds a top-up, which is not earnings.
      const results = await batch([
        ...['earn1', 'earn2'].flatMap((jobId) => [createJob(jobId), setRuntime(jobId), receipt(jobId)]),
        { type: 'TopUp', accountId: P, amount: 10_000, reference: 'prov1-topup' },
        { type: 'TopUp', accountId: 'dev2', amount: 10_000, reference: 'dev2-topup' },
      ]);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(await balance(P)).toBe(EARNED + 10_000);
    });

    it('moves the amount out in the transaction that checks what may leave: earnings, never top-ups, never twice', async () => {
      const results = await batch([request('p1', EARNED - 1000, 100), request('p2', 5000)]);
      expect(results).toEqual([{ ok: true }, { ok: false, error: expect.stringMatching(/exceeds what account prov1-acct may withdraw \(1000/) }]);
      expect(await balance(P)).toBe(11_000);
      expect(await payouts()).toEqual([expect.objectContaining({ payoutId: 'p1', amount: EARNED - 1000, fee: 100, status: 'pending' })]);
      // The same request again moves nothing; another amount under the id is refused; dev2 earned nothing.
      expect(await batch([request('p1', EARNED - 1000, 100), request('p1', 500), { ...request('p3', 10), accountId: 'dev2' }])).toEqual([
        { ok: true, duplicate: true },
        { ok: false, error: expect.stringMatching(/already requested/) },
        { ok: false, error: expect.stringMatching(/may withdraw \(0/) },
      ]);
      expect(await balance(P)).toBe(11_000);
      expect(await adjustments()).toEqual([{ accountId: P, amount: -(EARNED - 1000), kind: 'payout', reference: 'payout:p1' }]);
    });

    it('returns a failed payout once and never pays it afterwards; a paid one is never returned', async () => {
      await batch([request('p1', 100_000), request('p2', 200_000)]);
      expect(await balance(P)).toBe(EARNED + 10_000 - 300_000);
      const fail = { type: 'FailPayout' as const, accountId: P, payoutId: 'p1', reason: 'account closed' };
      const pay = (payoutId: string, transferId: string) => ({ type: 'CompletePayout' as const, accountId: P, payoutId, transferId });
      expect(await batch([fail, fail, pay('p1', 'tr_1')])).toEqual([
        { ok: true },
        { ok: true, duplicate: true },
        { ok: false, error: expect.stringMatching(/cannot be paid/) },
      ]);
      expect(await batch([pay('p2', 'tr_2'), pay('p2', 'tr_2'), pay('p2', 'tr_3'), { ...fail, payoutId: 'p2' }])).toEqual([
        { ok: true },
        { ok: true, duplicate: true },
        { ok: false, error: expect.stringMatching(/already paid by transfer tr_2/) },
        { ok: false, error: expect.stringMatching(/cannot be returned/) },
      ]);
      expect(await balance(P)).toBe(EARNED + 10_000 - 200_000);
      const byId = Object.fromEntries((await payouts()).map((p) => [p.payoutId, p]));
      expect(byId.p1).toMatchObject({ status: 'failed', failureReason: 'account closed' });
      expect(byId.p2).toMatchObject({ status: 'paid', transferId: 'tr_2' });
      // The returned amount may be withdrawn again.
      expect(await batch([request('p3', EARNED - 200_000), request('p4', 1)])).toEqual([{ ok: true }, { ok: false, error: expect.stringMatching(/may withdraw \(0/) }]);
      const history = JSON.parse(await h.evaluate(MONETARY, 'GetAccountHistory', [P])) as AccountEntry[];
      expect(history.map((e) => e.kind)).toEqual(['settlement', 'settlement', 'topup', 'payout', 'payout', 'payoutreturn', 'payout']);
      expect(history.reduce((sum, e) => sum + e.amount, 0)).toBe(await balance(P));
      expect((await adjustments()).reduce((sum, a) => sum + a.amount, 0)).toBe(-EARNED);
      expect(await batch([{ type: 'FailPayout', accountId: 'dev1', payoutId: 'p2', reason: 'x' }])).toEqual([{ ok: false, error: expect.stringMatching(/no payout p2/) }]);
    });

    it('takes a reversed top-up back once per reference, never below zero, and refuses what is not an integer', async () => {
      const reverse = (amount: number, reference = 'refund:re_1') => ({ type: 'ReverseTopUp' as const, accountId: 'dev2', amount, reference });
      expect(await batch([reverse(2500), reverse(2500), reverse(99_999, 'refund:re_2'), reverse(1.5, 'refund:re_3'), request('p5', 100, 100)])).toEqual([
        { ok: true },
        { ok: true, duplicate: true },
        { ok: false, error: expect.stringMatching(/insufficient funds/) },
        { ok: false, error: expect.stringMatching(/amount must be an integer/) },
        { ok: false, error: expect.stringMatching(/fee 100 must be below/) },
      ]);
      expect(await balance('dev2')).toBe(7500);
    });
  });

  describe('invoice terms', () => {
    /** Forty days: whatever the day, the month of later transactions is over. */
    const A_MONTH_LATER_S = 40 * 24 * 3600;
    const billing = async (accountId: string) =>
      JSON.parse(await h.evaluate(MONETARY, 'GetBilling', [accountId])) as {
        terms: string;
        creditLimit: number;
        owed: number;
        invoices: Array<Record<string, unknown>>;
      };
    const runJob = (jobId: string, developerId = 'dev2') => batch([createJob(jobId, { developerId }), setRuntime(jobId), receipt(jobId)]);

    it('settles an invoice account by paying the provider and owing the cost, up to its credit limit, never below a zero balance', async () => {
      expect(await batch([{ type: 'SetTerms', accountId: 'dev2', terms: 'invoice', creditLimit: 2 * COST_1234MS }])).toEqual([{ ok: true }]);
      expect(await batch([{ type: 'SetTerms', accountId: 'dev2', terms: 'invoice', creditLimit: 2 * COST_1234MS }])).toEqual([{ ok: true, duplicate: true }]);
      await runJob('inv1');
      await runJob('inv2');
      expect(await getJob('inv2')).toMatchObject({ paid: true, cost: COST_1234MS });
      expect(await balance('dev2')).toBe(0);
      expect(await balance('prov1-acct')).toBe(2 * COST_1234MS);
      const month = (await getJob('inv1'))!.createdAt.slice(0, 7);
      expect(await billing('dev2')).toMatchObject({
        terms: 'invoice',
        creditLimit: 2 * COST_1234MS,
        owed: 2 * COST_1234MS,
        invoices: [{ month, amount: 2 * COST_1234MS, jobs: 2, paidAmount: 0 }],
      });
      const settlements = (await h.movements()).flatMap((m) => m.settlements).filter((x) => x.jobId === 'inv1');
      expect(settlements).toEqual([
        expect.objectContaining({ paid: true, cost: COST_1234MS, payerAccountId: 'dev2', payeeAccountId: 'prov1-acct', invoiced: true, month }),
      ]);

      // Beyond the limit: settled unpaid with the reason, the provider is not paid yet.
      await runJob('inv3');
      expect(await getJob('inv3')).toMatchObject({ paid: false, unpaidReason: expect.stringMatching(/credit limit reached/) });
      expect(await balance('prov1-acct')).toBe(2 * COST_1234MS);
      // A higher limit pays it at once.
      await batch([{ type: 'SetTerms', accountId: 'dev2', terms: 'invoice', creditLimit: 3 * COST_1234MS }]);
      expect(await getJob('inv3')).toMatchObject({ paid: true });
      expect((await billing('dev2')).owed).toBe(3 * COST_1234MS);
      expect((await h.movements()).flatMap((m) => (m as { terms?: unknown[] }).terms ?? [])).toEqual([
        { accountId: 'dev2', terms: 'invoice', creditLimit: 2 * COST_1234MS },
        { accountId: 'dev2', terms: 'invoice', creditLimit: 3 * COST_1234MS },
      ]);
    });

    it('pays a closed month once from the balance; refuses an open month, a wrong amount, a short balance and a prepaid account', async () => {
      await batch([{ type: 'SetTerms', accountId: 'dev2', terms: 'invoice', creditLimit: 10 * COST_1234MS }]);
      await runJob('inv1');
      await runJob('inv2');
      const month = (await getJob('inv1'))!.createdAt.slice(0, 7);
      const due = 2 * COST_1234MS;
      const pay = (amount = due, accountId = 'dev2') => batch([{ type: 'PayBill', accountId, month, amount }]);
      expect((await pay())[0]).toMatchObject({ ok: false, error: expect.stringMatching(/still open/) });

      h.advanceClock(A_MONTH_LATER_S);
      expect((await pay())[0]).toMatchObject({ ok: false, error: expect.stringMatching(/insufficient funds/) });
      await batch([{ type: 'TopUp', accountId: 'dev2', amount: due + 5, reference: 'dev2-pay' }]);
      expect((await pay(due - 1))[0]).toMatchObject({ ok: false, error: expect.stringMatching(/amount due .* is 328244/) });
      expect((await pay(due, 'dev1'))[0]).toMatchObject({ ok: false, error: expect.stringMatching(/no invoice/) });
      // Two payments of the same bill (two requests that raced): paid once, the second is a duplicate.
      expect(
        await batch([
          { type: 'PayBill', accountId: 'dev2', month, amount: due },
          { type: 'PayBill', accountId: 'dev2', month, amount: due },
        ]),
      ).toEqual([{ ok: true }, { ok: true, duplicate: true }]);
      expect(await pay()).toEqual([{ ok: true, duplicate: true }]);
      expect(await balance('dev2')).toBe(5);
      expect(await billing('dev2')).toMatchObject({ owed: 0, invoices: [{ month, amount: due, paidAmount: due, lastPayment: due }] });
      const payments = (await h.movements()).flatMap((m) => (m as { billPayments?: unknown[] }).billPayments ?? []);
      expect(payments).toEqual([{ accountId: 'dev2', month, amount: due, reference: `bill:dev2:${month}` }]);
      const history = JSON.parse(await h.evaluate(MONETARY, 'GetAccountHistory', ['dev2'])) as AccountEntry[];
      expect(history.filter((e) => e.kind === 'billpayment')).toEqual([expect.objectContaining({ amount: -due, reference: `bill:dev2:${month}` })]);
    });

    it('refuses bad terms, and terms or payments from anyone but the controller', async () => {
      const results = await batch([
        { type: 'SetTerms', accountId: 'dev2', terms: 'monthly' as 'invoice', creditLimit: 1 },
        { type: 'SetTerms', accountId: 'dev2', terms: 'invoice', creditLimit: -1 },
        { type: 'SetTerms', accountId: 'dev2', terms: 'prepaid', creditLimit: 5 },
        { type: 'SetTerms', accountId: 'nobody', terms: 'invoice', creditLimit: 5 },
        { type: 'PayBill', accountId: 'dev2', month: '2024-13', amount: 5 },
      ]);
      expect(results.map((r) => r.ok)).toEqual([false, false, false, false, false]);
      expect(results[0]?.error).toMatch(/terms must be/);
      expect(results[1]?.error).toMatch(/creditLimit/);
      expect(results[3]?.error).toMatch(/does not exist/);
      expect(results[4]?.error).toMatch(/month/);
      await expect(h.submit(MONETARY, 'SetTerms', ['dev2', 'invoice', '1000'], STRANGER)).rejects.toThrow(/only the controller/);
      await expect(h.submit(MONETARY, 'PayBill', ['dev2', '2020-01', '5'], STRANGER)).rejects.toThrow(/only the controller/);
      expect(await billing('dev2')).toMatchObject({ terms: 'prepaid', creditLimit: 0, owed: 0, invoices: [] });
      const direct = JSON.parse(await h.submit(MONETARY, 'SetTerms', ['dev2', 'invoice', '1000'])) as { terms: string; duplicate: boolean };
      expect(direct).toMatchObject({ terms: 'invoice', creditLimit: 1000, duplicate: false });
    });
  });

  describe('batches', () => {
    it('drops every write of a refused event and still applies the events after it', async () => {
      const results = await batch([
        createJob('a'),
        createJob('b', { resources: { ...RESOURCES, memoryMb: -5 } }),
        { type: 'Unknown' } as unknown as LedgerEvent,
        createJob('c'),
      ]);
      expect(results.map((r) => r.ok)).toEqual([true, false, false, true]);
      expect(results[1]?.error).toMatch(/resources.memoryMb/);
      expect(results[2]?.error).toMatch(/unknown event type/);
      expect(await getJob('b')).toBeNull();
      const byDeveloper = JSON.parse(await h.evaluate(MONITORING, 'QueryJobsByDeveloper', ['dev1'])) as LedgerJob[];
      expect(byDeveloper.map((j) => j.jobId)).toEqual(['a', 'c']);
    });

    it('refuses a batch that is not a JSON array, as a whole', async () => {
      await expect(h.submit(MONITORING, 'SubmitBatch', ['{"type":"OpenAccount"}'])).rejects.toThrow(/must be a JSON array/);
    });
  });

  describe('queries', () => {
    it('lists jobs by developer and by provider, and returns a job history oldest first', async () => {
      await batch([createJob('q1'), createJob('q2', { providerId: 'prov2', developerId: 'dev2' })]);
      await batch([setRuntime('q1')]);
      await batch([receipt('q1')]);
      const byProvider = JSON.parse(await h.evaluate(MONITORING, 'QueryJobsByProvider', ['prov2'])) as LedgerJob[];
      expect(byProvider.map((j) => j.jobId)).toEqual(['q2']);
      const history = JSON.parse(await h.evaluate(MONITORING, 'GetJobHistory', ['q1'])) as HistoryEntry<LedgerJob>[];
      expect(history.map((v) => [v.value?.runtimeMs !== undefined, v.value?.received === true, v.value?.paid])).toEqual([
        [false, false, false],
        [true, false, false],
        [true, true, true],
      ]);
      expect(new Set(history.map((v) => v.txId)).size).toBe(3);
      expect(history.map((v) => v.timestamp)).toEqual([...history.map((v) => v.timestamp)].sort());
    });

    it('returns null for an unknown job', async () => {
      expect(await getJob('never')).toBeNull();
    });
  });
});
