import type { TxState } from './state';

/**
 * Every world-state key the chaincode uses, as composite keys (so that related records can be
 * listed with a partial-key query). All live in the chaincode's one namespace, shared by both
 * contracts.
 */
export const keys = {
  controller: (s: TxState) => s.key('controller', []),
  provider: (s: TxState, providerId: string) => s.key('provider', [providerId]),
  job: (s: TxState, jobId: string) => s.key('job', [jobId]),
  /** Index: the jobs of a developer. */
  jobByDeveloper: (s: TxState, developerId: string, jobId: string) => s.key('jobByDeveloper', [developerId, jobId]),
  /** Index: the jobs run by a provider. */
  jobByProvider: (s: TxState, providerId: string, jobId: string) => s.key('jobByProvider', [providerId, jobId]),
  /** Index: settled-but-unpaid jobs of a developer, retried when the developer tops up. */
  unpaid: (s: TxState, developerId: string, createdAt: string, jobId: string) => s.key('unpaid', [developerId, createdAt, jobId]),
  account: (s: TxState, accountId: string) => s.key('account', [accountId]),
  /** One balance delta per account per transaction; the balance is their sum. */
  balanceDelta: (s: TxState, accountId: string, txId: string) => s.key('balance', [accountId, txId]),
  /** One history entry per credit or debit, ordered by transaction time. */
  entry: (s: TxState, accountId: string, timestamp: string, txId: string, sequence: string) => s.key('entry', [accountId, timestamp, txId, sequence]),
  topUp: (s: TxState, reference: string) => s.key('topUp', [reference]),
  /** The account's payment terms (absent: prepaid). */
  terms: (s: TxState, accountId: string) => s.key('terms', [accountId]),
  /** What an invoice-terms account owes for one month (`YYYY-MM`, the month its jobs were created on the ledger). */
  invoice: (s: TxState, accountId: string, month: string) => s.key('invoice', [accountId, month]),
  /** A provider's payout: pending, then paid or failed (payouts.ts). */
  payout: (s: TxState, accountId: string, payoutId: string) => s.key('payout', [accountId, payoutId]),
  /** A reversed (refunded or disputed) top-up, once per reference. */
  reversal: (s: TxState, reference: string) => s.key('reversal', [reference]),
  /** A replicated job's quorum decision (verification.ts), under the group's id. */
  replicaGroup: (s: TxState, groupId: string) => s.key('replicaGroup', [groupId]),
  /** A provider's raw verification outcome for one replica (agreed, disagreed, missed): its reputation is recomputed from these. */
  outcome: (s: TxState, providerId: string, decidedAt: string, jobId: string) => s.key('outcome', [providerId, decidedAt, jobId]),
};

/** Object types for partial-key listings (the first argument of `TxState.listByPartialKey`). */
export const keyTypes = {
  jobByDeveloper: 'jobByDeveloper',
  jobByProvider: 'jobByProvider',
  unpaid: 'unpaid',
  balanceDelta: 'balance',
  entry: 'entry',
  invoice: 'invoice',
  payout: 'payout',
  outcome: 'outcome',
} as const;
