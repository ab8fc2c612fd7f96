import type { BalanceMovements, Ledger, LedgerEventSource } from '../ledger';
import type { BalanceStore, JobStore } from '../ports';

/**
 * The controller's read model of money: DynamoDB balances (and each job's settled cost) that
 * follow the ledger's committed `BalanceMovements`, so the API answers balances without a ledger
 * query, and a reconciliation that proves the two agree.
 */

/** Net change per account made by one committed ledger transaction. */
export function movementDeltas(movements: BalanceMovements): Map<string, number> {
  const deltas = new Map<string, number>();
  const add = (account: string, amount: number) => deltas.set(account, (deltas.get(account) ?? 0) + amount);
  for (const t of movements.topUps) add(t.accountId, t.amount);
  for (const s of movements.settlements) {
    if (!s.paid || s.cost === 0) continue;
    add(s.payerAccountId, -s.cost);
    if (s.payeeAccountId) add(s.payeeAccountId, s.cost);
  }
  for (const [account, delta] of deltas) if (delta === 0) deltas.delete(account);
  return deltas;
}

/**
 * Applies one transaction's movements exactly once (the store keys the write by transaction id),
 * and records each settlement's cost on the job. Returns false if it had been applied before.
 */
export async function applyMovements(balances: BalanceStore, jobs: Pick<JobStore, 'recordSettlement'>, movements: BalanceMovements): Promise<boolean> {
  const applied = await balances.apply(movements.txId, movementDeltas(movements), movements.blockNumber);
  for (const s of movements.settlements) {
    await jobs.recordSettlement(s.jobId, s.cost, s.paid, s.reason);
    // The settlement debited the actual cost from balance and available above; the job's hold
    // (its worst case, taken from available at invocation) goes back now, once (billing.ts).
    await balances.releaseHold?.(s.jobId);
  }
  return applied;
}

/**
 * Brings the read model up to the ledger: replays movements after the stored checkpoint and
 * waits until the feed has been quiet for `idleMs`. Safe to run concurrently with itself
 * (every application is idempotent) and after a crash (the checkpoint only moves forward).
 */
export async function catchUpBalances(
  ledger: LedgerEventSource,
  balances: BalanceStore,
  jobs: Pick<JobStore, 'recordSettlement'>,
  idleMs = 200,
): Promise<number> {
  const fromBlock = ((await balances.checkpoint()) ?? -1) + 1;
  let applied = 0;
  let last = Date.now();
  let failure: unknown;
  let chain = Promise.resolve();
  const stop = ledger.onBalanceMovements(
    (m) =>
      (chain = chain.then(async () => {
        last = Date.now();
        if (failure === undefined && (await applyMovements(balances, jobs, m).catch((err) => ((failure = err), false)))) applied++;
        last = Date.now();
      })),
    { fromBlock },
  );
  try {
    while (Date.now() - last < idleMs) await new Promise((r) => setTimeout(r, Math.max(10, idleMs - (Date.now() - last))));
    await chain;
  } finally {
    stop();
  }
  if (failure !== undefined) throw failure;
  return applied;
}

export interface Difference {
  kind: 'balance' | 'job';
  id: string;
  readModel: number | undefined;
  ledger: number | undefined;
}

/**
 * Compares the given read-model balances, and the recorded cost of every given settled job,
 * with the ledger. An empty `differences` list means the two agree to the micro-credit.
 */
export async function reconcile(
  ledger: Pick<Ledger, 'getBalance' | 'getJob'>,
  accounts: { accountId: string; balance: number }[],
  settledJobs: { jobId: string; cost?: number }[] = [],
): Promise<{ accounts: number; jobs: number; differences: Difference[] }> {
  const differences: Difference[] = [];
  for (const { accountId, balance } of accounts) {
    const onLedger = await ledger.getBalance(accountId).catch(() => undefined);
    if (onLedger !== balance) differences.push({ kind: 'balance', id: accountId, readModel: balance, ledger: onLedger });
  }
  for (const job of settledJobs) {
    const record = await ledger.getJob(job.jobId);
    const onLedger = record?.paid ? record.cost : undefined;
    if (onLedger !== job.cost) differences.push({ kind: 'job', id: job.jobId, readModel: job.cost, ledger: onLedger });
  }
  return { accounts: accounts.length, jobs: settledJobs.length, differences };
}
