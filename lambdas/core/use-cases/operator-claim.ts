import { createHash, timingSafeEqual } from 'node:crypto';
import { conflict, DomainError } from '../errors';
import type { User } from '../model';
import { OperatorClaimBody } from '../../../contract/src';
import { type Deps, nowIso, parse } from './context';
import { forgetUser } from '../auth-cache';

/**
 * `POST /operator/claim`: the platform's first operator, without a redeploy. The deploy generates
 * a one-time token where only the platform owner can read it (AWS: a Secrets Manager secret the
 * stack creates with a generated value, readable by the accounts Lambda alone; local mode: a file
 * the platform writes). The signed-in account that presents it becomes the operator: the claim's
 * record and the account's flag are written in one conditional transaction, so exactly one claim
 * ever succeeds, and every later one (the same token included) is refused with 409.
 *
 * A wrong token writes nothing and is refused with 403; the comparison is over SHA-256 digests in
 * constant time, so neither the token's length nor its prefix leaks through timing.
 */
export async function claimOperator(deps: Deps, user: User, body: unknown): Promise<{ userId: string; operator: true; claimedAt: string }> {
  const { claimToken } = parse(OperatorClaimBody, body);
  if (!deps.operatorClaimToken) throw conflict('this platform has no operator claim token: its operators are the accounts in OPERATOR_USER_IDS');
  const expected = (await deps.operatorClaimToken()).trim();
  if (!expected || !timingSafeEqual(digest(claimToken), digest(expected))) throw new DomainError('forbidden', 'claimToken: this is not the platform’s operator claim token', 'claimToken');
  const claimedAt = nowIso(deps);
  if (!(await deps.accounts.claimOperator(user.userId, claimedAt))) {
    throw conflict('the operator right has been claimed already: the claim token is used up (operators can be added through OPERATOR_USER_IDS)');
  }
  // The user record changed: this process reads it again on the next request (auth-cache.ts).
  forgetUser(user.userId);
  return { userId: user.userId, operator: true, claimedAt };
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
