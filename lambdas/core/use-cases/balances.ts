import type { BalanceMovements, Ledger, LedgerEventSource, PaymentTerms } from '../ledger';
import type { AccountChanges, BalanceStore, JobStore, Telemetry } from '../ports';

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
    // Invoice terms: the payer's balance is not debited; the cost is owed (owedDeltas).
    if (!s.invoiced) add(s.payerAccountId, -s.cost);
    if (s.payeeAccountId) add(s.payeeAccountId, s.cost);
  }
  for (const p of movements.billPayments ?? []) add(p.accountId, -p.amount);
  for (const a of movements.adjustments ?? []) add(a.accountId, a.amount);
  for (const [account, delta] of deltas) if (delta === 0) deltas.delete(account);
  return deltas;
}

/** What one committed ledger transaction changed besides balances: what accounts owe, and their terms. */
export function movementChanges(movements: BalanceMovements): AccountChanges {
  const owed = new Map<string, number>();
  const add = (account: string, amount: number) => owed.set(account, (owed.get(account) ?? 0) + amount);
  for (const s of movements.settlements) if (s.paid && s.invoiced && s.cost > 0) add(s.payerAccountId, s.cost);
  for (const p of movements.billPayments ?? []) add(p.accountId, -p.amount);
  const terms = new Map<string, { terms: PaymentTerms; creditLimit: number }>();
  // In ledger order, so the last change of the transaction wins.
  for (const t of movements.terms ?? []) terms.set(t.accountId, { terms: t.terms, creditLimit: t.creditLimit });
  return { owed, terms };
}

/**
 * The part of an account's money holds may take (before holds): a prepaid account's balance; an
 * invoice account's credit limit minus what it owes (its jobs do not draw on the balance). The
 * read model keeps `available = spendable - held`, so a transaction that changes the balance, the
 * debt or the terms moves `available` by the change of this.
 */
export function spendable(account: { balance: number; owed: number; terms: PaymentTerms; creditLimit: number }): number {
  return account.terms === 'invoice' ? account.creditLimit - account.owed : account.balance;
}

/** What the catch-up reports to: the settlement lag (optional: the reconciliation tests replay without it), and the clock. */
export interface CatchUpObserver {
  telemetry?: Pick<Telemetry, 'settlementLag'>;
  now?: () => Date;
}

/**
 * Applies one transaction's movements exactly once (the store keys the write by transaction id),
 * and records each settlement's cost on the job. Returns false if it had been applied before.
 * The write that first records a job paid reports its settlement lag: from the controller
 * accepting the job's report to the read model knowing it was paid.
 */
export async function applyMovements(
  balances: BalanceStore,
  jobs: Pick<JobStore, 'recordSettlement'>,
  movements: BalanceMovements,
  observer: CatchUpObserver = {},
): Promise<boolean> {
  const applied = await balances.apply(movements.txId, movementDeltas(movements), movements.blockNumber, movementChanges(movements));
  for (const s of movements.settlements) {
    const before = await jobs.recordSettlement(s.jobId, s.cost, s.paid, s.reason);
    if (s.paid && before && before.paid !== true && before.reportAcceptedAt !== undefined && observer.telemetry) {
      const lag = (observer.now?.() ?? new Date()).getTime() - Date.parse(before.reportAcceptedAt);
      if (Number.isFinite(lag)) observer.telemetry.settlementLag(Math.max(0, lag));
    }
    // The settlement debited the actual cost from balance and available above; the job's hold
    // (its worst case, taken from available at invocation) goes back now, once (holds.ts); the job
    // as it was names the hold, so it is not read first (issue #16).
    const known = before?.holdAmount !== undefined && before.developerId !== undefined ? { holder: before.developerId, amount: before.holdAmount } : undefined;
    await balances.releaseHold?.(s.jobId, known);
  }
  // A payout or a reversal was reserved from available by a hold under its reference
  // (payments.ts); the debit above took it from balance and available, so the hold goes back.
  for (const a of movements.adjustments ?? []) if (a.amount < 0) await balances.releaseHold?.(a.reference);
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
  observer: CatchUpObserver = {},
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
        if (failure === undefined && (await applyMovements(balances, jobs, m, observer).catch((err) => ((failure = err), false)))) applied++;
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
  /** `owed`: what an invoice-terms account owes (read model vs the ledger's unpaid invoices). */
  kind: 'balance' | 'job' | 'owed';
  id: string;
  readModel: number | undefined;
  ledger: number | undefined;
}

/**
 * Compares the given read-model balances, and the recorded cost of every given settled job,
 * with the ledger. An empty `differences` list means the two agree to the micro-credit.
 */
export async function reconcile(
  ledger: Pick<Ledger, 'getBalance' | 'getJob'> & Pick<Partial<Ledger>, 'getBilling'>,
  accounts: { accountId: string; balance: number; owed?: number }[],
  settledJobs: { jobId: string; cost?: number }[] = [],
): Promise<{ accounts: number; jobs: number; differences: Difference[] }> {
  const differences: Difference[] = [];
  for (const { accountId, balance, owed } of accounts) {
    const onLedger = await ledger.getBalance(accountId).catch(() => undefined);
    if (onLedger !== balance) differences.push({ kind: 'balance', id: accountId, readModel: balance, ledger: onLedger });
    // What the account owes (invoice terms), when the caller passed it and the ledger can tell.
    if (owed !== undefined && ledger.getBilling) {
      const owedOnLedger = await ledger.getBilling(accountId).then((b) => b.owed, () => undefined);
      if (owedOnLedger !== owed) differences.push({ kind: 'owed', id: accountId, readModel: owed, ledger: owedOnLedger });
    }
  }
  for (const job of settledJobs) {
    const record = await ledger.getJob(job.jobId);
    // A job settled at 0 (issue #19: a replica that disagreed, or a group without quorum) owes nothing, paid or not.
    const onLedger = record?.paid || record?.cost === 0 ? record.cost : undefined;
    if (onLedger !== job.cost) differences.push({ kind: 'job', id: job.jobId, readModel: job.cost, ledger: onLedger });
  }
  return { accounts: accounts.length, jobs: settledJobs.length, differences };
}
