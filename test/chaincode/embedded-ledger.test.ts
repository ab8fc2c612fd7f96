import '../../lambdas/adapters/ledger/quiet-contract-logs';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLedger } from '../../lambdas/adapters/ledger';
import { blockHash, type Block } from '../../lambdas/adapters/ledger/block-file';
import { EmbeddedLedger } from '../../lambdas/adapters/ledger/embedded-ledger';
import { canonicalJson, generateKeyPair, signPayload } from '../../contract/src';
import type { BalanceMovements, LedgerEvent } from '../../lambdas/core/ledger';
import { jobCost } from '../../chaincode/src/pricing';
import { CONTROLLER, tempDir } from './harness';

/** What only the embedded ledger has: the Ledger port over it, its block file, reopening, its event feed. */

const provider = generateKeyPair();
const BILLING = { version: 1, vcpuMs: 10, mbMs: 1 };
const RESOURCES = { vcpu: 1, memoryMb: 256, timeoutS: 60 };
const SHA = 'ef'.repeat(32);

function setupEvents(): LedgerEvent[] {
  return [
    { type: 'OpenAccount', accountId: 'dev', owner: 'dev@example.com' },
    { type: 'OpenAccount', accountId: 'prov-acct', owner: 'prov@example.com' },
    { type: 'TopUp', accountId: 'dev', amount: 50_000_000, reference: 'topup-1' },
    { type: 'RegisterProvider', providerId: 'prov', accountId: 'prov-acct', publicKeyPem: provider.publicKeyPem },
  ];
}

function jobEvents(jobId: string, runtimeMs: number): LedgerEvent[] {
  const report = { v: 1, jobId, providerId: 'prov', attempt: 1, status: 'succeeded', exitCode: 0, runtimeMs, resultSha256: SHA, resultSize: 7, logSize: 0, startedAt: '2026-11-23T10:00:00.000Z', finishedAt: '2026-11-23T10:00:02.000Z' };
  return [
    { type: 'CreateJob', jobId, developerId: 'dev', providerId: 'prov', functionId: 'fn', functionVersion: 1, resources: RESOURCES, billing: BILLING, maxCost: jobCost(RESOURCES, BILLING, 60_000) },
    { type: 'SetRuntime', jobId, report: canonicalJson(report), signature: signPayload(report, provider.privateKeyPem) },
    { type: 'ConfirmReceipt', jobId, resultSha256: SHA, resultSize: 7 },
  ];
}

const costOf = (runtimeMs: number) => jobCost(RESOURCES, BILLING, runtimeMs);

describe('EmbeddedLedger', () => {
  let dir: string;
  let remove: () => void;
  let ledger: EmbeddedLedger | undefined;

  beforeEach(() => {
    ({ dir, remove } = tempDir('chainfaas-embedded-'));
  });

  afterEach(async () => {
    await ledger?.close();
    ledger = undefined;
    remove();
  });

  const open = () => (ledger = new EmbeddedLedger({ dir, controller: CONTROLLER }));
  const blockLines = () => readFileSync(join(dir, 'blocks.jsonl'), 'utf8').split('\n').filter(Boolean);

  it('implements the Ledger port: one batch is one transaction and one block', async () => {
    const port = await createLedger({ LEDGER_MODE: 'embedded', LEDGER_DIR: dir });
    ledger = port as EmbeddedLedger;
    const setup = await port.submit(setupEvents());
    expect(setup.results).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    expect(setup.txId).toMatch(/^[0-9a-f]{64}$/);
    const run = await port.submit(jobEvents('job-1', 2000));
    expect(run.results.every((r) => r.ok)).toBe(true);
    expect(ledger.blockHeight).toBe(3); // InitLedger, setup, job

    expect(await port.getJob('job-1')).toMatchObject({ jobId: 'job-1', paid: true, cost: costOf(2000), runtimeMs: 2000, received: true });
    expect(await port.getJob('missing')).toBeUndefined();
    const history = await port.getJobHistory('job-1');
    expect(history).toHaveLength(1); // created, run and received in the same transaction
    expect(history[0]).toMatchObject({ txId: run.txId, isDelete: false, value: { paid: true } });
    expect(await port.getBalance('dev')).toBe(50_000_000 - costOf(2000));
    expect(await port.getBalance('prov-acct')).toBe(costOf(2000));
    expect(await port.getAccountHistory('dev')).toEqual([
      expect.objectContaining({ kind: 'topup', amount: 50_000_000, reference: 'topup-1', txId: setup.txId }),
      expect.objectContaining({ kind: 'settlement', amount: -costOf(2000), reference: 'job-1', txId: run.txId }),
    ]);
  });

  it('keeps state, history and balances across a reopen, and goes on from there', async () => {
    open();
    await ledger!.submit(setupEvents());
    await ledger!.submit(jobEvents('job-1', 1500).slice(0, 2));
    await ledger!.submit(jobEvents('job-1', 1500).slice(2));
    const before = { job: await ledger!.getJob('job-1'), history: await ledger!.getJobHistory('job-1'), dev: await ledger!.getBalance('dev'), height: ledger!.blockHeight };
    await ledger!.close();

    open();
    expect(ledger!.blockHeight).toBe(before.height);
    expect(await ledger!.getJob('job-1')).toEqual(before.job);
    expect(await ledger!.getJobHistory('job-1')).toEqual(before.history);
    expect(before.history).toHaveLength(2);
    expect(await ledger!.getBalance('dev')).toBe(before.dev);
    // The controller recorded at creation is still the controller; nobody else is.
    await expect(ledger!.submitTransaction('MonitoringContract', 'CreateJob', ['{}'], { mspId: 'X', id: 'x' })).rejects.toThrow(/only the controller/);
    const more = await ledger!.submit(jobEvents('job-2', 10));
    expect(more.results.every((r) => r.ok)).toBe(true);
    expect(await ledger!.getBalance('prov-acct')).toBe(costOf(1500) + costOf(10));
    expect(ledger!.verifyChain()).toEqual({ ok: true, blocks: before.height + 1 });
  });

  it('verifies its hash chain and finds the first tampered block', async () => {
    open();
    await ledger!.submit(setupEvents());
    await ledger!.submit(jobEvents('job-1', 1000));
    await ledger!.submit(jobEvents('job-2', 1000));
    expect(ledger!.verifyChain()).toEqual({ ok: true, blocks: 4 });

    // Give the provider a bigger payout in block 2 without touching anything else.
    const lines = blockLines();
    const forged = lines[2]!.replace(`{\\"amount\\":${costOf(1000)}}`, `{\\"amount\\":${costOf(1000) * 10}}`);
    expect(forged).not.toBe(lines[2]);
    writeFileSync(join(dir, 'blocks.jsonl'), [lines[0], lines[1], forged, lines[3]].join('\n') + '\n');
    expect(ledger!.verifyChain()).toMatchObject({ ok: false, blocks: 2, firstBadBlock: 2, reason: expect.stringMatching(/do not match its hash/) });

    // Re-hashing the forged block moves the break to its successor, which names the old hash.
    const block = JSON.parse(forged) as Block;
    const rehashed = canonicalJson({ ...block, hash: blockHash(block) });
    writeFileSync(join(dir, 'blocks.jsonl'), [lines[0], lines[1], rehashed, lines[3]].join('\n') + '\n');
    expect(ledger!.verifyChain()).toMatchObject({ ok: false, blocks: 3, firstBadBlock: 3, reason: expect.stringMatching(/previous block's hash/) });

    // Dropping a block in the middle is caught too.
    writeFileSync(join(dir, 'blocks.jsonl'), [lines[0], lines[1], lines[3]].join('\n') + '\n');
    expect(ledger!.verifyChain()).toMatchObject({ ok: false, firstBadBlock: 2 });

    // A tampered file is refused on open.
    writeFileSync(join(dir, 'blocks.jsonl'), [lines[0], lines[1], forged, lines[3]].join('\n') + '\n');
    await ledger!.close();
    ledger = undefined;
    expect(() => open()).toThrow(/does not verify at block 2/);
  });

  it('cuts off a block whose write a crash interrupted', async () => {
    open();
    await ledger!.submit(setupEvents());
    await ledger!.close();
    appendFileSync(join(dir, 'blocks.jsonl'), '{"number":2,"previousHash":"ab');
    open();
    expect(ledger!.blockHeight).toBe(2);
    expect(await ledger!.getBalance('dev')).toBe(50_000_000);
    await ledger!.submit(jobEvents('job-1', 5));
    expect(ledger!.verifyChain()).toEqual({ ok: true, blocks: 3 });
  });

  it('refuses a second owner of the same directory while the first is open', async () => {
    open();
    expect(() => new EmbeddedLedger({ dir })).toThrow(/in use by process/);
  });

  it('feeds balance movements in block order, live and replayed, and they reproduce the balances', async () => {
    open();
    const live: BalanceMovements[] = [];
    ledger!.onBalanceMovements((m) => void live.push(m));
    await ledger!.submit(setupEvents());
    await ledger!.submit([...jobEvents('job-1', 700), ...jobEvents('job-2', 900)]);
    await ledger!.submit([{ type: 'TopUp', accountId: 'dev', amount: 1, reference: 'topup-2' }]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(live.map((m) => m.blockNumber)).toEqual([1, 2, 3]);
    expect(live[1]!.settlements.map((s) => [s.jobId, s.cost, s.paid])).toEqual([
      ['job-1', costOf(700), true],
      ['job-2', costOf(900), true],
    ]);
    await ledger!.close();

    open();
    const replayed: BalanceMovements[] = [];
    const stop = ledger!.onBalanceMovements((m) => void replayed.push(m), { fromBlock: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(replayed).toEqual(live);
    stop();

    const balances = new Map<string, number>();
    const add = (account: string, amount: number) => balances.set(account, (balances.get(account) ?? 0) + amount);
    for (const m of replayed) {
      for (const t of m.topUps) add(t.accountId, t.amount);
      for (const s of m.settlements) {
        if (!s.paid) continue;
        add(s.payerAccountId, -s.cost);
        add(s.payeeAccountId!, s.cost);
      }
    }
    for (const [account, amount] of balances) expect(await ledger!.getBalance(account)).toBe(amount);
  });

  it('dispatches only decorated transactions with their declared arguments, and a refusal writes no block', async () => {
    open();
    await ledger!.submit(setupEvents());
    const height = ledger!.blockHeight;
    await expect(ledger!.submitTransaction('MonitoringContract', 'createContext', [])).rejects.toThrow(/does not exist/);
    await expect(ledger!.submitTransaction('MonitoringContract', 'GetJob', [])).rejects.toThrow(/Expected 1 parameters, but 0/);
    await expect(ledger!.submitTransaction('NoSuchContract', 'GetJob', ['x'])).rejects.toThrow(/not known/);
    await expect(ledger!.submitTransaction('MonetaryContract', 'TopUp', ['dev', '-5', 'neg'])).rejects.toThrow(/amount must be an integer >= 1/);
    expect(await ledger!.evaluateTransaction('MonetaryContract', 'GetBalance', ['dev'])).toBe('50000000');
    expect(ledger!.blockHeight).toBe(height);
    expect(blockLines()).toHaveLength(height);
  });

  it('refuses an unknown LEDGER_MODE', async () => {
    await expect(createLedger({ LEDGER_MODE: 'paper' })).rejects.toThrow(/LEDGER_MODE must be embedded or fabric/);
  });
});
