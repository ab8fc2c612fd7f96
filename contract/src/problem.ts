import { z } from 'zod';

/**
 * How the controller says no: every error answer is `{ error: { code, message, field?, … } }`.
 * The codes a domain error carries (the handler edge maps each to an HTTP status), and the two
 * only the edge itself answers.
 */

export const ERROR_CODES = [
  'invalid_request',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'insufficient_funds',
  'no_capacity',
  'payload_too_large',
  'unavailable',
  'too_many_requests',
] as const;
/** A domain error's code (lambdas/core/errors.ts#DomainError). */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes no domain error carries: a method the route lacks (local server), and a bug (500, with its request id). */
export const EDGE_ERROR_CODES = ['method_not_allowed', 'internal'] as const;

/** The problem itself; other members are details of the error (`retryAfterS`, `deleted`, `id`, …). */
export const ProblemDetail = z.looseObject({
  code: z.enum([...ERROR_CODES, ...EDGE_ERROR_CODES]),
  message: z.string().min(1),
  field: z.string().meta({ description: 'the request field the problem is about, as a dotted path' }).optional(),
  requestId: z.string().optional(),
  retryAfterS: z.number().optional(),
});
export type ProblemDetail = z.infer<typeof ProblemDetail>;

export const Problem = z.strictObject({ error: ProblemDetail });
export type Problem = z.infer<typeof Problem>;

/** Formats a zod error as `field: message` for the first issue; the edge returns it as the problem's detail. */
export function firstIssue(err: z.ZodError): { field: string; message: string } {
  const issue = err.issues[0];
  const field = issue?.path.join('.') || '(body)';
  return { field, message: issue?.message ?? 'invalid' };
}
