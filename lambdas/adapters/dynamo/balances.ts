import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BalanceStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';

const CHECKPOINT = '#checkpoint';
/** DynamoDB allows 100 items per transaction; one is the marker that makes the write idempotent. */
const ACCOUNTS_PER_WRITE = 99;

/**
 * Balances that follow the ledger. Each committed ledger transaction is applied in DynamoDB
 * transactions that also write a marker item `tx#<txId>[#part]` under a condition, so a replay
 * of the same ledger transaction is a no-op. All account items live in the `all` partition of the
 * `byKind` index so the reconciliation can list them.
 */
export class DynamoBalanceStore implements BalanceStore {
  constructor(private readonly table: string) {}

  async apply(txId: string, deltas: Map<string, number>, blockNumber: number): Promise<boolean> {
    const entries = [...deltas];
    let applied = false;
    for (let part = 0; part === 0 || part * ACCOUNTS_PER_WRITE < entries.length; part++) {
      const chunk = entries.slice(part * ACCOUNTS_PER_WRITE, (part + 1) * ACCOUNTS_PER_WRITE);
      try {
        await dynamo.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: this.table, Item: { accountId: `tx#${txId}#${part}`, blockNumber }, ConditionExpression: 'attribute_not_exists(accountId)' } },
              ...chunk.map(([accountId, delta]) => ({
                Update: {
                  TableName: this.table,
                  Key: { accountId },
                  // `available` (balance minus open holds) moves with the balance; holds move only it.
                  UpdateExpression: 'ADD balance :d, available :d SET kind = :k, updatedBlock = :b',
                  ExpressionAttributeValues: { ':d': delta, ':k': 'account', ':b': blockNumber },
                },
              })),
            ],
          }),
        );
        applied = true;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    await this.advance(blockNumber);
    return applied;
  }

  private async advance(blockNumber: number): Promise<void> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { accountId: CHECKPOINT },
          UpdateExpression: 'SET blockNumber = :b',
          ConditionExpression: 'attribute_not_exists(blockNumber) OR blockNumber < :b',
          ExpressionAttributeValues: { ':b': blockNumber },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async get(accountId: string): Promise<number | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId } }));
    return out.Item?.kind === 'account' ? Number(out.Item.balance ?? 0) : undefined;
  }

  async list(): Promise<{ accountId: string; balance: number }[]> {
    const items: { accountId: string; balance: number }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await dynamo.send(
        new QueryCommand({ TableName: this.table, IndexName: 'byKind', KeyConditionExpression: 'kind = :k', ExpressionAttributeValues: { ':k': 'account' }, ExclusiveStartKey: start }),
      );
      for (const item of out.Items ?? []) items.push({ accountId: item.accountId as string, balance: Number(item.balance ?? 0) });
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * Holds live in this table: `hold#<jobId>` items (kind `hold`, so the byKind index lists the
   * open ones) next to the account items they reserve from. Placing and releasing are one
   * DynamoDB transaction each: the account's `available` moves under a condition, and the hold
   * item is created (must not exist) or deleted (must exist with its amount), so concurrent
   * invocations never take `available` below zero and a hold is released at most once.
   */
  async placeHold(accountId: string, jobId: string, amount: number, at: string): Promise<boolean> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: { accountId },
                UpdateExpression: 'SET available = available - :h',
                ConditionExpression: 'kind = :k AND available >= :h',
                ExpressionAttributeValues: { ':h': amount, ':k': 'account' },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { accountId: `hold#${jobId}`, kind: 'hold', holder: accountId, jobId, amount, placedAt: at },
                ConditionExpression: 'attribute_not_exists(accountId)',
              },
            },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof TransactionCanceledException && err.CancellationReasons?.[1]?.Code === 'ConditionalCheckFailed') return true;
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async releaseHold(jobId: string): Promise<number | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId: `hold#${jobId}` }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const amount = Number(out.Item.amount);
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            { Delete: { TableName: this.table, Key: { accountId: `hold#${jobId}` }, ConditionExpression: 'amount = :h', ExpressionAttributeValues: { ':h': amount } } },
            { Update: { TableName: this.table, Key: { accountId: out.Item.holder as string }, UpdateExpression: 'ADD available :h', ExpressionAttributeValues: { ':h': amount } } },
          ],
        }),
      );
      return amount;
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  async account(accountId: string): Promise<{ balance: number; available: number; held: number } | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId }, ConsistentRead: true }));
    if (out.Item?.kind !== 'account') return undefined;
    const balance = Number(out.Item.balance ?? 0);
    const available = Number(out.Item.available ?? balance);
    return { balance, available, held: balance - available };
  }

  async listHolds(limit: number): Promise<{ jobId: string; accountId: string; amount: number; placedAt: string }[]> {
    const out = await dynamo.send(
      new QueryCommand({ TableName: this.table, IndexName: 'byKind', KeyConditionExpression: 'kind = :k', ExpressionAttributeValues: { ':k': 'hold' }, Limit: limit }),
    );
    return (out.Items ?? [])
      .map((i) => ({ jobId: i.jobId as string, accountId: i.holder as string, amount: Number(i.amount), placedAt: i.placedAt as string }))
      .sort((a, b) => a.placedAt.localeCompare(b.placedAt));
  }

  async checkpoint(): Promise<number | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId: CHECKPOINT }, ConsistentRead: true }));
    return out.Item?.blockNumber as number | undefined;
  }
}
