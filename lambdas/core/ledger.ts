import type { Resources } from './schemas';

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
    }
  /** `report` is the provider's run-time report exactly as signed (canonical JSON string). */
  | { type: 'SetRuntime'; jobId: string; report: string; signature: string }
  | { type: 'ConfirmReceipt'; jobId: string; resultSha256: string; resultSize: number }
  | { type: 'FailJob'; jobId: string; reason: string };

export type LedgerEventType = LedgerEvent['type'];

export interface LedgerEventResult {
  ok: boolean;
  /** Why the chaincode refused the event (forged signature, duplicate run time, unknown job...). */
  error?: string;
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
  received?: boolean;
  resultSha256?: string;
  receivedAt?: string;
  cost?: number;
  paid: boolean;
  paidAt?: string;
  failed?: string;
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
  kind: 'topup' | 'settlement';
  reference: string;
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
  close(): Promise<void>;
}
