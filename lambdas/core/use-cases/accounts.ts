import { unauthenticated } from '../errors';
import type { LedgerEvent } from '../ledger';
import type { User } from '../model';
import { hashPassword, hashToken, newId, newToken, verifyPassword } from '../passwords';
import { LoginBody, RegisterUserBody } from '../schemas';
import { Deps, nowIso, parse } from './context';

/** Accounts: registration with roles, log-in, bearer-token authentication. */

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
