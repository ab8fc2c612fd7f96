import { z } from 'zod';
import { DomainError, forbidden, invalid, notFound, unauthenticated, conflict } from './errors';
import type { BillingUnits, Ledger, LedgerEvent } from './ledger';
import { FunctionRecord, JobRecord, ProviderRecord, TERMINAL, User } from './model';
import { hashPassword, hashToken, newId, newToken, verifyPassword } from './passwords';
import type { AccountStore, FunctionStore, JobStore, Outbox, ProviderQueues, ProviderStore, ResultStorage, Signer } from './ports';
import { rankProviders, PolicyName } from './scheduler';
import {
  CreateFunctionBody,
  firstIssue,
  HeartbeatBody,
  InvokeBody,
  JobEnvelope,
  LIMITS,
  LoginBody,
  RegisterProviderBody,
  RegisterUserBody,
  ReportBody,
  Role,
  RuntimeReport,
} from './schemas';
import { canonicalJson } from './canonical-json';
import { parsePublicKey, verifyPayload } from './signing';
import { vcpuMillicores as toMilli, worstCaseCost } from './pricing';

/**
 * The controller's use-cases. Each takes its ports explicitly (`Deps`), validates its input with
 * the schemas, and throws DomainError for anything the caller got wrong. No AWS, no HTTP here.
 */

export interface ControllerConfig {
  policy: PolicyName;
  heartbeatStaleMs: number;
  heartbeatIntervalS: number;
  billing: BillingUnits;
  /** Lifetime of presigned result PUT/GET URLs. */
  presignTtlS: number;
  /** Session tokens expire after this many seconds; API tokens too (rotate them). */
  tokenTtlS: number;
  /** Region and (local mode) endpoint the provider agent's SQS client must use. */
  sqsRegion: string;
  sqsEndpoint?: string;
  /** Local mode only: credit opened with each new developer account, micro-credits. */
  signupCredit: number;
}

export interface Deps {
  accounts: AccountStore;
  functions: FunctionStore;
  jobs: JobStore;
  providers: ProviderStore;
  outbox: Outbox;
  queues: ProviderQueues;
  storage: ResultStorage;
  signer: Signer;
  config: ControllerConfig;
  now?: () => Date;
}

const nowIso = (deps: Pick<Deps, 'now'>) => (deps.now ? deps.now() : new Date()).toISOString();

/** Parses `input` with `schema`, turning the first problem into a 400 that names the field. */
export function parse<T extends z.ZodTypeAny>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const { field, message } = firstIssue(result.error);
    throw invalid(field, `${field}: ${message}`);
  }
  return result.data;
}

// ---------------------------------------------------------------- accounts

export async function registerUser(deps: Deps, body: unknown): Promise<{ user: Omit<User, 'passwordHash'>; token: string }> {
  const req = parse(RegisterUserBody, body);
  const user: User = {
    userId: newId('usr'),
    email: req.email.toLowerCase(),
    roles: [...new Set(req.roles)],
    passwordHash: await hashPassword(req.password),
    createdAt: nowIso(deps),
  };
  await deps.accounts.createUser(user);
  const events: LedgerEvent[] = [{ type: 'OpenAccount', accountId: user.userId, owner: user.email }];
  if (user.roles.includes('developer') && deps.config.signupCredit > 0) {
    events.push({ type: 'TopUp', accountId: user.userId, amount: deps.config.signupCredit, reference: `signup:${user.userId}` });
  }
  await deps.outbox.append(user.userId, events);
  const token = await issueToken(deps, user.userId, 'api');
  return { user: publicUser(user), token };
}

export async function login(deps: Deps, body: unknown): Promise<{ token: string; userId: string }> {
  const req = parse(LoginBody, body);
  const user = await deps.accounts.findUserByEmail(req.email.toLowerCase());
  // Same answer for unknown email and wrong password: no account enumeration.
  if (!user || !(await verifyPassword(req.password, user.passwordHash))) throw unauthenticated('email or password is wrong');
  return { token: await issueToken(deps, user.userId, 'session'), userId: user.userId };
}

async function issueToken(deps: Deps, userId: string, kind: 'session' | 'api'): Promise<string> {
  const { token, tokenHash } = newToken();
  const now = deps.now ? deps.now() : new Date();
  await deps.accounts.putToken({ tokenHash, userId, kind, createdAt: now.toISOString(), expiresAt: Math.floor(now.getTime() / 1000) + deps.config.tokenTtlS });
  return token;
}

/** Resolves `Authorization: Bearer <token>` to its user, or throws 401. */
export async function authenticate(deps: Deps, authorization: string | undefined): Promise<User> {
  const match = /^Bearer\s+(cf_[A-Za-z0-9_-]{20,100})$/.exec(authorization?.trim() ?? '');
  if (!match) throw unauthenticated();
  const record = await deps.accounts.getToken(hashToken(match[1] as string));
  const nowS = Math.floor((deps.now ? deps.now() : new Date()).getTime() / 1000);
  if (!record || record.expiresAt < nowS) throw unauthenticated('the token is unknown or expired: log in again');
  const user = await deps.accounts.getUser(record.userId);
  if (!user) throw unauthenticated('the token belongs to a deleted account');
  return user;
}

export const publicUser = ({ passwordHash: _omit, ...rest }: User): Omit<User, 'passwordHash'> => rest;

function requireRole(user: User, role: Role): void {
  if (!user.roles.includes(role)) throw forbidden(`this action needs the ${role} role; the account has ${user.roles.join(', ')}`);
}

// ---------------------------------------------------------------- functions

export async function createFunction(deps: Deps, user: User, body: unknown): Promise<FunctionRecord> {
  requireRole(user, 'developer');
  const req = parse(CreateFunctionBody, body);
  const worstCase = worstCaseCost(req.resources, deps.config.billing);
  if (req.maxPrice !== undefined && req.maxPrice < 1) throw invalid('maxPrice', 'maxPrice: must be at least 1 micro-credit');
  const at = nowIso(deps);
  const fn: FunctionRecord = {
    functionId: newId('fn'),
    ownerId: user.userId,
    name: req.name,
    version: 1,
    image: req.image,
    resources: req.resources,
    protocol: req.protocol,
    mode: req.mode,
    network: req.network,
    maxPrice: req.maxPrice ?? worstCase,
    env: req.env,
    createdAt: at,
    updatedAt: at,
  };
  await deps.functions.putFunction(fn);
  return fn;
}

export async function getOwnFunction(deps: Deps, user: User, functionId: string): Promise<FunctionRecord> {
  const fn = await deps.functions.getFunction(functionId);
  // Another user's function is reported as missing, not forbidden: ids are not an oracle.
  if (!fn || fn.ownerId !== user.userId) throw notFound('function', functionId);
  return fn;
}

// ---------------------------------------------------------------- invocations and jobs

export async function invoke(deps: Deps, user: User, functionId: string, body: unknown): Promise<{ job: JobRecord; mode: 'sync' | 'async'; waitS: number }> {
  const req = parse(InvokeBody, body ?? {});
  const fn = await getOwnFunction(deps, user, functionId);
  const input = req.inputBase64 !== undefined ? Buffer.from(req.inputBase64, 'base64') : encodeInput(req.input);
  if (input.length > LIMITS.maxInlineInputBytes) {
    throw new DomainError('payload_too_large', `input is ${input.length} bytes; at most ${LIMITS.maxInlineInputBytes} may be sent inline`, 'input');
  }
  const jobId = newId('job');
  const maxCost = Math.min(fn.maxPrice ?? Number.MAX_SAFE_INTEGER, worstCaseCost(fn.resources, deps.config.billing));
  const job: JobRecord = {
    jobId,
    functionId: fn.functionId,
    functionVersion: fn.version,
    developerId: user.userId,
    status: 'QUEUED',
    attempt: 1,
    image: fn.image,
    resources: fn.resources,
    protocol: fn.protocol,
    network: fn.network,
    inputBase64: input.toString('base64'),
    resultKey: `results/${jobId}/result`,
    logKey: `results/${jobId}/log`,
    maxCost,
    billingVersion: deps.config.billing.version,
    createdAt: nowIso(deps),
    waitingShard: 'w',
  };
  await deps.jobs.createJob(job);
  const dispatched = await dispatch(deps, job, fn);
  return { job: dispatched ?? job, mode: req.mode ?? fn.mode, waitS: req.waitS ?? 25 };
}

function encodeInput(input: unknown): Buffer {
  if (input === undefined) return Buffer.alloc(0);
  return Buffer.from(typeof input === 'string' ? input : JSON.stringify(input), 'utf8');
}

/**
 * Places a QUEUED job: ranks providers with the configured policy, reserves capacity on the
 * first that still fits (conditional write), moves the job to ASSIGNED (conditional write),
 * records it for the ledger, signs the envelope and sends it to that provider's queue.
 * Returns the assigned job, or undefined if nothing fits (the job stays QUEUED).
 */
export async function dispatch(deps: Deps, job: JobRecord, fn?: FunctionRecord): Promise<JobRecord | undefined> {
  const need = { vcpuMilli: toMilli(job.resources.vcpu), memoryMb: job.resources.memoryMb, image: job.image, functionId: job.functionId };
  const now = deps.now ? deps.now() : new Date();
  const ranked = rankProviders(deps.config.policy, await deps.providers.listProviders(), need, { now: now.getTime(), heartbeatStaleMs: deps.config.heartbeatStaleMs });
  for (const provider of ranked) {
    if (!(await deps.providers.reserve(provider, need.vcpuMilli, need.memoryMb))) continue;
    const assignedAt = now.toISOString();
    const moved = await deps.jobs.transition(job.jobId, ['QUEUED'], { status: 'ASSIGNED', providerId: provider.providerId, assignedAt }, { attempt: job.attempt }, ['waitingShard']);
    if (!moved) {
      // Someone else placed (or failed) the job meanwhile: give the capacity back.
      await deps.providers.release(provider.providerId, need.vcpuMilli, need.memoryMb);
      return undefined;
    }
    const assigned: JobRecord = { ...job, status: 'ASSIGNED', providerId: provider.providerId, assignedAt };
    await deps.outbox.append(job.jobId, [
      {
        type: 'CreateJob',
        jobId: job.jobId,
        developerId: job.developerId,
        providerId: provider.providerId,
        functionId: job.functionId,
        functionVersion: job.functionVersion,
        resources: job.resources,
        billing: deps.config.billing,
        maxCost: job.maxCost,
      },
    ]);
    await deps.queues.send(provider.queueUrl, JSON.stringify(await buildSignedEnvelope(deps, assigned, provider, fn)));
    return assigned;
  }
  return undefined;
}

async function buildSignedEnvelope(deps: Deps, job: JobRecord, provider: ProviderRecord, fn?: FunctionRecord) {
  const now = deps.now ? deps.now() : new Date();
  const ttl = deps.config.presignTtlS;
  const envelope: JobEnvelope = {
    v: 1,
    jobId: job.jobId,
    functionId: job.functionId,
    functionVersion: job.functionVersion,
    developerId: job.developerId,
    providerId: provider.providerId,
    image: job.image,
    protocol: job.protocol,
    network: job.network,
    resources: job.resources,
    env: fn?.env ?? (await deps.functions.getFunction(job.functionId))?.env ?? {},
    input: { kind: 'inline', base64: job.inputBase64 },
    resultPutUrl: await deps.storage.presignPut(job.resultKey, ttl),
    logPutUrl: await deps.storage.presignPut(job.logKey, ttl),
    issuedAt: now.toISOString(),
    startBy: new Date(now.getTime() + ttl * 1000).toISOString(),
    attempt: job.attempt,
  };
  const { signature, keyId } = await deps.signer.sign(envelope);
  return { envelope, signature, keyId };
}

export async function getOwnJob(deps: Deps, user: User, jobId: string): Promise<JobRecord> {
  const job = await deps.jobs.getJob(jobId);
  if (!job || job.developerId !== user.userId) throw notFound('job', jobId);
  return job;
}

/** The public view of a job: what `GET /jobs/{id}` returns. */
export async function jobView(deps: Deps, job: JobRecord) {
  const succeeded = job.status === 'SUCCEEDED';
  return {
    jobId: job.jobId,
    functionId: job.functionId,
    functionVersion: job.functionVersion,
    status: job.status,
    attempt: job.attempt,
    providerId: job.providerId,
    timings: { createdAt: job.createdAt, assignedAt: job.assignedAt, startedAt: job.startedAt, finishedAt: job.finishedAt },
    runtimeMs: job.runtimeMs,
    exitCode: job.exitCode,
    reason: job.reason,
    result: job.resultSize !== undefined ? { sha256: job.resultSha256, size: job.resultSize } : undefined,
    resultUrl: succeeded ? await deps.storage.presignGet(job.resultKey, deps.config.presignTtlS) : undefined,
    logUrl: TERMINAL.includes(job.status) ? await deps.storage.presignGet(job.logKey, deps.config.presignTtlS) : undefined,
  };
}

/** Polls the job until it is terminal or `waitS` has passed; returns its latest state. */
export async function waitForJob(deps: Deps, jobId: string, waitS: number): Promise<JobRecord | undefined> {
  const until = Date.now() + waitS * 1000;
  let delay = 50;
  for (;;) {
    const job = await deps.jobs.getJob(jobId);
    if (!job || TERMINAL.includes(job.status) || Date.now() >= until) return job;
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, until - Date.now()))));
    delay = Math.min(delay * 2, 500);
  }
}

// ---------------------------------------------------------------- providers

export async function registerProvider(deps: Deps, user: User, body: unknown) {
  requireRole(user, 'provider');
  const req = parse(RegisterProviderBody, body);
  try {
    parsePublicKey(req.publicKey);
  } catch (err) {
    throw invalid('publicKey', `publicKey: ${(err as Error).message}`);
  }
  const providerId = newId('prv');
  const queueUrl = await deps.queues.createQueue(providerId);
  const at = nowIso(deps);
  const provider: ProviderRecord = {
    providerId,
    ownerId: user.userId,
    name: req.name,
    capacityVcpuMilli: toMilli(req.capacity.vcpu),
    capacityMemoryMb: req.capacity.memoryMb,
    reservedVcpuMilli: 0,
    reservedMemoryMb: 0,
    publicKeyPem: req.publicKey,
    queueUrl,
    lastHeartbeatAt: at,
    cachedImages: [],
    warmFunctions: [],
    draining: false,
    createdAt: at,
    onlineShard: '1',
  };
  await deps.providers.createProvider(provider);
  await deps.outbox.append(providerId, [{ type: 'RegisterProvider', providerId, accountId: user.userId, publicKeyPem: req.publicKey }]);
  const controllerKey = await deps.signer.publicKey();
  return {
    providerId,
    queueUrl,
    controllerPublicKey: controllerKey.pem,
    controllerKeyId: controllerKey.keyId,
    heartbeatIntervalS: deps.config.heartbeatIntervalS,
    region: deps.config.sqsRegion,
    sqsEndpoint: deps.config.sqsEndpoint,
  };
}

async function getOwnProvider(deps: Deps, user: User, providerId: string): Promise<ProviderRecord> {
  const provider = await deps.providers.getProvider(providerId);
  if (!provider || provider.ownerId !== user.userId) throw notFound('provider', providerId);
  return provider;
}

export async function heartbeat(deps: Deps, user: User, providerId: string, body: unknown) {
  const req = parse(HeartbeatBody, body ?? {});
  await getOwnProvider(deps, user, providerId);
  await deps.providers.heartbeat(providerId, nowIso(deps), req.cachedImages, req.warmFunctions, req.draining);
  if (!req.draining) await dispatchWaiting(deps);
  return { ok: true, drain: false };
}

/** Offers freed or new capacity to waiting jobs, oldest first. */
export async function dispatchWaiting(deps: Deps, limit = 20): Promise<number> {
  let placed = 0;
  for (const job of await deps.jobs.listWaiting(limit)) {
    if (await dispatch(deps, job)) placed++;
    else break;
  }
  return placed;
}

/**
 * Accepts a provider's signed run-time report: the caller must own the provider, the provider
 * must be the job's assignee for this attempt, the signature must verify against the provider's
 * registered key, the run time must fit the job's timeout, and the result object must exist with
 * the reported size. Then the job moves to SUCCEEDED/FAILED (conditional: a duplicate report is
 * answered idempotently and changes nothing), capacity is released and the ledger events queued.
 */
export async function acceptReport(deps: Deps, user: User, providerId: string, body: unknown) {
  const req = parse(ReportBody, body);
  const report = parse(RuntimeReport, req.report) as RuntimeReport;
  const provider = await getOwnProvider(deps, user, providerId);
  if (report.providerId !== providerId) throw forbidden('the report names another provider');
  if (!verifyPayload(report, req.signature, provider.publicKeyPem)) throw forbidden("the report's signature does not verify against the provider's registered key");
  const job = await deps.jobs.getJob(report.jobId);
  if (!job || job.providerId !== providerId) throw notFound('job', report.jobId);
  if (job.attempt !== report.attempt) throw conflict(`the job is at attempt ${job.attempt}; this report is for attempt ${report.attempt}`);
  if (TERMINAL.includes(job.status)) {
    if (job.runtimeMs === report.runtimeMs && job.resultSha256 === report.resultSha256) return { jobId: job.jobId, status: job.status, duplicate: true };
    throw conflict(`job ${job.jobId} is already ${job.status}`);
  }
  if (report.runtimeMs > job.resources.timeoutS * 1000 + 5000) throw invalid('report.runtimeMs', `report.runtimeMs: ${report.runtimeMs} exceeds the job's timeout of ${job.resources.timeoutS}s`);
  const stored = await deps.storage.size(job.resultKey);
  if (report.status === 'succeeded' && stored !== report.resultSize) {
    throw invalid('report.resultSize', `report.resultSize: the stored result has ${stored ?? 'no'} bytes, the report says ${report.resultSize}`);
  }
  const status = report.status === 'succeeded' ? 'SUCCEEDED' : 'FAILED';
  const moved = await deps.jobs.transition(
    job.jobId,
    ['ASSIGNED'],
    {
      status,
      startedAt: report.startedAt,
      finishedAt: report.finishedAt,
      runtimeMs: report.runtimeMs,
      exitCode: report.exitCode,
      reason: report.reason === undefined ? undefined : describeFailure(report),
      resultSha256: report.resultSha256,
      resultSize: report.resultSize,
    },
    { providerId, attempt: report.attempt },
  );
  if (!moved) {
    const again = await deps.jobs.getJob(job.jobId);
    return { jobId: job.jobId, status: again?.status ?? job.status, duplicate: true };
  }
  await deps.providers.release(providerId, toMilli(job.resources.vcpu), job.resources.memoryMb);
  await deps.outbox.append(job.jobId, [
    { type: 'SetRuntime', jobId: job.jobId, report: canonicalJson(report), signature: req.signature },
    { type: 'ConfirmReceipt', jobId: job.jobId, resultSha256: report.resultSha256, resultSize: report.resultSize },
  ]);
  await dispatchWaiting(deps);
  return { jobId: job.jobId, status };
}

function describeFailure(report: RuntimeReport): string {
  switch (report.reason) {
    case 'exit':
      return `the function exited with code ${report.exitCode}`;
    case 'oom':
      return 'the function ran out of memory and was killed';
    case 'timeout':
      return 'the function ran past its timeout and was killed';
    case 'output_too_large':
      return 'the function wrote more output than the platform accepts';
    case 'image_unavailable':
      return "the provider could not pull the function's image";
    default:
      return 'the provider could not run the function';
  }
}

// ---------------------------------------------------------------- ledger outbox

/**
 * Moves pending outbox entries to the ledger in one transaction, oldest first (so each job's
 * events keep their order). Refused events are marked rejected with the chaincode's reason and
 * never retried; if the ledger is unreachable nothing is marked and the next run retries.
 */
export async function drainOutbox(outbox: Outbox, ledger: Ledger, limit = 200): Promise<{ committed: number; rejected: number }> {
  const entries = await outbox.pending(limit);
  if (entries.length === 0) return { committed: 0, rejected: 0 };
  const { results } = await ledger.submit(entries.map((e) => e.event));
  let committed = 0;
  let rejected = 0;
  for (const [i, entry] of entries.entries()) {
    const result = results[i];
    if (result?.ok) {
      await outbox.markDone(entry);
      committed++;
    } else {
      await outbox.markRejected(entry, result?.error ?? 'no result from the ledger');
      rejected++;
    }
  }
  return { committed, rejected };
}
