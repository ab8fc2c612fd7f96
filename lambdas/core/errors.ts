import type { ErrorCode } from '../../contract/src/problem';

/**
 * Domain errors. They carry no HTTP status: the handler edge (lambdas/handlers/http.ts)
 * maps each `code` to a status. Every error names what went wrong in words a caller can act on.
 */
export type { ErrorCode };

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request field the problem is about, as a dotted path (e.g. `resources.memoryMb`). */
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (field: string, message: string) => new DomainError('invalid_request', message, field);
export const notFound = (what: string, id: string) => new DomainError('not_found', `${what} ${id} does not exist`, undefined, { id });
export const forbidden = (message: string) => new DomainError('forbidden', message);
export const unauthenticated = (message = 'missing or invalid credentials: send Authorization: Bearer <token>') => new DomainError('unauthenticated', message);
export const conflict = (message: string, details?: Record<string, unknown>) => new DomainError('conflict', message, undefined, details);

/**
 * The caller should try again later: `code` is `too_many_requests` (429, the caller's own limit) or
 * `no_capacity` (503, the platform's). The edge sends `retryAfterS` as a Retry-After header.
 */
export const retryLater = (code: 'too_many_requests' | 'no_capacity', message: string, retryAfterS: number, details: Record<string, unknown> = {}) =>
  new DomainError(code, message, undefined, { ...details, retryAfterS });
