import type { TokenRecord, User } from './model';
import { Recent } from './recent';

/**
 * The credentials this process looked up in the last AUTH_CACHE_MS (issue #16: every API request
 * read the token and its user, two of a warm job's requests per call, four per job). Keyed by the
 * token's SHA-256, never the secret; only lookups that found both are kept (an unknown token is
 * asked about every time). The token's own expiry is checked on every use, by the caller.
 *
 * The revocation bound (SECURITY.md): a revocation made in this process forgets the token at once
 * (`forgetCredential`; local mode runs every handler in one process), so only another process (a
 * Lambda sandbox that authenticated the token within the bound) may still accept it, for at most
 * AUTH_CACHE_MS. The operator claim forgets its user's entries the same way (`forgetUser`).
 */
export const AUTH_CACHE_MS = 5_000;
/** At most this many credentials are kept; the oldest goes first. */
export const AUTH_CACHE_MAX = 1_000;

const entries = new Recent<string, { record: TokenRecord; user: User }>(AUTH_CACHE_MS, AUTH_CACHE_MAX);

/** The token and user looked up for `tokenHash` less than AUTH_CACHE_MS ago, if any. */
export function cachedCredential(tokenHash: string, nowMs = Date.now()): { record: TokenRecord; user: User } | undefined {
  return entries.get(tokenHash, nowMs);
}

export function rememberCredential(tokenHash: string, record: TokenRecord, user: User, nowMs = Date.now()): void {
  entries.set(tokenHash, { record, user }, nowMs);
}

/** A revoked (or removed) token: refused by this process from now on. */
export function forgetCredential(tokenHash: string): void {
  entries.delete(tokenHash);
}

/** A user whose record changed (the operator claim): their tokens are read again on their next use. */
export function forgetUser(userId: string): void {
  entries.deleteWhere((entry) => entry.record.userId === userId);
}
