import { Object as DataType, Property } from 'fabric-contract-api';

/**
 * The records the chaincode keeps in world state and returns to clients. Each is a class so that
 * the contract metadata (`GetMetadata`) describes it; values are always written through
 * `TxState.put`, which serialises them deterministically.
 */

/** Who the controller is: recorded once by `InitLedger`, checked by every controller-only transaction. */
@DataType()
export class ControllerIdentity {
  @Property('mspId', 'string') mspId = '';
  /** The client identity string Fabric derives from the certificate (`x509::<subject>::<issuer>`). */
  @Property('clientId', 'string') clientId = '';
  @Property('recordedAt', 'string') recordedAt = '';
}

/** A compute provider and the Ed25519 key its run-time reports are signed with. */
@DataType()
export class Provider {
  @Property('providerId', 'string') providerId = '';
  /** The monetary account the provider is paid into. */
  @Property('accountId', 'string') accountId = '';
  /** SPKI PEM of the provider's Ed25519 public key. */
  @Property('publicKeyPem', 'string') publicKeyPem = '';
  @Property('registeredAt', 'string') registeredAt = '';
}

/** A monetary account. Its balance is not stored here: it is the sum of its balance delta keys. */
@DataType()
export class Account {
  @Property('accountId', 'string') accountId = '';
  @Property('owner', 'string') owner = '';
  @Property('openedAt', 'string') openedAt = '';
}

/** What a job reserved on its provider. */
@DataType()
export class JobResources {
  @Property('vcpu', 'number') vcpu = 0;
  @Property('memoryMb', 'number') memoryMb = 0;
  @Property('timeoutS', 'number') timeoutS = 0;
  /** Scratch space, MB (issue #23); absent on jobs created before it. */
  @Property('diskMb', 'number') diskMb?: number;
}

/** The price list a job was created under: micro-credits per vCPU-ms and per MB-ms. */
@DataType()
export class JobBilling {
  @Property('version', 'number') version = 0;
  @Property('vcpuMs', 'number') vcpuMs = 0;
  @Property('mbMs', 'number') mbMs = 0;
  /** Per MB-ms of scratch space (issue #23); absent: 0. */
  @Property('diskMbMs', 'number') diskMbMs?: number;
}

/**
 * One job on the monitoring ledger. Created by the controller (`CreateJob`), completed by the
 * provider's signed report (`SetRuntime`) and the controller's receipt (`ConfirmReceipt`), and
 * settled when both are present.
 */
@DataType()
export class Job {
  @Property('jobId', 'string') jobId = '';
  @Property('developerId', 'string') developerId = '';
  @Property('providerId', 'string') providerId = '';
  @Property('functionId', 'string') functionId = '';
  @Property('functionVersion', 'number') functionVersion = 0;
  @Property('resources', 'JobResources') resources = new JobResources();
  @Property('billing', 'JobBilling') billing = new JobBilling();
  /** Upper bound on the cost, micro-credits. */
  @Property('maxCost', 'number') maxCost = 0;
  @Property('createdAt', 'string') createdAt = '';
  /** When the controller assigned the current attempt (its clock), from `CreateJob`; absent on older jobs. */
  @Property('assignedAt', 'string') assignedAt?: string;

  /** The provider's run-time report exactly as signed (canonical JSON). */
  @Property('runtimeReport', 'string') runtimeReport?: string;
  @Property('runtimeSignature', 'string') runtimeSignature?: string;
  @Property('runtimeMs', 'number') runtimeMs?: number;
  @Property('exitCode', 'number') exitCode?: number | null;
  @Property('status', 'string') status?: 'succeeded' | 'failed';
  /** The report's failure reason when `status` is failed. */
  @Property('failureReason', 'string') failureReason?: string;
  @Property('runtimeSetAt', 'string') runtimeSetAt?: string;

  @Property('received', 'boolean') received?: boolean;
  @Property('resultSha256', 'string') resultSha256?: string;
  @Property('resultSize', 'number') resultSize?: number;
  @Property('receivedAt', 'string') receivedAt?: string;
  /** When the controller accepted the run-time report (its clock), from the receipt; absent on older jobs. */
  @Property('reportAcceptedAt', 'string') reportAcceptedAt?: string;
  /**
   * The run time paid for, ms: the report's, at most the timeout and at most what the controller
   * saw pass between assigning the attempt and accepting its report (`reportAcceptedAt − assignedAt`).
   */
  @Property('billedMs', 'number') billedMs?: number;

  /** Micro-credits, set when the job is settled (paid or not). */
  @Property('cost', 'number') cost?: number;
  @Property('paid', 'boolean') paid = false;
  @Property('paidAt', 'string') paidAt?: string;
  /** Why a settled job was not paid (insufficient funds, missing account, result mismatch). */
  @Property('unpaidReason', 'string') unpaidReason?: string;

  /** The controller's reason when it failed the job (`FailJob`); such a job is never paid. */
  @Property('failed', 'string') failed?: string;
  @Property('failedAt', 'string') failedAt?: string;

  /**
   * Replication (issue #19): the group (the developer's job id) this job is one replica of. A
   * replica is settled only after the group's quorum decision (`DecideReplicas`, verification.ts).
   */
  @Property('replicaOf', 'string') replicaOf?: string;
  /** The decision's verdict on this replica: agreed with the quorum, disagreed, or no quorum was reached. */
  @Property('verdict', 'string') verdict?: 'agreed' | 'disagreed' | 'no-quorum';
  /** An agreed replica's run time paid for: the median of the agreeing replicas' billed times. */
  @Property('verifiedBilledMs', 'number') verifiedBilledMs?: number;
}

/** One credit or debit on an account. */
@DataType()
export class AccountEntry {
  @Property('txId', 'string') txId = '';
  @Property('timestamp', 'string') timestamp = '';
  /** positive = credit, negative = debit */
  @Property('amount', 'number') amount = 0;
  @Property('kind', 'string') kind: 'topup' | 'settlement' | 'billpayment' | 'payout' | 'payoutreturn' | 'reversal' = 'topup';
  /**
   * The top-up's payment reference, the settled job's id, the paid bill's reference
   * (`bill:<account>:<month>`), a payout's (`payout:<payoutId>`, its request and its return) or a
   * reversal's (the refund's or dispute's reference).
   */
  @Property('reference', 'string') reference = '';
}

/** A top-up, kept under its payment reference so that a replayed top-up credits once. */
@DataType()
export class TopUpRecord {
  @Property('reference', 'string') reference = '';
  @Property('accountId', 'string') accountId = '';
  @Property('amount', 'number') amount = 0;
  @Property('txId', 'string') txId = '';
  @Property('timestamp', 'string') timestamp = '';
}

/** The outcome of settling one job, as reported in the `BalanceMovements` chaincode event. */
@DataType()
export class Settlement {
  @Property('jobId', 'string') jobId = '';
  @Property('developerId', 'string') developerId = '';
  @Property('providerId', 'string') providerId = '';
  /** The account debited (the developer's). */
  @Property('payerAccountId', 'string') payerAccountId = '';
  /** The account credited (the provider's), when the provider is registered. */
  @Property('payeeAccountId', 'string') payeeAccountId?: string;
  @Property('cost', 'number') cost = 0;
  @Property('paid', 'boolean') paid = false;
  @Property('reason', 'string') reason?: string;
  /**
   * Invoice terms: the provider was paid, the payer's balance was not debited; the cost was added
   * to what the payer owes for `month` (its invoice), to be paid with `PayBill`.
   */
  @Property('invoiced', 'boolean') invoiced?: boolean;
  @Property('month', 'string') month?: string;
}

/** An account's payment terms. Without a record an account is prepaid (jobs are paid from its balance). */
@DataType()
export class AccountTerms {
  @Property('accountId', 'string') accountId = '';
  @Property('terms', 'string') terms: 'prepaid' | 'invoice' = 'prepaid';
  /** Invoice terms: the most the account may owe (unpaid invoices), micro-credits; 0 for prepaid. */
  @Property('creditLimit', 'number') creditLimit = 0;
  @Property('setAt', 'string') setAt = '';
}

/**
 * What an invoice-terms account owes for one month: the cost of its jobs created that month and
 * settled on invoice terms (`amount`), and what `PayBill` has paid of it (`paidAmount`). The
 * account owes `amount - paidAmount`; the sum over its invoices is bounded by its credit limit.
 */
@DataType()
export class Invoice {
  @Property('accountId', 'string') accountId = '';
  @Property('month', 'string') month = '';
  @Property('amount', 'number') amount = 0;
  @Property('jobs', 'number') jobs = 0;
  @Property('paidAmount', 'number') paidAmount = 0;
  /** The last payment: its amount (a replay of it is a duplicate), transaction and time. */
  @Property('lastPayment', 'number') lastPayment?: number;
  @Property('paidTxId', 'string') paidTxId?: string;
  @Property('paidAt', 'string') paidAt?: string;
}

/** An account's terms, what it owes in all, and its invoices (oldest month first): `GetBilling`. */
@DataType()
export class AccountBilling {
  @Property('accountId', 'string') accountId = '';
  @Property('terms', 'string') terms: 'prepaid' | 'invoice' = 'prepaid';
  @Property('creditLimit', 'number') creditLimit = 0;
  @Property('owed', 'number') owed = 0;
  @Property('invoices', 'Invoice[]') invoices: Invoice[] = [];
}

/** A bill paid from the account's balance, as reported in the `BalanceMovements` chaincode event. */
@DataType()
export class BillPaymentMovement {
  @Property('accountId', 'string') accountId = '';
  @Property('month', 'string') month = '';
  @Property('amount', 'number') amount = 0;
  @Property('reference', 'string') reference = '';
}

/** New payment terms of an account, as reported in the `BalanceMovements` chaincode event. */
@DataType()
export class TermsMovement {
  @Property('accountId', 'string') accountId = '';
  @Property('terms', 'string') terms: 'prepaid' | 'invoice' = 'prepaid';
  @Property('creditLimit', 'number') creditLimit = 0;
}

/** A credited top-up, as reported in the `BalanceMovements` chaincode event. */
@DataType()
export class TopUpMovement {
  @Property('accountId', 'string') accountId = '';
  @Property('amount', 'number') amount = 0;
  @Property('reference', 'string') reference = '';
}

/**
 * Payload of the `BalanceMovements` chaincode event: every balance change one transaction made.
 * Fabric keeps one event per transaction, so a batch reports all its movements in one payload.
 */
@DataType()
export class BalanceMovements {
  @Property('txId', 'string') txId = '';
  @Property('timestamp', 'string') timestamp = '';
  @Property('settlements', 'Settlement[]') settlements: Settlement[] = [];
  @Property('topUps', 'TopUpMovement[]') topUps: TopUpMovement[] = [];
  /** Bills paid from balances (invoice terms); absent in events of older chaincode versions. */
  @Property('billPayments', 'BillPaymentMovement[]') billPayments?: BillPaymentMovement[];
  /** Accounts whose payment terms changed; absent in events of older chaincode versions. */
  @Property('terms', 'TermsMovement[]') terms?: TermsMovement[];
  /** Payouts, their returns and reversals; absent in events of older chaincode versions. */
  @Property('adjustments', 'AdjustmentMovement[]') adjustments?: AdjustmentMovement[];
}

/** A provider's withdrawal: moved out of the balance when requested, then paid or returned once (payouts.ts). */
@DataType()
export class Payout {
  @Property('payoutId', 'string') payoutId = '';
  @Property('accountId', 'string') accountId = '';
  /** Micro-credits taken from the balance; the transfer sends `amount - fee`. */
  @Property('amount', 'number') amount = 0;
  @Property('fee', 'number') fee = 0;
  @Property('status', 'string') status: 'pending' | 'paid' | 'failed' = 'pending';
  @Property('requestedAt', 'string') requestedAt = '';
  @Property('requestedTxId', 'string') requestedTxId = '';
  /** The payment provider's transfer, when paid. */
  @Property('transferId', 'string') transferId?: string;
  @Property('failureReason', 'string') failureReason?: string;
  @Property('settledAt', 'string') settledAt?: string;
  @Property('settledTxId', 'string') settledTxId?: string;
}

/** A top-up taken back (refund, dispute), kept under its reference so that it is taken once. */
@DataType()
export class Reversal {
  @Property('reference', 'string') reference = '';
  @Property('accountId', 'string') accountId = '';
  @Property('amount', 'number') amount = 0;
  @Property('txId', 'string') txId = '';
  @Property('timestamp', 'string') timestamp = '';
}

/** A balance change outside settlement, top-up and bill payment (a payout, its return, a reversal), signed, in the `BalanceMovements` event. */
@DataType()
export class AdjustmentMovement {
  @Property('accountId', 'string') accountId = '';
  /** Negative for a payout or a reversal, positive for a returned payout. */
  @Property('amount', 'number') amount = 0;
  @Property('kind', 'string') kind: 'payout' | 'payoutreturn' | 'reversal' = 'payout';
  @Property('reference', 'string') reference = '';
}

/** The result of one event in `SubmitBatch`. */
@DataType()
export class EventResult {
  @Property('ok', 'boolean') ok = false;
  @Property('error', 'string') error?: string;
  /** True when the event repeated one already on the ledger exactly, and so changed nothing. */
  @Property('duplicate', 'boolean') duplicate?: boolean;
}
