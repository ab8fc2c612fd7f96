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
                  UpdateExpression: 'ADD balance :d SET kind = :k, updatedBlock = :b',
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

  async checkpoint(): Promise<number | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId: CHECKPOINT }, ConsistentRead: true }));
    return out.Item?.blockNumber as number | undefined;
  }
}
