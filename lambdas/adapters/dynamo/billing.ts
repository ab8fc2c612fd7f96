import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BillingStore, PublishedPrices, TopUpRecord } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';

const CURRENT = 'price#current';
const version = (v: number) => `price#v${String(v).padStart(10, '0')}`;
const topUpKey = (accountId: string, reference: string) => `topup#${accountId}#${reference}`;

/**
 * Price lists and top-up records, in the balances table next to the money they price and credit:
 * `price#current` (the newest version) and `price#v<version>` (kind `price`, every version kept),
 * and `topup#<account>#<reference>` (no kind: never listed with the accounts).
 */
export class DynamoBillingStore implements BillingStore {
  constructor(private readonly table: string) {}

  async currentPrices(): Promise<PublishedPrices | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId: CURRENT }, ConsistentRead: true }));
    return out.Item ? strip(out.Item) : undefined;
  }

  async listPrices(): Promise<PublishedPrices[]> {
    const out = await dynamo.send(
      new QueryCommand({ TableName: this.table, IndexName: 'byKind', KeyConditionExpression: 'kind = :k', ExpressionAttributeValues: { ':k': 'price' }, ScanIndexForward: false }),
    );
    return (out.Items ?? []).map(strip);
  }

  async publishPrices(prices: PublishedPrices): Promise<boolean> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { accountId: CURRENT, ...prices },
                ConditionExpression: 'attribute_not_exists(accountId) OR version < :v',
                ExpressionAttributeValues: { ':v': prices.version },
              },
            },
            { Put: { TableName: this.table, Item: { accountId: version(prices.version), kind: 'price', ...prices }, ConditionExpression: 'attribute_not_exists(accountId)' } },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async createTopUp(record: TopUpRecord): Promise<{ created: true } | { created: false; existing: TopUpRecord }> {
    const key = topUpKey(record.accountId, record.reference);
    try {
      await dynamo.send(new PutCommand({ TableName: this.table, Item: { ...record, accountId: key, owner: record.accountId }, ConditionExpression: 'attribute_not_exists(accountId)' }));
      return { created: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId: key }, ConsistentRead: true }));
    const item = out.Item as Record<string, unknown>;
    const { owner, ...rest } = item;
    return { created: false, existing: { ...(rest as unknown as TopUpRecord), accountId: owner as string } };
  }

  async updateTopUp(accountId: string, reference: string, changes: Partial<TopUpRecord>): Promise<void> {
    const entries = Object.entries(changes).filter(([k, v]) => v !== undefined && k !== 'accountId' && k !== 'reference');
    if (entries.length === 0) return;
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { accountId: topUpKey(accountId, reference) },
        UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
      }),
    );
  }
}

function strip(item: Record<string, unknown>): PublishedPrices {
  return { version: Number(item.version), vcpuMs: Number(item.vcpuMs), mbMs: Number(item.mbMs), publishedAt: item.publishedAt as string, publishedBy: item.publishedBy as string };
}
