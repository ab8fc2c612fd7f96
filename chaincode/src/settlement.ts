import { balanceOf, credit, debit, getAccount } from './balances';
import { keys, keyTypes } from './keys';
import { Job, Provider, Settlement } from './models';
import { invoiceJob, owedBy, termsOf } from './invoices';
import { isBilledOutcome, jobCost } from './pricing';
import type { Tx } from './state';

/**
 * Settlement: when a job has both the provider's run time and the controller's receipt — in
 * either order — its cost is computed from its billing units (for at most its timeout, however
 * long the report says the run took) and moved from the developer's
 * account (the account whose id is the job's developerId) to the provider's account, in the same
 * transaction that supplied the second half. Every settlement, paid or not, is announced in the
 * transaction's `BalanceMovements` event.
 *
 * A job is settled once. If it cannot be paid (insufficient funds, an account that does not exist
 * yet), it keeps its record with `paid: false` and the reason, no balance goes negative, and it is
 * listed as unpaid: the developer's next top-up pays it. A receipt that does not match the
 * provider's report is a dispute, settled unpaid and never retried.
 *
 * A developer on invoice terms (invoices.ts, invoicing.ts) is not debited: the provider is paid and the cost is
 * added to the developer's invoice for the month the job was created, if what the developer owes
 * then stays within its credit limit; otherwise the job waits unpaid for a bill payment or a
 * higher limit.
 */

interface UnpaidMarker {
  jobId: string;
}

type Decision =
  | { paid: true; cost: number; payeeAccountId?: string; invoiced?: boolean }
  | { paid: false; cost: number; reason: string; retriable: boolean; payeeAccountId?: string };

/** Settles `job` if it is ready (run time and receipt present, not paid, not failed; a replica: decided), and writes it. */
export async function settleIfReady(tx: Tx, job: Job): Promise<void> {
  if (!readyToSettle(job)) return;
  const decision = await decide(tx, job);
  if (!decision.paid && decision.retriable) {
    tx.state.put(keys.unpaid(tx.state, job.developerId, job.createdAt, job.jobId), { jobId: job.jobId } satisfies UnpaidMarker);
  }
  await apply(tx, job, decision);
}

/** Pays the developer's unpaid jobs, oldest first, that can now be paid; leaves the rest untouched. */
export async function retryUnpaidJobs(tx: Tx, developerId: string): Promise<void> {
  const unpaid = await tx.state.listByPartialKey<UnpaidMarker>(keyTypes.unpaid, [developerId]);
  for (const marker of unpaid) {
    const job = await tx.state.get<Job>(keys.job(tx.state, marker.value.jobId));
    if (!job || !readyToSettle(job)) {
      tx.state.delete(marker.key);
      continue;
    }
    const decision = await decide(tx, job);
    if (decision.paid) await apply(tx, job, decision);
  }
}

/**
 * The run time a job is paid for: the provider's report, at most the timeout, and at most what
 * the controller saw pass between assigning the attempt and accepting its report, both instants on
 * the controller's clock and recorded here (`assignedAt` from CreateJob, `reportAcceptedAt` from
 * the receipt), so the ledger applies the bound itself even to a report submitted to it directly.
 * A job recorded before those instants were kept has the timeout bound only.
 */
export function billedRuntimeMs(job: Pick<Job, 'runtimeMs' | 'resources' | 'assignedAt' | 'reportAcceptedAt'>): number {
  const bounds = [job.runtimeMs as number, job.resources.timeoutS * 1000];
  if (job.assignedAt !== undefined && job.reportAcceptedAt !== undefined) {
    bounds.push(Math.max(0, Date.parse(job.reportAcceptedAt) - Date.parse(job.assignedAt)));
  }
  return Math.min(...bounds);
}

function readyToSettle(job: Job): boolean {
  // A replica waits for its group's quorum decision (verification.ts) before it is settled.
  if (job.replicaOf !== undefined && job.verdict === undefined) return false;
  return job.runtimeMs !== undefined && job.received === true && !job.paid && job.failed === undefined;
}

/** The run time a job is paid for: an agreed replica's is the median of its group's agreeing replicas (verification.ts). */
function paidRuntimeMs(job: Job): number {
  return job.verdict === 'agreed' && job.verifiedBilledMs !== undefined ? job.verifiedBilledMs : billedRuntimeMs(job);
}

async function decide(tx: Tx, job: Job): Promise<Decision> {
  const reported = JSON.parse(job.runtimeReport as string) as { resultSha256: string; resultSize: number };
  if (job.verdict !== undefined && job.verdict !== 'agreed') {
    const reason = job.verdict === 'disagreed' ? "the replica's result disagreed with its group's quorum" : 'its group reached no quorum';
    return { paid: false, cost: 0, reason, retriable: false };
  }
  const billed = isBilledOutcome(job.status ?? 'failed', job.failureReason);
  const billedMs = paidRuntimeMs(job);
  const cost = billed ? jobCost(job.resources, job.billing, billedMs, job.maxCost) : 0;
  if (reported.resultSha256 !== job.resultSha256 || reported.resultSize !== job.resultSize) {
    const reason =
      `the controller received a result (sha256 ${job.resultSha256}, ${job.resultSize} bytes) that differs from ` +
      `the provider's report (sha256 ${reported.resultSha256}, ${reported.resultSize} bytes)`;
    return { paid: false, cost, reason, retriable: false };
  }
  if (cost === 0) return { paid: true, cost };
  const provider = await tx.state.get<Provider>(keys.provider(tx.state, job.providerId));
  if (!provider) return { paid: false, cost, reason: `provider ${job.providerId} is not registered`, retriable: true };
  const payeeAccountId = provider.accountId;
  if (!(await getAccount(tx, payeeAccountId))) {
    return { paid: false, cost, reason: `the provider's account ${payeeAccountId} does not exist`, retriable: true, payeeAccountId };
  }
  if (!(await getAccount(tx, job.developerId))) {
    return { paid: false, cost, reason: `the developer's account ${job.developerId} does not exist`, retriable: true, payeeAccountId };
  }
  const terms = await termsOf(tx, job.developerId);
  if (terms.terms === 'invoice') {
    const owed = await owedBy(tx, job.developerId);
    if (owed + cost > terms.creditLimit) {
      const reason = `credit limit reached: account ${job.developerId} owes ${owed} of its ${terms.creditLimit} limit, the job costs ${cost}`;
      return { paid: false, cost, reason, retriable: true, payeeAccountId };
    }
    return { paid: true, cost, payeeAccountId, invoiced: true };
  }
  const balance = await balanceOf(tx, job.developerId);
  if (balance < cost) {
    return {
      paid: false,
      cost,
      reason: `insufficient funds: account ${job.developerId} has ${balance}, the job costs ${cost}`,
      retriable: true,
      payeeAccountId,
    };
  }
  return { paid: true, cost, payeeAccountId };
}

async function apply(tx: Tx, job: Job, decision: Decision): Promise<void> {
  const settled: Job = { ...job, cost: decision.cost, billedMs: paidRuntimeMs(job) };
  if (decision.paid) {
    if (decision.cost > 0 && decision.payeeAccountId !== undefined) {
      if (decision.invoiced) await invoiceJob(tx, job.developerId, invoiceMonth(job), decision.cost);
      else await debit(tx, job.developerId, decision.cost, 'settlement', job.jobId);
      await credit(tx, decision.payeeAccountId, decision.cost, 'settlement', job.jobId);
    }
    settled.paid = true;
    settled.paidAt = tx.timestamp;
    if (job.unpaidReason !== undefined) {
      delete settled.unpaidReason;
      tx.state.delete(keys.unpaid(tx.state, job.developerId, job.createdAt, job.jobId));
    }
  } else {
    settled.unpaidReason = decision.reason;
  }
  tx.state.put(keys.job(tx.state, job.jobId), settled);
  const settlement: Settlement = {
    jobId: job.jobId,
    developerId: job.developerId,
    providerId: job.providerId,
    payerAccountId: job.developerId,
    payeeAccountId: decision.payeeAccountId,
    cost: decision.cost,
    paid: decision.paid,
    reason: decision.paid ? undefined : decision.reason,
    invoiced: decision.paid && decision.invoiced && decision.cost > 0 ? true : undefined,
    month: decision.paid && decision.invoiced && decision.cost > 0 ? invoiceMonth(job) : undefined,
  };
  tx.settlements.push(settlement);
}

/** The month (UTC) whose invoice a job's cost goes to: the month the job was created on the ledger. */
function invoiceMonth(job: Job): string {
  return job.createdAt.slice(0, 7);
}
