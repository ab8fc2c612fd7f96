import { jobCost } from '../../chaincode/src/pricing';
import type { LedgerEvent, LedgerEventResult } from '../../lambdas/core/ledger';
import { canonicalJson, generateKeyPair, signPayload } from '../../contract/src';
import { ChaincodeHarness, memoryHarness } from './harness';

/**
 * Issue #17: a job costs chaincode↔peer round trips, each a gRPC message on a real peer. Within one
 * transaction, each committed key and each committed range is read from the peer at most once, and
 * a credit never reads its own delta key (it holds the transaction's id). Counted on the in-memory
 * stub, which records every call the chaincode makes to it.
 */

const BILLING = { version: 1, vcpuMs: 10, mbMs: 1 };
const RESOURCES = { vcpu: 0.5, memoryMb: 128, timeoutS: 10 };
const SHA = 'ab'.repeat(32);
const key = generateKeyPair();

function jobEvents(n: number): LedgerEvent[] {
  const jobId = `job-${n}`;
  const report = {
    v: 1,
    jobId,
    providerId: 'prov1',
    attempt: 1,
    status: 'succeeded',
    exitCode: 0,
    runtimeMs: 1000 + n,
    resultSha256: SHA,
    resultSize: 42,
    logSize: 0,
    startedAt: '2026-11-23T10:00:00.000Z',
    finishedAt: '2026-11-23T10:00:01.000Z',
  };
  return [
    {
      type: 'CreateJob',
      jobId,
      developerId: 'dev1',
      providerId: 'prov1',
      functionId: 'fn1',
      functionVersion: 1,
      resources: RESOURCES,
      billing: BILLING,
      maxCost: jobCost(RESOURCES, BILLING, RESOURCES.timeoutS * 1000),
    },
    { type: 'SetRuntime', jobId, report: canonicalJson(report), signature: signPayload(report, key.privateKeyPem) },
    { type: 'ConfirmReceipt', jobId, resultSha256: SHA, resultSize: 42 },
  ];
}

describe('chaincode round trips per transaction (in-memory stub)', () => {
  let h: ChaincodeHarness;
  const batch = async (events: LedgerEvent[]) =>
    JSON.parse(await h.submit('MonitoringContract', 'SubmitBatch', [JSON.stringify(events)])) as LedgerEventResult[];

  beforeEach(async () => {
    h = await memoryHarness.create();
    const results = await batch([
      { type: 'OpenAccount', accountId: 'dev1', owner: 'dev1@example.com' },
      { type: 'OpenAccount', accountId: 'prov1-acct', owner: 'prov1@example.com' },
      { type: 'TopUp', accountId: 'dev1', amount: 1_000_000_000, reference: 'seed' },
      { type: 'RegisterProvider', providerId: 'prov1', accountId: 'prov1-acct', publicKeyPem: key.publicKeyPem },
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  afterEach(() => h.close());

  it('reads every key and range at most once, however many jobs of one developer the batch settles', async () => {
    const jobs = 20;
    const results = await batch(Array.from({ length: jobs }, (_, n) => jobEvents(n)).flat());
    expect(results.every((r) => r.ok && !r.duplicate)).toBe(true);
    const reads = h.lastReads!();
    const repeated = reads.filter((r, i) => reads.indexOf(r) !== i);
    expect(repeated).toEqual([]);
    // Per job only its own record (absent before CreateJob); the rest is read once for the batch:
    // the controller record, the provider, the two accounts, the developer's terms, its balance range.
    expect(reads.filter((r) => r.includes('\u0000job\u0000'))).toHaveLength(jobs);
    expect(reads.filter((r) => !r.includes('\u0000job\u0000')).length).toBeLessThanOrEqual(6);
    // The payee's delta key holds this transaction's id: never asked for.
    expect(reads.some((r) => r.startsWith('get \u0000balance\u0000prov1-acct\u0000'))).toBe(false);
    // And every job was paid exactly its cost.
    const balance = JSON.parse(await h.evaluate('MonetaryContract', 'GetBalance', ['prov1-acct'])) as number;
    const expected = Array.from({ length: jobs }, (_, n) => jobCost(RESOURCES, BILLING, 1000 + n)).reduce((a, b) => a + b, 0);
    expect(balance).toBe(expected);
  });
});
