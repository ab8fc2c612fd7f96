import { createPublicKey, KeyObject, verify } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { keys, keyTypes } from './keys';
import { Job, JobBilling, JobResources, Provider } from './models';
import { jobCost, RUNTIME_GRACE_MS } from './pricing';
import { settleIfReady } from './settlement';
import { timestampToIso, type Applied, type Tx } from './state';
import { requireId, requireInstant, requireInteger, requireNumber, requireObject, requireSha256, requireText } from './validate';

/** The monitoring ledger's operations, shared by MonitoringContract's transactions and the batch. */

const MAX_PEM_LENGTH = 1000;
const MAX_REPORT_LENGTH = 4096;
const MAX_REASON_LENGTH = 500;
const SIGNATURE = /^[A-Za-z0-9+/]{1,200}={0,2}$/;

/**
 * Registers a provider and the Ed25519 key its reports are signed with. Registering it again with
 * the same account and key is a duplicate; with another account or key, refused (keys are not
 * rotated under jobs already signed for).
 */
export async function registerProvider(tx: Tx, providerIdArg: unknown, accountIdArg: unknown, publicKeyPemArg: unknown): Promise<Applied> {
  const providerId = requireId('providerId', providerIdArg);
  const accountId = requireId('accountId', accountIdArg);
  const publicKeyPem = requireText('publicKeyPem', publicKeyPemArg, MAX_PEM_LENGTH);
  parseEd25519Key(publicKeyPem);
  const key = keys.provider(tx.state, providerId);
  const existing = await tx.state.get<Provider>(key);
  if (existing) {
    if (existing.accountId === accountId && existing.publicKeyPem === publicKeyPem) return 'duplicate';
    throw new Error(`provider ${providerId} is already registered with another account or key`);
  }
  const provider: Provider = { providerId, accountId, publicKeyPem, registeredAt: tx.timestamp };
  tx.state.put(key, provider);
  return 'applied';
}

export function getProvider(tx: Tx, providerIdArg: unknown): Promise<Provider | undefined> {
  return tx.state.get<Provider>(keys.provider(tx.state, requireId('providerId', providerIdArg)));
}

/**
 * Records a job the controller assigned to a provider. `input` is the job as an object (the
 * `CreateJob` ledger event without its `type`). Recording the same job again is a duplicate.
 * Recording it again with only another provider reassigns it (the controller re-queued it after
 * its provider went silent), as long as no run time or receipt is recorded and it is not failed;
 * the previous provider's report is refused from then on. Any other difference is refused.
 */
export async function createJob(tx: Tx, input: Record<string, unknown>): Promise<Applied> {
  const resources = requireObject('resources', input.resources);
  const billing = requireObject('billing', input.billing);
  const fields = {
    jobId: requireId('jobId', input.jobId),
    developerId: requireId('developerId', input.developerId),
    providerId: requireId('providerId', input.providerId),
    functionId: requireId('functionId', input.functionId),
    functionVersion: requireInteger('functionVersion', input.functionVersion, 1),
    resources: {
      vcpu: requireNumber('resources.vcpu', resources.vcpu, 0),
      memoryMb: requireInteger('resources.memoryMb', resources.memoryMb, 1),
      timeoutS: requireInteger('resources.timeoutS', resources.timeoutS, 1),
      // Scratch space (issue #23): absent on jobs created before it, and then absent on the ledger too.
      ...(resources.diskMb === undefined ? {} : { diskMb: requireInteger('resources.diskMb', resources.diskMb, 1) }),
    } satisfies JobResources,
    billing: {
      version: requireInteger('billing.version', billing.version),
      vcpuMs: requireNumber('billing.vcpuMs', billing.vcpuMs),
      mbMs: requireNumber('billing.mbMs', billing.mbMs),
      ...(billing.diskMbMs === undefined ? {} : { diskMbMs: requireNumber('billing.diskMbMs', billing.diskMbMs) }),
    } satisfies JobBilling,
    maxCost: requireInteger('maxCost', input.maxCost),
    // Replication (issue #19): a replica of a group, settled after the group's decision (verification.ts).
    ...(input.replicaOf === undefined ? {} : { replicaOf: requireId('replicaOf', input.replicaOf) }),
  };
  const assignedAt = input.assignedAt === undefined ? undefined : requireInstant('assignedAt', input.assignedAt);
  // Price the worst case now, so that a job the chaincode could not price is refused up front.
  jobCost(fields.resources, fields.billing, fields.resources.timeoutS * 1000, fields.maxCost);

  const key = keys.job(tx.state, fields.jobId);
  const existing = await tx.state.get<Job>(key);
  if (existing) {
    const recorded = {
      jobId: existing.jobId,
      developerId: existing.developerId,
      providerId: existing.providerId,
      functionId: existing.functionId,
      functionVersion: existing.functionVersion,
      resources: existing.resources,
      billing: existing.billing,
      maxCost: existing.maxCost,
      ...(existing.replicaOf === undefined ? {} : { replicaOf: existing.replicaOf }),
    };
    if (canonicalJson(recorded) === canonicalJson(fields)) return 'duplicate';
    if (canonicalJson({ ...recorded, providerId: fields.providerId }) !== canonicalJson(fields)) {
      throw new Error(`job ${fields.jobId} already exists with different details`);
    }
    if (existing.runtimeReport !== undefined || existing.received || existing.failed !== undefined) {
      throw new Error(`job ${fields.jobId} cannot move to provider ${fields.providerId}: it already has a run time, a receipt or a failure`);
    }
    tx.state.delete(keys.jobByProvider(tx.state, existing.providerId, existing.jobId));
    tx.state.put(keys.jobByProvider(tx.state, fields.providerId, existing.jobId), { jobId: existing.jobId });
    const reassigned: Job = { ...existing, providerId: fields.providerId, assignedAt };
    tx.state.put(key, reassigned);
    return 'applied';
  }
  const job: Job = { ...fields, createdAt: tx.timestamp, assignedAt, paid: false };
  tx.state.put(key, job);
  tx.state.put(keys.jobByDeveloper(tx.state, job.developerId, job.jobId), { jobId: job.jobId });
  tx.state.put(keys.jobByProvider(tx.state, job.providerId, job.jobId), { jobId: job.jobId });
  return 'applied';
}

/**
 * Records the provider's run-time report. Accepted only if the job exists and was not failed by
 * the controller, the report names this job and the job's assigned provider, the Ed25519
 * signature over the exact report string verifies against that provider's registered key, the run
 * time fits the job's timeout (with RUNTIME_GRACE_MS), and no run time was set before (the identical report and signature
 * again is a duplicate). Settles the job if its receipt is already there.
 */
export async function setRuntime(tx: Tx, jobIdArg: unknown, reportArg: unknown, signatureArg: unknown): Promise<Applied> {
  const jobId = requireId('jobId', jobIdArg);
  const reportText = requireText('report', reportArg, MAX_REPORT_LENGTH);
  if (typeof signatureArg !== 'string' || !SIGNATURE.test(signatureArg)) throw new Error('signature must be base64, at most 200 characters');
  const signature = signatureArg;
  const job = await requireJob(tx, jobId);
  if (job.failed !== undefined) throw new Error(`job ${jobId} was failed by the controller: ${job.failed}`);

  let parsed: unknown;
  try {
    parsed = JSON.parse(reportText);
  } catch {
    throw new Error('report is not valid JSON');
  }
  const report = requireObject('report', parsed);
  if (report.jobId !== jobId) throw new Error(`the report is for job ${String(report.jobId)}, not ${jobId}`);
  if (report.providerId !== job.providerId)
    throw new Error(`the report names provider ${String(report.providerId)}; job ${jobId} is assigned to ${job.providerId}`);
  const provider = await tx.state.get<Provider>(keys.provider(tx.state, job.providerId));
  if (!provider) throw new Error(`provider ${job.providerId} is not registered`);
  if (!signatureVerifies(reportText, signature, provider.publicKeyPem)) {
    throw new Error(`the report's signature does not verify against the key registered for provider ${job.providerId}`);
  }
  if (job.runtimeReport !== undefined) {
    if (job.runtimeReport === reportText && job.runtimeSignature === signature) return 'duplicate';
    throw new Error(`job ${jobId} already has a run time`);
  }

  if (report.v !== 1) throw new Error('report.v must be 1');
  const status = report.status;
  if (status !== 'succeeded' && status !== 'failed') throw new Error('report.status must be succeeded or failed');
  const failureReason = report.reason === undefined ? undefined : requireText('report.reason', report.reason, 64);
  const exitCode = report.exitCode === null ? null : requireSignedInteger('report.exitCode', report.exitCode);
  const runtimeMs = requireInteger('report.runtimeMs', report.runtimeMs);
  const timeoutMs = job.resources.timeoutS * 1000;
  if (runtimeMs > timeoutMs + RUNTIME_GRACE_MS) {
    throw new Error(`report.runtimeMs ${runtimeMs} exceeds the job's timeout of ${timeoutMs} ms (plus ${RUNTIME_GRACE_MS} ms for stopping the container)`);
  }
  requireSha256('report.resultSha256', report.resultSha256);
  if (report.compareSha256 !== undefined) requireSha256('report.compareSha256', report.compareSha256);
  requireInteger('report.resultSize', report.resultSize);

  const updated: Job = {
    ...job,
    runtimeReport: reportText,
    runtimeSignature: signature,
    runtimeMs,
    exitCode,
    status,
    failureReason,
    runtimeSetAt: tx.timestamp,
  };
  tx.state.put(keys.job(tx.state, jobId), updated);
  await settleIfReady(tx, updated);
  return 'applied';
}

/**
 * Records that the controller received the job's result. Accepted once per job (the identical
 * receipt again is a duplicate), not after the controller failed the job. `acceptedAt` is when
 * the controller accepted the run-time report: with the job's `assignedAt` it bounds the run time
 * paid for (settlement.ts). Settles the job if its run time is already there.
 */
export async function confirmReceipt(tx: Tx, jobIdArg: unknown, resultSha256Arg: unknown, resultSizeArg: unknown, acceptedAtArg?: unknown): Promise<Applied> {
  const jobId = requireId('jobId', jobIdArg);
  const resultSha256 = requireSha256('resultSha256', resultSha256Arg);
  const resultSize = requireInteger('resultSize', resultSizeArg);
  const reportAcceptedAt = acceptedAtArg === undefined ? undefined : requireInstant('acceptedAt', acceptedAtArg);
  const job = await requireJob(tx, jobId);
  if (job.failed !== undefined) throw new Error(`job ${jobId} was failed by the controller: ${job.failed}`);
  if (job.received) {
    if (job.resultSha256 === resultSha256 && job.resultSize === resultSize) return 'duplicate';
    throw new Error(`job ${jobId} already has a receipt`);
  }
  const updated: Job = { ...job, received: true, resultSha256, resultSize, receivedAt: tx.timestamp, reportAcceptedAt };
  tx.state.put(keys.job(tx.state, jobId), updated);
  await settleIfReady(tx, updated);
  return 'applied';
}

/**
 * The controller gives up on a job (its provider vanished, its result never arrived). A failed job
 * accepts no run time or receipt and is never paid. Refused for a job already paid; failing it
 * again with the same reason is a duplicate.
 */
export async function failJob(tx: Tx, jobIdArg: unknown, reasonArg: unknown): Promise<Applied> {
  const jobId = requireId('jobId', jobIdArg);
  const reason = requireText('reason', reasonArg, MAX_REASON_LENGTH);
  const job = await requireJob(tx, jobId);
  if (job.failed !== undefined) {
    if (job.failed === reason) return 'duplicate';
    throw new Error(`job ${jobId} was already failed: ${job.failed}`);
  }
  if (job.paid) throw new Error(`job ${jobId} is already paid`);
  if (job.unpaidReason !== undefined) tx.state.delete(keys.unpaid(tx.state, job.developerId, job.createdAt, job.jobId));
  const updated: Job = { ...job, failed: reason, failedAt: tx.timestamp };
  tx.state.put(keys.job(tx.state, jobId), updated);
  return 'applied';
}

export function getJob(tx: Tx, jobIdArg: unknown): Promise<Job | undefined> {
  return tx.state.get<Job>(keys.job(tx.state, requireId('jobId', jobIdArg)));
}

/** The jobs of a developer (`by: 'developer'`) or run by a provider (`by: 'provider'`), in job-id order. */
export async function listJobs(tx: Tx, by: 'developer' | 'provider', idArg: unknown): Promise<Job[]> {
  const id = requireId(`${by}Id`, idArg);
  const index = await tx.state.listByPartialKey<{ jobId: string }>(by === 'developer' ? keyTypes.jobByDeveloper : keyTypes.jobByProvider, [id]);
  const jobs: Job[] = [];
  for (const entry of index) {
    const job = await tx.state.get<Job>(keys.job(tx.state, entry.value.jobId));
    if (job) jobs.push(job);
  }
  return jobs;
}

/** One committed version of a job record. */
export interface JobVersion {
  txId: string;
  timestamp: string;
  isDelete: boolean;
  value: Job | null;
}

/** Every committed version of the job's record, oldest first (Fabric lists them newest first). */
export async function jobHistory(tx: Tx, jobIdArg: unknown): Promise<JobVersion[]> {
  const key = keys.job(tx.state, requireId('jobId', jobIdArg));
  const versions: JobVersion[] = [];
  for await (const modification of tx.ctx.stub.getHistoryForKey(key)) {
    versions.push({
      txId: modification.txId,
      timestamp: timestampToIso(modification.timestamp),
      isDelete: modification.isDelete,
      value: modification.isDelete ? null : (JSON.parse(Buffer.from(modification.value).toString('utf8')) as Job),
    });
  }
  return versions.reverse();
}

async function requireJob(tx: Tx, jobId: string): Promise<Job> {
  const job = await tx.state.get<Job>(keys.job(tx.state, jobId));
  if (!job) throw new Error(`job ${jobId} does not exist`);
  return job;
}

function parseEd25519Key(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('publicKeyPem is not a PEM-encoded public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`publicKeyPem must be an Ed25519 key, not ${key.asymmetricKeyType}`);
  return key;
}

/**
 * Parsed provider keys by PEM: a batch verifies many reports signed by the same few providers, and
 * parsing the PEM costs more than the verification. Bounded; a key is only ever a function of its PEM.
 */
const parsedKeys = new Map<string, KeyObject>();
const MAX_PARSED_KEYS = 1000;

function cachedEd25519Key(pem: string): KeyObject {
  let key = parsedKeys.get(pem);
  if (!key) {
    key = parseEd25519Key(pem);
    if (parsedKeys.size >= MAX_PARSED_KEYS) parsedKeys.clear();
    parsedKeys.set(pem, key);
  }
  return key;
}

/** Ed25519 verification over the exact bytes of `message`. False on any malformed input. */
function signatureVerifies(message: string, signatureB64: string, publicKeyPem: string): boolean {
  try {
    return verify(null, Buffer.from(message, 'utf8'), cachedEd25519Key(publicKeyPem), Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

function requireSignedInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`${field} must be an integer or null`);
  return value;
}
