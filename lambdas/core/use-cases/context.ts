import { z } from 'zod';
import { forbidden, invalid } from '../errors';
import type { BillingUnits } from '../ledger';
import type { User } from '../model';
import type { AccountStore, BalanceStore, FunctionStore, JobStore, Outbox, ProviderQueues, ProviderStore, ResultStorage, Signer } from '../ports';
import type { PolicyName } from '../scheduler';
import { firstIssue, Role } from '../schemas';

/**
 * What every use-case of the controller receives: its ports (`Deps`) and configuration, plus the
 * helpers they share (input parsing that names the bad field, role checks, the clock).
 * The use-cases live one file per area in this folder; none imports AWS or HTTP.
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
  balances: BalanceStore;
  queues: ProviderQueues;
  storage: ResultStorage;
  signer: Signer;
  config: ControllerConfig;
  now?: () => Date;
}

export const nowIso = (deps: Pick<Deps, 'now'>) => (deps.now ? deps.now() : new Date()).toISOString();

/** Parses `input` with `schema`, turning the first problem into a 400 that names the field. */
export function parse<T extends z.ZodTypeAny>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const { field, message } = firstIssue(result.error);
    throw invalid(field, `${field}: ${message}`);
  }
  return result.data;
}

export const now = (deps: Pick<Deps, 'now'>): Date => (deps.now ? deps.now() : new Date());

export function requireRole(user: User, role: Role): void {
  if (!user.roles.includes(role)) throw forbidden(`this action needs the ${role} role; the account has ${user.roles.join(', ')}`);
}
