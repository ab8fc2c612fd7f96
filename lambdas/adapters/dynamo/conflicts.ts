import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** A plugin of the DynamoDB client's middleware stack (the SDK's own type, through the client). */
type Plugin = Parameters<DynamoDBClient['middlewareStack']['use']>[0];

/**
 * DynamoDB refuses a write that meets another in flight on the same item when either is part of a
 * transaction: a `TransactWriteItems` is cancelled with the reason `TransactionConflict` for that
 * item, a single write fails with `TransactionConflictException`. Nothing was written either way,
 * and the SDK's retry strategy retries neither. The platform's hot items meet often: an account's
 * `available` is in every job's creation transaction, its holds' releases and the writer's
 * settlements; a provider's capacity in reservations, releases and heartbeats. So every request
 * of the controller's DynamoDB client that failed only by such a conflict is sent again, after
 * CONFLICT_BACKOFF_MS × 2^attempt with full jitter, up to CONFLICT_ATTEMPTS in all; a cancellation
 * with any other reason (a failed condition above all) is the caller's to read, as before.
 *
 * DynamoDB Local applies one request at a time and never reports a conflict; the test injects one
 * (`test/unit/dynamo-conflicts.test.ts`).
 */
export const CONFLICT_ATTEMPTS = 6;
export const CONFLICT_BACKOFF_MS = 10;

/** True when `err` is a write refused only because another one was in flight on one of its items. */
export function isConflictOnly(err: unknown): boolean {
  const e = err as { name?: string; CancellationReasons?: Array<{ Code?: string }> } | undefined;
  if (e?.name === 'TransactionConflictException') return true;
  if (e?.name !== 'TransactionCanceledException' || !e.CancellationReasons) return false;
  const codes = e.CancellationReasons.map((r) => r.Code ?? 'None');
  return codes.includes('TransactionConflict') && codes.every((c) => c === 'None' || c === 'TransactionConflict');
}

/**
 * The retry as a client plugin. It wraps the whole request from its first step (serialisation, the
 * SDK's own retries and the signature included), so each attempt is a new request: a transaction's
 * `ClientRequestToken`, generated when the request is serialised, is a new one on each (the first
 * was cancelled, and nothing of it was applied).
 */
export function conflictRetry(options: { attempts?: number; backoffMs?: number; sleep?: (ms: number) => Promise<void> } = {}): Plugin {
  const attempts = options.attempts ?? CONFLICT_ATTEMPTS;
  const backoffMs = options.backoffMs ?? CONFLICT_BACKOFF_MS;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return {
    applyToStack: (stack) => {
      stack.add(
        (next) => async (args) => {
          for (let attempt = 0; ; attempt++) {
            try {
              return await next(args);
            } catch (err) {
              if (!isConflictOnly(err) || attempt + 1 >= attempts) throw err;
              await sleep(Math.random() * backoffMs * 2 ** attempt);
            }
          }
        },
        { step: 'initialize', priority: 'high', name: 'chainfaasConflictRetry', override: true },
      );
    },
  };
}
