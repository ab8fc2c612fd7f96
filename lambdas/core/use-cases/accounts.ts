import { randomBytes } from 'node:crypto';
import { DomainError, forbidden, notFound, unauthenticated } from '../errors';
import type { LedgerEvent } from '../ledger';
import type { CredentialEntry, TokenRecord, User } from '../model';
import { hashPassword, hashToken, newId, newToken, verifyPassword } from '../passwords';
import { CreateCredentialBody, LoginBody, RegisterUserBody } from '../../../contract/src';
import type { Credential } from '../../../contract/src/answers';
import { Deps, now, nowIso, parse, requireRole } from './context';
import { getOwnFunction, requireLive } from './functions';
import { cachedCredential, forgetCredential, rememberCredential } from '../auth-cache';

/**
 * Accounts: registration with roles, log-in, bearer-token authentication, and the credentials a
 * user manages: API tokens (`cf_…`, act as the user) and per-function invoke keys (`ik_…`, may
 * only invoke one function and read the jobs they created). Every secret is random, shown once,
 * and stored only as its SHA-256.
 */

/** How many API tokens and invoke keys one account may hold at a time. */
export const MAX_CREDENTIALS = 300;
/** Default lifetime of an invoke key. */
export const INVOKE_KEY_TTL_S = 365 * 24 * 3600;

/** Who is calling: a user (bearer token or session), or an end-user holding one of the user's invoke keys. */
export interface Caller {
  user: User;
  key?: { tokenId: string; functionId: string };
}

export async function registerUser(deps: Deps, body: unknown): Promise<{ user: Omit<User, 'passwordHash'>; token: string; tokenId: string }> {
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
  const issued = await issueCredential(deps, user.userId, 'api', { name: 'registration' });
  return { user: publicUser(user), token: issued.token, tokenId: issued.view.tokenId };
}

export async function login(deps: Deps, body: unknown): Promise<{ token: string; userId: string }> {
  const req = parse(LoginBody, body);
  const user = await deps.accounts.findUserByEmail(req.email.toLowerCase());
  // Same answer for unknown email and wrong password: no account enumeration.
  if (!user || !(await verifyPassword(req.password, user.passwordHash))) throw unauthenticated('email or password is wrong');
  const { token, tokenHash } = newToken();
  const at = now(deps);
  await deps.accounts.putToken({
    tokenHash,
    userId: user.userId,
    kind: 'session',
    createdAt: at.toISOString(),
    expiresAt: Math.floor(at.getTime() / 1000) + deps.config.tokenTtlS,
  });
  return { token, userId: user.userId };
}

const PREFIX = { api: 'cf_', invoke: 'ik_' } as const;

function view(entry: CredentialEntry, nowS: number): Credential {
  return {
    tokenId: entry.tokenId,
    kind: entry.kind,
    name: entry.name,
    functionId: entry.functionId,
    hint: `${PREFIX[entry.kind]}…${entry.hint}`,
    createdAt: entry.createdAt,
    expiresAt: new Date(entry.expiresAt * 1000).toISOString(),
    expired: entry.expiresAt < nowS,
  };
}

async function issueCredential(
  deps: Deps,
  userId: string,
  kind: 'api' | 'invoke',
  opts: { name?: string; expiresInS?: number; functionId?: string },
): Promise<{ token: string; view: Credential }> {
  const token = `${PREFIX[kind]}${randomBytes(32).toString('base64url')}`;
  const at = now(deps);
  const nowS = Math.floor(at.getTime() / 1000);
  const ttl = opts.expiresInS ?? (kind === 'api' ? deps.config.tokenTtlS : INVOKE_KEY_TTL_S);
  const record: TokenRecord = {
    tokenHash: hashToken(token),
    userId,
    kind,
    createdAt: at.toISOString(),
    expiresAt: nowS + ttl,
    tokenId: newId(kind === 'api' ? 'tok' : 'key'),
    functionId: opts.functionId,
    name: opts.name,
  };
  const entry: CredentialEntry = {
    tokenId: record.tokenId as string,
    tokenHash: record.tokenHash,
    kind,
    name: opts.name,
    functionId: opts.functionId,
    hint: token.slice(-4),
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
  };
  await deps.accounts.createCredential(record, entry, MAX_CREDENTIALS);
  return { token, view: view(entry, nowS) };
}

/** Lists the user's credentials of `kind` (and function), revoking the expired ones on the way. */
async function listCredentials(deps: Deps, userId: string, kind: 'api' | 'invoke', functionId?: string): Promise<Credential[]> {
  const nowS = Math.floor(now(deps).getTime() / 1000);
  const entries = await deps.accounts.listCredentials(userId);
  // Expired entries no longer authenticate; drop them so they stop counting against the limit.
  await Promise.all(entries.filter((e) => e.expiresAt < nowS).map((e) => deps.accounts.revokeCredential(userId, e).then(() => forgetCredential(e.tokenHash))));
  return entries.filter((e) => e.expiresAt >= nowS && e.kind === kind && (functionId === undefined || e.functionId === functionId)).map((e) => view(e, nowS));
}

async function revoke(deps: Deps, userId: string, tokenId: string, match: (e: CredentialEntry) => boolean, what: string): Promise<void> {
  const entry = (await deps.accounts.listCredentials(userId)).find((e) => e.tokenId === tokenId && match(e));
  if (!entry || !(await deps.accounts.revokeCredential(userId, entry))) throw notFound(what, tokenId);
  // Refused by this process at once; another process may accept it for AUTH_CACHE_MS (auth-cache.ts).
  forgetCredential(entry.tokenHash);
}

/** `POST /tokens`: a new API token for the caller; the secret is in this answer only. */
export async function createApiToken(deps: Deps, user: User, body: unknown): Promise<Credential & { token: string }> {
  const req = parse(CreateCredentialBody, body === undefined ? {} : body);
  const { token, view: v } = await issueCredential(deps, user.userId, 'api', req);
  return { ...v, token };
}

export const listApiTokens = (deps: Deps, user: User) => listCredentials(deps, user.userId, 'api');

export const revokeApiToken = (deps: Deps, user: User, tokenId: string) => revoke(deps, user.userId, tokenId, (e) => e.kind === 'api', 'token');

/** `POST /functions/{id}/keys`: an invoke key for one of the caller's functions; the secret is in this answer only. */
export async function createInvokeKey(deps: Deps, user: User, functionId: string, body: unknown): Promise<Credential & { key: string }> {
  requireRole(user, 'developer');
  const req = parse(CreateCredentialBody, body === undefined ? {} : body);
  requireLive(await getOwnFunction(deps, user, functionId));
  const { token, view: v } = await issueCredential(deps, user.userId, 'invoke', { ...req, functionId });
  return { ...v, key: token };
}

export async function listInvokeKeys(deps: Deps, user: User, functionId: string): Promise<Credential[]> {
  await getOwnFunction(deps, user, functionId);
  return listCredentials(deps, user.userId, 'invoke', functionId);
}

export async function revokeInvokeKey(deps: Deps, user: User, functionId: string, keyId: string): Promise<void> {
  await getOwnFunction(deps, user, functionId);
  await revoke(deps, user.userId, keyId, (e) => e.kind === 'invoke' && e.functionId === functionId, 'invoke key');
}

const BEARER = /^Bearer\s+((?:cf|ik)_[A-Za-z0-9_-]{20,100})$/;
const INVOKE_KEY = /^ik_[A-Za-z0-9_-]{20,100}$/;

/** The token and its user: read, or as this process read them less than AUTH_CACHE_MS ago (auth-cache.ts); the expiry is checked every time. */
async function lookUp(deps: Deps, secret: string): Promise<{ record: TokenRecord; user: User }> {
  const tokenHash = hashToken(secret);
  const nowS = Math.floor(now(deps).getTime() / 1000);
  const cached = cachedCredential(tokenHash);
  if (cached) {
    if (cached.record.expiresAt < nowS) throw unauthenticated('the token is unknown, revoked or expired');
    return cached;
  }
  const record = await deps.accounts.getToken(tokenHash);
  if (!record || record.expiresAt < nowS) throw unauthenticated('the token is unknown, revoked or expired');
  const user = await deps.accounts.getUser(record.userId);
  if (!user) throw unauthenticated('the token belongs to a deleted account');
  rememberCredential(tokenHash, record, user);
  return { record, user };
}

/**
 * Resolves `Authorization: Bearer <token>` (an API or session token) to its user, or throws 401.
 * An invoke key is refused here with 403: it may only invoke its function and read its jobs.
 */
export async function authenticate(deps: Deps, authorization: string | undefined): Promise<User> {
  const match = BEARER.exec(authorization?.trim() ?? '');
  if (!match) throw unauthenticated();
  const secret = match[1] as string;
  if (secret.startsWith('ik_')) throw invokeKeyRefused();
  const { record, user } = await lookUp(deps, secret);
  if (record.kind === 'invoke') throw invokeKeyRefused();
  return user;
}

/** The one refusal of an invoke key on a route it may not use (the HTTP edge and the use-cases). */
export const invokeKeyRefused = () =>
  forbidden('an invoke key may only invoke its function (POST /functions/{id}/invocations) and read the jobs it created (GET /jobs/{id})');

/**
 * Resolves the caller of the routes an invoke key may use: `x-api-key: ik_…`, `Authorization:
 * Bearer ik_…`, or a user's bearer token.
 */
export async function authenticateCaller(deps: Deps, authorization: string | undefined, apiKey: string | undefined): Promise<Caller> {
  // Two credentials at once are not accepted (401: the document offers each on its own), whichever would pass.
  if (apiKey !== undefined && authorization !== undefined) throw new DomainError('unauthenticated', 'x-api-key: send either x-api-key or Authorization, not both', 'x-api-key');
  let secret: string | undefined;
  if (apiKey !== undefined) {
    if (!INVOKE_KEY.test(apiKey.trim())) throw unauthenticated('x-api-key must be an invoke key (ik_…)');
    secret = apiKey.trim();
  } else {
    const match = BEARER.exec(authorization?.trim() ?? '');
    if (match?.[1]?.startsWith('ik_')) secret = match[1];
  }
  if (secret === undefined) return { user: await authenticate(deps, authorization) };
  const { record, user } = await lookUp(deps, secret);
  if (record.kind !== 'invoke' || !record.tokenId || !record.functionId) throw unauthenticated('x-api-key must be an invoke key (ik_…)');
  return { user, key: { tokenId: record.tokenId, functionId: record.functionId } };
}

/** The user behind a caller, refusing invoke keys (for routes only the developer may use). */
export function requireUser(caller: Caller): User {
  if (caller.key) throw invokeKeyRefused();
  return caller.user;
}

export const publicUser = ({ passwordHash: _omit, ...rest }: User): Omit<User, 'passwordHash'> => rest;

/** Ids in paths are checked before any lookup: a malformed one is simply not found. */
export function checkId(what: string, id: string | undefined, prefix: string): string {
  if (!id || !new RegExp(`^${prefix}_[A-Za-z0-9]{1,60}$`).test(id)) throw notFound(what, id ?? '');
  return id;
}
