import { createHash } from 'node:crypto';
import type * as Accounts from '../../lambdas/core/use-cases/accounts';
import type * as Functions from '../../lambdas/core/use-cases/functions';
import type { CredentialEntry, TokenRecord } from '../../lambdas/core/model';
import { Controller, definition, rejects, startController } from './harness';

/**
 * Accounts against DynamoDB Local: registration with roles, scrypt passwords, API tokens and
 * invoke keys (random, shown once, stored as SHA-256, listed without the secret, revocable).
 */
let c: Controller;
let accounts: typeof Accounts;
let functions: typeof Functions;

beforeAll(async () => {
  c = await startController();
  accounts = await import('../../lambdas/core/use-cases/accounts');
  functions = await import('../../lambdas/core/use-cases/functions');
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const bearer = (t: string) => `Bearer ${t}`;

test('registration keeps every role, stores a scrypt hash and only the SHA-256 of the API token', async () => {
  const { user, token } = await c.newUser(['developer', 'provider', 'peer-operator']);
  expect(user.roles.sort()).toEqual(['developer', 'peer-operator', 'provider']);
  expect(user.passwordHash).toMatch(/^scrypt\$16384\$8\$1\$/);
  expect(user.passwordHash).not.toContain('correct horse battery');
  expect(token).toMatch(/^cf_[A-Za-z0-9_-]{43}$/);
  const stored = (await c.deps.accounts.getToken(sha256(token))) as TokenRecord;
  expect(stored).toMatchObject({ userId: user.userId, kind: 'api' });
  expect(JSON.stringify(stored)).not.toContain(token);
  // The registration token is listed (so it can be revoked), without its secret.
  const listed = await accounts.listApiTokens(c.deps, user);
  expect(listed).toHaveLength(1);
  expect(listed[0]).toMatchObject({ kind: 'api', name: 'registration', hint: `cf_…${token.slice(-4)}`, expired: false });
  expect(JSON.stringify(listed)).not.toContain(token);
  expect(JSON.stringify(listed)).not.toContain(sha256(token));
});

test('log-in returns a session token for the right password, the same 401 for a wrong one or an unknown email', async () => {
  const { user } = await c.newUser();
  const session = await accounts.login(c.deps, { email: user.email, password: 'correct horse battery' });
  expect((await accounts.authenticate(c.deps, bearer(session.token))).userId).toBe(user.userId);
  const wrong = await rejects(accounts.login(c.deps, { email: user.email, password: 'wrong password!' }), 'unauthenticated');
  const unknown = await rejects(accounts.login(c.deps, { email: 'nobody@example.test', password: 'wrong password!' }), 'unauthenticated');
  expect(wrong.message).toBe(unknown.message);
});

test('API tokens: created (secret once), listed without it, authenticate, and stop working once revoked', async () => {
  const { user, token: first } = await c.newUser();
  const created = await accounts.createApiToken(c.deps, user, { name: 'ci', expiresInS: 3600 });
  expect(created.token).toMatch(/^cf_/);
  expect(created).toMatchObject({ kind: 'api', name: 'ci', expired: false });
  expect(Date.parse(created.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
  expect((await accounts.authenticate(c.deps, bearer(created.token))).userId).toBe(user.userId);

  const listed = await accounts.listApiTokens(c.deps, user);
  expect(listed.map((t) => t.tokenId).sort()).toEqual([created.tokenId, listed.find((t) => t.name === 'registration')?.tokenId].sort());
  expect(listed.some((t) => 'token' in t)).toBe(false);

  await accounts.revokeApiToken(c.deps, user, created.tokenId);
  await rejects(accounts.authenticate(c.deps, bearer(created.token)), 'unauthenticated');
  expect((await c.deps.accounts.getToken(sha256(created.token))) ?? null).toBeNull();
  expect((await accounts.listApiTokens(c.deps, user)).map((t) => t.tokenId)).not.toContain(created.tokenId);
  // The other token still works; revoking twice, or another user's token, is "not found".
  expect((await accounts.authenticate(c.deps, bearer(first))).userId).toBe(user.userId);
  await rejects(accounts.revokeApiToken(c.deps, user, created.tokenId), 'not_found');
  const other = await c.newUser();
  const othersToken = (await accounts.listApiTokens(c.deps, other.user))[0]?.tokenId as string;
  await rejects(accounts.revokeApiToken(c.deps, user, othersToken), 'not_found');
  expect((await accounts.authenticate(c.deps, bearer(other.token))).userId).toBe(other.user.userId);
});

test('an expired token is refused and drops out of the list', async () => {
  const { user } = await c.newUser();
  const created = await accounts.createApiToken(c.deps, user, { expiresInS: 60 });
  const later = { ...c.deps, now: () => new Date(Date.now() + 120_000) };
  await rejects(accounts.authenticate(later, bearer(created.token)), 'unauthenticated');
  expect((await accounts.listApiTokens(later, user)).map((t) => t.tokenId)).not.toContain(created.tokenId);
});

test('a credential read once is trusted by this process for AUTH_CACHE_MS: one token and one user read; a revocation elsewhere holds within that bound', async () => {
  const { AUTH_CACHE_MS } = await import('../../lambdas/core/auth-cache');
  const { user } = await c.newUser();
  const created = await accounts.createApiToken(c.deps, user, { name: 'cached', expiresInS: 60 });
  const tokenReads = jest.spyOn(c.deps.accounts, 'getToken');
  const userReads = jest.spyOn(c.deps.accounts, 'getUser');
  try {
    for (let i = 0; i < 3; i++) expect((await accounts.authenticate(c.deps, bearer(created.token))).userId).toBe(user.userId);
    expect(tokenReads).toHaveBeenCalledTimes(1);
    expect(userReads).toHaveBeenCalledTimes(1);
    // The expiry is checked on every use, cached or not.
    await rejects(accounts.authenticate({ ...c.deps, now: () => new Date(Date.now() + 120_000) }, bearer(created.token)), 'unauthenticated');
    // Revoked by another process (another Lambda sandbox: the store alone, not this process's use-case):
    // accepted here at most until AUTH_CACHE_MS after it was read, then refused.
    const entry = (await c.deps.accounts.listCredentials(user.userId)).find((e) => e.tokenId === created.tokenId) as CredentialEntry;
    const readAt = Date.now();
    expect(await c.deps.accounts.revokeCredential(user.userId, entry)).toBe(true);
    if (Date.now() - readAt < AUTH_CACHE_MS - 500) expect((await accounts.authenticate(c.deps, bearer(created.token))).userId).toBe(user.userId);
    await new Promise((resolve) => setTimeout(resolve, AUTH_CACHE_MS));
    await rejects(accounts.authenticate(c.deps, bearer(created.token)), 'unauthenticated');
    // An unknown token is never remembered: each try asks the store.
    const reads = tokenReads.mock.calls.length;
    await rejects(accounts.authenticate(c.deps, bearer(created.token)), 'unauthenticated');
    expect(tokenReads.mock.calls.length).toBe(reads + 1);
  } finally {
    tokenReads.mockRestore();
    userReads.mockRestore();
  }
}, 60_000);

test('invoke keys: per function, secret once, authenticate only as that function’s key, revocable', async () => {
  const { user } = await c.newUser();
  const fn = await functions.createFunction(c.deps, user, definition());
  const key = await accounts.createInvokeKey(c.deps, user, fn.functionId, { name: 'website' });
  expect(key.key).toMatch(/^ik_[A-Za-z0-9_-]{43}$/);
  expect(key).toMatchObject({ kind: 'invoke', functionId: fn.functionId, name: 'website' });
  expect(await c.deps.accounts.getToken(sha256(key.key))).toMatchObject({ kind: 'invoke', functionId: fn.functionId, userId: user.userId });

  const caller = await accounts.authenticateCaller(c.deps, undefined, key.key);
  expect(caller).toMatchObject({ user: { userId: user.userId }, key: { tokenId: key.tokenId, functionId: fn.functionId } });
  expect((await accounts.authenticateCaller(c.deps, bearer(key.key), undefined)).key?.tokenId).toBe(key.tokenId);
  // An invoke key is not a user token: everything else refuses it.
  const refused = await rejects(accounts.authenticate(c.deps, bearer(key.key)), 'forbidden');
  expect(refused.message).toMatch(/invoke key/);
  expect(() => accounts.requireUser(caller)).toThrow(/invoke key/);

  const listed = await accounts.listInvokeKeys(c.deps, user, fn.functionId);
  expect(listed.map((k) => k.tokenId)).toEqual([key.tokenId]);
  expect(JSON.stringify(listed)).not.toContain(key.key);
  // API tokens are not invoke keys and vice versa.
  expect((await accounts.listApiTokens(c.deps, user)).map((t) => t.tokenId)).not.toContain(key.tokenId);
  await rejects(accounts.revokeApiToken(c.deps, user, key.tokenId), 'not_found');

  await accounts.revokeInvokeKey(c.deps, user, fn.functionId, key.tokenId);
  await rejects(accounts.authenticateCaller(c.deps, undefined, key.key), 'unauthenticated');
  expect(await accounts.listInvokeKeys(c.deps, user, fn.functionId)).toEqual([]);
});

test("invoke keys cannot be made for another user's function, a deleted one, or by a non-developer", async () => {
  const owner = await c.newUser();
  const other = await c.newUser();
  const fn = await functions.createFunction(c.deps, owner.user, definition());
  await rejects(accounts.createInvokeKey(c.deps, other.user, fn.functionId, {}), 'not_found');
  await rejects(accounts.listInvokeKeys(c.deps, other.user, fn.functionId), 'not_found');
  const provider = await c.newUser(['provider']);
  await rejects(accounts.createInvokeKey(c.deps, provider.user, fn.functionId, {}), 'forbidden');
  await functions.deleteFunction(c.deps, owner.user, fn.functionId);
  const deleted = await rejects(accounts.createInvokeKey(c.deps, owner.user, fn.functionId, {}), 'not_found');
  expect(deleted.details).toMatchObject({ deleted: true });
});

test('bad credential requests name the field', async () => {
  const { user } = await c.newUser();
  await rejects(accounts.createApiToken(c.deps, user, { expiresInS: 5 }), 'invalid_request', 'expiresInS');
  await rejects(accounts.createApiToken(c.deps, user, { name: 'x'.repeat(65) }), 'invalid_request', 'name');
  await rejects(accounts.createApiToken(c.deps, user, { scope: 'all' }), 'invalid_request');
  // Both credentials at once: 401 naming x-api-key (#25: a credential problem, not a malformed body).
  await rejects(accounts.authenticateCaller(c.deps, bearer('cf_' + 'x'.repeat(43)), 'ik_' + 'y'.repeat(43)), 'unauthenticated', 'x-api-key');
  await rejects(accounts.authenticateCaller(c.deps, undefined, 'not-a-key'), 'unauthenticated');
});

test('the credential directory enforces its cap atomically, even under concurrent creation', async () => {
  const { user } = await c.newUser();
  const entryFor = (i: number): [TokenRecord, CredentialEntry] => {
    const tokenHash = sha256(`cap-${user.userId}-${i}`);
    const createdAt = new Date().toISOString();
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    return [
      { tokenHash, userId: user.userId, kind: 'api', createdAt, expiresAt, tokenId: `tok_cap${i}` },
      { tokenId: `tok_cap${i}`, tokenHash, kind: 'api', hint: 'abcd', createdAt, expiresAt },
    ];
  };
  // The user already has its registration token: a cap of 4 leaves room for 3 of these 8.
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => c.deps.accounts.createCredential(...entryFor(i), 4)));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
  for (const r of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) expect(r.reason.code).toBe('conflict');
  const listed = await c.deps.accounts.listCredentials(user.userId);
  expect(listed).toHaveLength(4);
  // Every listed credential has its lookup item, and no refused one left a lookup item behind.
  for (let i = 0; i < 8; i++) {
    const [record] = entryFor(i);
    const isListed = listed.some((e) => e.tokenHash === record.tokenHash);
    expect(Boolean(await c.deps.accounts.getToken(record.tokenHash))).toBe(isListed);
  }
});
