import type { Resources } from '../../contract/src';

/**
 * The `Ledger` port: how the controller talks to the monitoring and monetary ledgers.
 * Two implementations live in lambdas/adapters/ledger/: `FabricLedger` (real peers through
 * @hyperledger/fabric-gateway) and `EmbeddedLedger` (the same chaincode contract classes run
 * in-process over a persistent, hash-chained store). Amounts are integer micro-credits.
 */

/** Price list in force when a job is created; the chaincode prices the job with it. */
export interface BillingUnits {
  version: number;
  /** micro-credits per vCPU-millisecond */
  vcpuMs: number;
  /** micro-credits per MB-millisecond */
  mbMs: number;
  /** micro-credits per MB-millisecond of scratch space (issue #23); absent: 0 (a price list published before it) */
  diskMbMs?: number;
}

export type LedgerEvent =
  | { type: 'OpenAccount'; accountId: string; owner: string }
  | { type: 'TopUp'; accountId: string; amount: number; reference: string }
  | { type: 'RegisterProvider'; providerId: string; accountId: string; publicKeyPem: string }
  | {
      type: 'CreateJob';
      jobId: string;
      developerId: string;
      providerId: string;
      functionId: string;
      functionVersion: number;
      resources: Resources;
      billing: BillingUnits;
      /** Upper bound on the cost, micro-credits (the function's max price or the worst case). */
      maxCost: number;
      /** When the controller assigned this attempt (its clock): with the receipt's `acceptedAt` it bounds the run time paid for. */
      assignedAt?: string;
      /** Issue #19: this job is one replica of the group (the developer's job id); settled after `DecideReplicas`. */
      replicaOf?: string;
    }
  /** `report` is the provider's run-time report exactly as signed (canonical JSON string). */
  | { type: 'SetRuntime'; jobId: string; report: string; signature: string }
  /** `acceptedAt`: when the controller accepted the run-time report (its clock). */
  | { type: 'ConfirmReceipt'; jobId: string; resultSha256: string; resultSize: number; acceptedAt?: string }
  | { type: 'FailJob'; jobId: string; reason: string }
  /** Issue #19: the ledger decides the group's quorum over the replicas' signed result hashes, pays the agreeing ones (chaincode/src/verification.ts). */
  | { type: 'DecideReplicas'; groupId: string; quorum: number; replicas: string[] }
  /** Invoice terms (billing.ts): the account's terms and credit limit (0 for prepaid). */
  | { type: 'SetTerms'; accountId: string; terms: PaymentTerms; creditLimit: number }
  /** Pays the account's invoice of a closed month from its balance; `amount` is what is due (a replay pays nothing). */
  | { type: 'PayBill'; accountId: string; month: string; amount: number }
  /** Payouts (payouts.ts): moves `amount` out of the balance into a pending payout, checked against the balance in the same transaction. */
  | { type: 'RequestPayout'; accountId: string; payoutId: string; amount: number; fee: number }
  /** The payout's transfer went out (a replay with the same transfer is a duplicate; a returned payout is refused). */
  | { type: 'CompletePayout'; accountId: string; payoutId: string; transferId: string }
  /** The payout's transfer failed: its amount goes back to the balance, once (a paid payout is refused). */
  | { type: 'FailPayout'; accountId: string; payoutId: string; reason: string }
  /** A refunded or disputed top-up taken back from the balance, once per reference. */
  | { type: 'ReverseTopUp'; accountId: string; amount: number; reference: string };

/** `prepaid`: jobs are paid from the balance as they settle; `invoice`: they are owed (up to a credit limit) and paid by bill. */
export type PaymentTerms = 'prepaid' | 'invoice';

export type LedgerEventType = LedgerEvent['type'];

export interface LedgerEventResult {
  ok: boolean;
  /** Why the chaincode refused the event (forged signature, duplicate run time, unknown job...). */
  error?: string;
  /** The event repeated one already on the ledger exactly (a retried batch), and changed nothing. */
  duplicate?: boolean;
}

export interface SubmitResult {
  txId: string;
  results: LedgerEventResult[];
}

export interface LedgerJob {
  jobId: string;
  developerId: string;
  providerId: string;
  functionId: string;
  functionVersion: number;
  resources: Resources;
  billing: BillingUnits;
  maxCost: number;
  createdAt: string;
  runtimeMs?: number;
  exitCode?: number | null;
  status?: 'succeeded' | 'failed';
  runtimeSignature?: string;
  runtimeSetAt?: string;
  /** The provider's run-time report exactly as signed, so anyone can re-verify the signature. */
  runtimeReport?: string;
  /** The report's failure reason when `status` is failed. */
  failureReason?: string;
  received?: boolean;
  resultSha256?: string;
  resultSize?: number;
  receivedAt?: string;
  cost?: number;
  paid: boolean;
  paidAt?: string;
  /** Why a settled job was not paid (insufficient funds, missing account, result mismatch). */
  unpaidReason?: string;
  /** The controller's reason when it failed the job (`FailJob`); such a job is never paid. */
  failed?: string;
  failedAt?: string;
}

export interface HistoryEntry<T = unknown> {
  txId: string;
  timestamp: string;
  isDelete: boolean;
  value: T | null;
}

export interface AccountEntry {
  txId: string;
  timestamp: string;
  /** positive = credit, negative = debit */
  amount: number;
  kind: 'topup' | 'settlement' | 'billpayment' | 'payout' | 'payoutreturn' | 'reversal';
  reference: string;
}

/** A provider's payout on the monetary ledger: `amount` left the balance when requested; `failed` gave it back. */
export interface LedgerPayout {
  payoutId: string;
  accountId: string;
  amount: number;
  fee: number;
  status: 'pending' | 'paid' | 'failed';
  requestedAt: string;
  requestedTxId: string;
  transferId?: string;
  failureReason?: string;
  settledAt?: string;
  settledTxId?: string;
}

/** A balance change by a payout (negative), its return (positive) or a reversal (negative). */
export interface LedgerAdjustment {
  accountId: string;
  amount: number;
  kind: 'payout' | 'payoutreturn' | 'reversal';
  reference: string;
}

/** One job's settlement, as announced by the chaincode. */
export interface LedgerSettlement {
  jobId: string;
  developerId: string;
  providerId: string;
  /** The account debited: the developer's (its id is the developerId). */
  payerAccountId: string;
  /** The account credited: the provider's payout account, when the provider is registered. */
  payeeAccountId?: string;
  /** micro-credits; moved only when `paid` */
  cost: number;
  paid: boolean;
  /** Why it was not paid; an unpaid job is paid by its developer's next top-up. */
  reason?: string;
  /** Invoice terms: the provider was paid and the payer's balance was not debited; the cost is owed on the invoice of `month`. */
  invoiced?: boolean;
  month?: string;
}

/** A bill paid from an invoice-terms account's balance. */
export interface LedgerBillPayment {
  accountId: string;
  month: string;
  amount: number;
  reference: string;
}

/** An account's new payment terms. */
export interface LedgerTermsChange {
  accountId: string;
  terms: PaymentTerms;
  creditLimit: number;
}

/** What an invoice-terms account owes for one month (`amount` invoiced, `paidAmount` paid by bill). */
export interface LedgerInvoice {
  accountId: string;
  month: string;
  amount: number;
  jobs: number;
  paidAmount: number;
  lastPayment?: number;
  paidTxId?: string;
  paidAt?: string;
}

/** An account's terms, what it owes in all and its invoices (oldest month first), on the monetary ledger. */
export interface LedgerBilling {
  accountId: string;
  terms: PaymentTerms;
  creditLimit: number;
  owed: number;
  invoices: LedgerInvoice[];
}

export interface LedgerTopUp {
  accountId: string;
  amount: number;
  reference: string;
}

/**
 * Every balance change one committed ledger transaction made (the chaincode's `BalanceMovements`
 * event). Applying these in block order to zeroed balances reproduces the ledger's balances.
 */
export interface BalanceMovements {
  blockNumber: number;
  txId: string;
  timestamp: string;
  settlements: LedgerSettlement[];
  topUps: LedgerTopUp[];
  billPayments?: LedgerBillPayment[];
  terms?: LedgerTermsChange[];
  adjustments?: LedgerAdjustment[];
}

/** A feed of committed balance movements; the controller's read model follows it. */
export interface LedgerEventSource {
  /**
   * Calls `listener` for each committed transaction that moved a balance, in block order, one at a
   * time. With `fromBlock`, replays from that block first; without it, only new transactions.
   * Returns a function that stops the feed.
   */
  onBalanceMovements(listener: (movements: BalanceMovements) => void | Promise<void>, options?: { fromBlock?: number }): () => void;
}

export interface Ledger {
  /**
   * Applies the events, in order, in ONE ledger transaction (one Fabric transaction, one
   * embedded block). An event the chaincode refuses does not abort the others; its result says why.
   */
  submit(events: LedgerEvent[]): Promise<SubmitResult>;
  getJob(jobId: string): Promise<LedgerJob | undefined>;
  getJobHistory(jobId: string): Promise<HistoryEntry<LedgerJob>[]>;
  getBalance(accountId: string): Promise<number>;
  getAccountHistory(accountId: string): Promise<AccountEntry[]>;
  /** The account's terms, what it owes and its invoices (billing.ts). */
  getBilling?(accountId: string): Promise<LedgerBilling>;
  /** The account's payouts (payouts.ts). */
  getPayouts?(accountId: string): Promise<LedgerPayout[]>;
  /** Issue #19: a replicated job's quorum decision (chaincode/src/verification.ts), or undefined before it. */
  getReplicaGroup?(groupId: string): Promise<LedgerReplicaGroup | undefined>;
  /** Issue #19: a provider's raw verification outcomes, oldest first. */
  getProviderOutcomes?(providerId: string): Promise<LedgerOutcome[]>;
  close(): Promise<void>;
}

/** Issue #19: the chaincode's records of replication (the compiler checks they agree, contract-ledger.ts). */
export interface LedgerReplicaGroup {
  groupId: string;
  developerId: string;
  quorum: number;
  decision: 'agreed' | 'no-quorum';
  agreedSha256?: string;
  replicas: Array<{
    jobId: string;
    providerId: string;
    accountId?: string;
    resultSha256?: string;
    outcome: 'agreed' | 'disagreed' | 'missed' | 'inconclusive' | 'unchecked';
    billedMs?: number;
    paid: boolean;
  }>;
  decidedAt: string;
}

export interface LedgerOutcome {
  providerId: string;
  jobId: string;
  groupId: string;
  functionId?: string;
  functionVersion?: number;
  outcome: 'agreed' | 'disagreed' | 'missed' | 'inconclusive' | 'unchecked';
  decidedAt: string;
}
