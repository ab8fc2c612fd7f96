import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { applyBatch } from './batch';
import { readController, recordController } from './guard';
import { confirmReceipt, createJob, failJob, getJob, getProvider, jobHistory, listJobs, registerProvider, setRuntime } from './jobs';
import { MONITORING_CONTRACT } from './names';
import { controllerSubmit, evaluate, openSubmit } from './run';
import { Tx } from './state';
import { canonicalJson } from './canonical-json';
import { parseIntegerArg, parseObjectArg } from './validate';
import { getReplicaGroup, providerOutcomes } from './verification';

/**
 * The monitoring ledger: providers and their keys, one record per job, and the batch entry point
 * the controller's ledger outbox uses. Every transaction returns canonical JSON.
 */
@Info({ title: 'MonitoringContract', description: 'ChainFaaS monitoring ledger: providers, jobs, run-time reports and receipts' })
export class MonitoringContract extends Contract {
  constructor() {
    super(MONITORING_CONTRACT);
  }

  /** Records the caller as the controller. Run once at deployment; refused afterwards (see guard.ts). */
  @Transaction()
  @Returns('string')
  async InitLedger(ctx: Context): Promise<string> {
    const tx = Tx.begin(ctx);
    const controller = await recordController(tx);
    await tx.commit();
    return canonicalJson(controller);
  }

  /** The recorded controller identity, or null before InitLedger. */
  @Transaction(false)
  @Returns('string')
  async GetController(ctx: Context): Promise<string> {
    return evaluate(ctx, (tx) => readController(tx));
  }

  /** Controller only: registers a provider, its payout account and its Ed25519 public key (SPKI PEM). */
  @Transaction()
  @Returns('string')
  async RegisterProvider(ctx: Context, providerId: string, accountId: string, publicKeyPem: string): Promise<string> {
    return controllerSubmit(ctx, 'register providers', async (tx) => {
      await registerProvider(tx, providerId, accountId, publicKeyPem);
      return getProvider(tx, providerId);
    });
  }

  @Transaction(false)
  @Returns('string')
  async GetProvider(ctx: Context, providerId: string): Promise<string> {
    return evaluate(ctx, (tx) => getProvider(tx, providerId));
  }

  /** Controller only: records a job; `jobJson` is the CreateJob ledger event (its `type` is ignored). */
  @Transaction()
  @Returns('string')
  async CreateJob(ctx: Context, jobJson: string): Promise<string> {
    return controllerSubmit(ctx, 'create jobs', async (tx) => {
      const input = parseObjectArg('jobJson', jobJson);
      await createJob(tx, input);
      return getJob(tx, input.jobId);
    });
  }

  /**
   * Records a provider's signed run-time report. Anyone may submit it: what authorises it is the
   * Ed25519 signature of the job's assigned provider over `reportCanonicalJson`.
   */
  @Transaction()
  @Returns('string')
  async SetRuntime(ctx: Context, jobId: string, reportCanonicalJson: string, signatureB64: string): Promise<string> {
    return openSubmit(ctx, async (tx) => {
      await setRuntime(tx, jobId, reportCanonicalJson, signatureB64);
      return getJob(tx, jobId);
    });
  }

  /** Controller only: confirms the job's result arrived, with its SHA-256 and size in bytes. */
  @Transaction()
  @Returns('string')
  async ConfirmReceipt(ctx: Context, jobId: string, resultSha256: string, resultSize: string): Promise<string> {
    return controllerSubmit(ctx, 'confirm receipts', async (tx) => {
      await confirmReceipt(tx, jobId, resultSha256, parseIntegerArg('resultSize', resultSize));
      return getJob(tx, jobId);
    });
  }

  /** Controller only: fails a job that will not be paid. */
  @Transaction()
  @Returns('string')
  async FailJob(ctx: Context, jobId: string, reason: string): Promise<string> {
    return controllerSubmit(ctx, 'fail jobs', async (tx) => {
      await failJob(tx, jobId, reason);
      return getJob(tx, jobId);
    });
  }

  /**
   * Controller only: applies a JSON array of ledger events in order, in this one transaction.
   * Returns one `{ok, error?, duplicate?}` per event; a refused event does not stop the others.
   */
  @Transaction()
  @Returns('string')
  async SubmitBatch(ctx: Context, eventsJson: string): Promise<string> {
    return controllerSubmit(ctx, 'submit batches', (tx) => applyBatch(tx, eventsJson));
  }

  /** The job record, or null. */
  @Transaction(false)
  @Returns('string')
  async GetJob(ctx: Context, jobId: string): Promise<string> {
    return evaluate(ctx, (tx) => getJob(tx, jobId));
  }

  /** Every committed version of the job record, oldest first. */
  @Transaction(false)
  @Returns('string')
  async GetJobHistory(ctx: Context, jobId: string): Promise<string> {
    return evaluate(ctx, (tx) => jobHistory(tx, jobId));
  }

  @Transaction(false)
  @Returns('string')
  async QueryJobsByDeveloper(ctx: Context, developerId: string): Promise<string> {
    return evaluate(ctx, (tx) => listJobs(tx, 'developer', developerId));
  }

  /** A replicated job's quorum decision (verification.ts): replicas, their providers and hashes, the verdicts, who was paid; or null. */
  @Transaction(false)
  @Returns('string')
  async GetReplicaGroup(ctx: Context, groupId: string): Promise<string> {
    return evaluate(ctx, (tx) => getReplicaGroup(tx, groupId));
  }

  /** A provider's raw verification outcomes (agreed, disagreed, missed, inconclusive), oldest first: its reputation is computed from these. */
  @Transaction(false)
  @Returns('string')
  async GetProviderOutcomes(ctx: Context, providerId: string): Promise<string> {
    return evaluate(ctx, (tx) => providerOutcomes(tx, providerId));
  }

  @Transaction(false)
  @Returns('string')
  async QueryJobsByProvider(ctx: Context, providerId: string): Promise<string> {
    return evaluate(ctx, (tx) => listJobs(tx, 'provider', providerId));
  }
}
