import { z } from 'zod';
import { forbidden, invalid, notFound } from '../errors';
import type { BillingUnits } from '../ledger';
import type { ProviderRecord, User } from '../model';
import type { AccountStore, BalanceStore, FunctionStore, JobStore, Outbox, ProviderQueues, ProviderStore, ResultStorage, Signer } from '../ports';
import type { DeveloperBuckets, ProviderCredentialIssuer } from '../ports';
import type { BillingStore, JobStarts, JobWaiter, PaymentProvider, Telemetry } from '../ports';
import type { PolicyName } from '../scheduler';
import { firstIssue, Role } from '../../../contract/src';

/**
 * What every use-case of the controller receives: its ports (`Deps`) and configuration, plus the
 * helpers they share (input parsing that names the bad field, role and operator checks, the
 * caller's own provider, the clock). The use-cases live one file per area in this folder; none
 * imports AWS or HTTP. This module imports no use-case.
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
  /** Waiting, leases, retries and scoped credentials (see SchedulingConfig). */
  scheduling: SchedulingConfig;
  /** User ids allowed on the operator routes (`/operator/...`): the platform owner's accounts. */
  readonly operatorUserIds: readonly string[];
  /** Invocations place holds on the developer's available balance (holds.ts); BALANCE_HOLDS. */
  holds?: boolean;
  /**
   * Issue #19: consecutive valid (agreed) results a provider needs before it takes a job that runs
   * on it alone (reputation.ts#onProbation); until then only replicas. PROBATION_RESULTS, default 0 (off).
   */
  probationResults?: number;
  /**
   * Issue #19: the most jobs (replicas) a provider on probation holds at once; 0: no limit.
   * PROBATION_QUOTA, default 2 (applies only with PROBATION_RESULTS > 0).
   */
  probationQuota?: number;
}

/** How the scheduler waits, leases and retries (README, "Configuration"; lambdas/adapters/deps.ts reads it). */
export interface SchedulingConfig {
  /** A running job's lease, renewed by each heartbeat that lists the job. */
  leaseS: number;
  /** Placements a job gets (the first and its re-queues) before it is FAILED. */
  maxAttempts: number;
  /** A job that waited this long for capacity is FAILED. */
  maxWaitS: number;
  /** Jobs one developer may have waiting; the next invocation is refused with 429. */
  maxWaitingPerDeveloper: number;
  /** Jobs that may wait in all; the next invocation is refused with 503. */
  maxWaitingTotal: number;
  /** What a refused caller is told to wait (Retry-After), seconds. */
  retryAfterS: number;
  /** A developer-named result bucket must come with a role to assume (true in AWS). */
  resultRoleRequired: boolean;
  /** Lifetime of a provider's STS credentials (at most 3600 under role chaining). */
  providerCredentialsTtlS: number;
}

export interface Deps {
  accounts: AccountStore;
  functions: FunctionStore;
  jobs: JobStore;
  providers: ProviderStore;
  outbox: Outbox;
  balances: BalanceStore;
  queues: ProviderQueues;
  storage: ResultStorage;
  signer: Signer;
  config: ControllerConfig;
  /** Counters and survived errors (lambdas/adapters/observability.ts). */
  telemetry: Telemetry;
  /** Mints providers' queue-scoped credentials (STS); absent in local mode. */
  credentials?: ProviderCredentialIssuer;
  /** Presigns into buckets developers name for their functions; absent if not configured. */
  developerBuckets?: DeveloperBuckets;
  /** Price lists and top-up records (billing.ts); absent in controllers without billing. */
  billingStore?: BillingStore;
  /** The payment provider top-ups charge (PAYMENT_PROVIDER); absent: top-ups are unavailable. */
  payments?: PaymentProvider;
  /** Payout rules (use-cases/payments.ts); absent: `DEFAULT_PAYOUT_POLICY`. */
  payoutPolicy?: { minimum: number; fee: number };
  /** The portal's URL: payment pages send users back under it (PORTAL_URL). */
  portalUrl?: string;
  /** Reads the one-time operator claim token (OPERATOR_CLAIM_SECRET_ARN or _FILE); absent: no claim is possible. */
  operatorClaimToken?: () => Promise<string>;
  /** Writes a job placed as it is created in one transaction (ports.ts#JobStarts); absent: hold, job, assignment and ledger entry are written one by one. */
  starts?: JobStarts;
  /** Wakes sync invocations when their job ends (ports.ts#JobWaiter); absent: they notice by reading the job alone. */
  waiter?: JobWaiter;
  now?: () => Date;
}

export const nowIso = (deps: Pick<Deps, 'now'>) => (deps.now ? deps.now() : new Date()).toISOString();

/** Parses `input` with `schema`, turning the first problem into a 400 that names the field. */
export function parse<T extends z.ZodTypeAny>(schema: T, input: unknown, at?: string): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = firstIssue(result.error);
    // `at`: where `input` sits in the request body (e.g. `report`), so the field is named in full.
    const field = at === undefined ? issue.field : issue.field === '(body)' ? at : `${at}.${issue.field}`;
    throw invalid(field, `${field}: ${issue.message}`);
  }
  return result.data;
}

export const now = (deps: Pick<Deps, 'now'>): Date => (deps.now ? deps.now() : new Date());

export function requireRole(user: User, role: Role): void {
  if (!user.roles.includes(role)) throw forbidden(`this action needs the ${role} role; the account has ${user.roles.join(', ')}`);
}

/**
 * Who is an operator: the accounts whose user ids are in OPERATOR_USER_IDS (set by whoever
 * deploys the platform), and the one account that claimed the right with the deploy's one-time
 * token (`operator-claim.ts`). There is no self-service `operator` role: anyone can sign up with
 * any role, so the role list cannot be what grants this.
 */
export function requireOperator(deps: Pick<Deps, 'config'>, user: User): void {
  if (user.operator === true) return;
  if (!deps.config.operatorUserIds.includes(user.userId))
    throw forbidden('this route is for the platform operator (an account listed in OPERATOR_USER_IDS, or the one that claimed it: POST /operator/claim)');
}

/** The shape of every provider id the platform mints (`newId('prv')`). */
const PROVIDER_ID = /^prv_[A-Za-z0-9]{1,64}$/;

/**
 * The caller's own provider. Another user's provider is reported as missing, not forbidden, like
 * every other id: ids are not an oracle. An id of another shape is unknown without asking the
 * store (DynamoDB's key limit would make it a 500).
 */
export async function getOwnProvider(deps: Pick<Deps, 'providers'>, user: User, providerId: string): Promise<ProviderRecord> {
  if (!PROVIDER_ID.test(providerId)) throw notFound('provider', providerId.slice(0, 64));
  const provider = await deps.providers.getProvider(providerId);
  if (!provider || provider.ownerId !== user.userId) throw notFound('provider', providerId);
  return provider;
}
