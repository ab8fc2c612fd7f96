import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';

/** Table names, read from the environment variables named in lambdas/handlers/manifest.ts. */
export interface TableNames {
  users: string;
  tokens: string;
  functions: string;
  jobs: string;
  providers: string;
  outbox: string;
}

export const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err instanceof TransactionCanceledException && (err.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed'));
