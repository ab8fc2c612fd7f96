import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';

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

/** One item of a TransactWriteItems: the stores build theirs, so a transaction across tables writes each as its store would. */
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Which items of a cancelled transaction failed their condition (indexes into its TransactItems). */
export function failedConditions(err: TransactionCanceledException): Set<number> {
  const failed = new Set<number>();
  (err.CancellationReasons ?? []).forEach((r, i) => r.Code === 'ConditionalCheckFailed' && failed.add(i));
  return failed;
}
