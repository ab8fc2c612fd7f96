import type { BalanceMovements as ChaincodeMovements, Job } from '../../../chaincode/src/models';
import { MONETARY_CONTRACT, MONITORING_CONTRACT } from '../../../chaincode/src/names';
import type { OutcomeRecord, ReplicaGroupRecord } from '../../../chaincode/src/verification';
import type {
  AccountEntry,
  BalanceMovements,
  HistoryEntry,
  Ledger,
  LedgerBilling,
  LedgerEvent,
  LedgerEventResult,
  LedgerJob,
  LedgerOutcome,
  LedgerPayout,
  LedgerReplicaGroup,
  SubmitResult,
} from '../../core/ledger';

/**
 * The `Ledger` port in terms of chaincode transactions. FabricLedger and EmbeddedLedger differ
 * only in how a transaction reaches the contracts; both extend this.
 */

/** A contract of the ChainFaaS chaincode. */
export type ContractName = typeof MONITORING_CONTRACT | typeof MONETARY_CONTRACT;

/** A refusal or failure reported by the chaincode, with the chaincode's own message. */
export class ChaincodeError extends Error {
  constructor(
    readonly transaction: string,
    message: string,
  ) {
    super(message);
    this.name = 'ChaincodeError';
  }
}

export abstract class ContractLedger implements Ledger {
  /** Submits a transaction for ordering and commit; resolves once it is committed. */
  protected abstract submitTx(contract: ContractName, transaction: string, args: string[]): Promise<{ txId: string; result: string }>;
  /** Runs a transaction as a query; nothing is committed. */
  protected abstract evaluateTx(contract: ContractName, transaction: string, args: string[]): Promise<string>;
  abstract close(): Promise<void>;

  async submit(events: LedgerEvent[]): Promise<SubmitResult> {
    const { txId, result } = await this.submitTx(MONITORING_CONTRACT, 'SubmitBatch', [JSON.stringify(events)]);
    return { txId, results: JSON.parse(result) as LedgerEventResult[] };
  }

  async getJob(jobId: string): Promise<LedgerJob | undefined> {
    const job = JSON.parse(await this.evaluateTx(MONITORING_CONTRACT, 'GetJob', [jobId])) as Job | null;
    return job === null ? undefined : toLedgerJob(job);
  }

  async getJobHistory(jobId: string): Promise<HistoryEntry<LedgerJob>[]> {
    const versions = JSON.parse(await this.evaluateTx(MONITORING_CONTRACT, 'GetJobHistory', [jobId])) as HistoryEntry<Job>[];
    return versions.map((version) => ({ ...version, value: version.value === null ? null : toLedgerJob(version.value) }));
  }

  async getBalance(accountId: string): Promise<number> {
    return JSON.parse(await this.evaluateTx(MONETARY_CONTRACT, 'GetBalance', [accountId])) as number;
  }

  async getAccountHistory(accountId: string): Promise<AccountEntry[]> {
    return JSON.parse(await this.evaluateTx(MONETARY_CONTRACT, 'GetAccountHistory', [accountId])) as AccountEntry[];
  }

  async getBilling(accountId: string): Promise<LedgerBilling> {
    return JSON.parse(await this.evaluateTx(MONETARY_CONTRACT, 'GetBilling', [accountId])) as LedgerBilling;
  }

  async getPayouts(accountId: string): Promise<LedgerPayout[]> {
    return JSON.parse(await this.evaluateTx(MONETARY_CONTRACT, 'GetPayouts', [accountId])) as LedgerPayout[];
  }

  async getReplicaGroup(groupId: string): Promise<LedgerReplicaGroup | undefined> {
    const group = JSON.parse(await this.evaluateTx(MONITORING_CONTRACT, 'GetReplicaGroup', [groupId])) as ReplicaGroupRecord | null;
    return group === null ? undefined : (group satisfies LedgerReplicaGroup);
  }

  async getProviderOutcomes(providerId: string): Promise<LedgerOutcome[]> {
    return JSON.parse(await this.evaluateTx(MONITORING_CONTRACT, 'GetProviderOutcomes', [providerId])) as OutcomeRecord[] satisfies LedgerOutcome[];
  }
}

/** The chaincode's job record is the port's LedgerJob (the compiler checks they agree). */
function toLedgerJob(job: Job): LedgerJob {
  return job;
}

/** Reads a `BalanceMovements` chaincode event payload committed in block `blockNumber`. */
export function parseBalanceMovements(payload: string, blockNumber: number): BalanceMovements {
  const movements = JSON.parse(payload) as ChaincodeMovements;
  const parsed: BalanceMovements = {
    blockNumber,
    txId: movements.txId,
    timestamp: movements.timestamp,
    settlements: movements.settlements,
    topUps: movements.topUps,
  };
  if (movements.billPayments) parsed.billPayments = movements.billPayments;
  if (movements.terms) parsed.terms = movements.terms;
  if (movements.adjustments) parsed.adjustments = movements.adjustments;
  return parsed;
}
