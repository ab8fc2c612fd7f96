import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BillingStore, PaymentLink, PayoutRecord, PublishedPrices, ReversalRecord, TopUpRecord } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';
import { itemsOfKind } from './balances';

const CURRENT = 'price#current';
const version = (v: number) => `price#v${String(v).padStart(10, '0')}`;
const topUpKey = (accountId: string, reference: string) => `topup#${accountId}#${reference}`;
const payoutKey = (accountId: string, reference: string) => `payout#${accountId}#${reference}`;
/** The `kinds` partition of payouts still to be sent (the attribute is removed when they end). */
const OPEN_PAYOUT = 'payout-open';

/**
 * Price lists and top-up records, in the balances table next to the money they price and credit:
 * `price#current` (the newest version) and `price#v<version>` (kind `price`, every version kept),
 * and `topup#<account>#<reference>` (no kind: never listed with the accounts). Card payments and
 * payouts (use-cases/payments.ts): `payment#<paymentId>` (which top-up a card payment paid),
 * `reversal#<reference>`, `event#<eventId>` (webhook events handled), `connect#<account>` (the
 * connected payout account), `payout#<account>#<reference>` (kind `payout-open` while it is to be
 * sent: the payout sweep's work list).
 */
export class DynamoBillingStore implements BillingStore {
  constructor(private readonly table: string) {}

  async currentPrices(): Promise<PublishedPrices | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId: CURRENT }, ConsistentRead: true }));
    return out.Item ? strip(out.Item) : undefined;
  }

  async listPrices(): Promise<PublishedPrices[]> {
    return (await itemsOfKind(this.table, 'price', { newestFirst: true })).map(strip);
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

  async getTopUp(accountId: string, reference: string): Promise<TopUpRecord | undefined> {
    const item = await this.get(topUpKey(accountId, reference));
    if (!item) return undefined;
    const { owner, ...rest } = item;
    return { ...(rest as unknown as TopUpRecord), accountId: owner as string };
  }

  async approveTopUp(accountId: string, reference: string, paidAmount: number): Promise<boolean> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { accountId: topUpKey(accountId, reference) },
          UpdateExpression: 'SET #s = :approved, paidAmount = :a REMOVE checkoutUrl',
          ConditionExpression: '#s = :pending',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':approved': 'approved', ':pending': 'pending', ':a': paidAmount },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async linkPayment(link: PaymentLink): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: { ...link, accountId: `payment#${link.paymentId}`, owner: link.accountId } }));
  }

  async getPaymentLink(paymentId: string): Promise<PaymentLink | undefined> {
    const item = await this.get(`payment#${paymentId}`);
    return item ? { paymentId, accountId: item.owner as string, reference: item.reference as string } : undefined;
  }

  async getReversal(reference: string): Promise<ReversalRecord | undefined> {
    const item = await this.get(`reversal#${reference}`);
    return item ? ({ ...item, reference } as unknown as ReversalRecord) : undefined;
  }

  async createReversal(record: ReversalRecord): Promise<{ created: true } | { created: false; existing: ReversalRecord }> {
    return this.createOnce(`reversal#${record.reference}`, record) as Promise<{ created: true } | { created: false; existing: ReversalRecord }>;
  }

  async eventHandled(eventId: string): Promise<boolean> {
    return (await this.get(`event#${eventId}`)) !== undefined;
  }

  async markEventHandled(eventId: string, at: string): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: { accountId: `event#${eventId}`, handledAt: at } }));
  }

  async getConnectedAccount(accountId: string): Promise<string | undefined> {
    return (await this.get(`connect#${accountId}`))?.connectedAccountId as string | undefined;
  }

  async setConnectedAccount(accountId: string, connectedAccountId: string): Promise<string> {
    const out = await this.createOnce(`connect#${accountId}`, { owner: accountId, connectedAccountId });
    return out.created ? connectedAccountId : ((out.existing as { connectedAccountId: string }).connectedAccountId);
  }

  async createPayout(record: PayoutRecord): Promise<{ created: true } | { created: false; existing: PayoutRecord }> {
    const out = await this.createOnce(payoutKey(record.accountId, record.reference), { ...record, kind: OPEN_PAYOUT });
    return out.created ? out : { created: false, existing: toPayout(out.existing) };
  }

  async getPayout(accountId: string, reference: string): Promise<PayoutRecord | undefined> {
    const item = await this.get(payoutKey(accountId, reference));
    return item ? toPayout(item) : undefined;
  }

  async updatePayout(accountId: string, reference: string, changes: Partial<PayoutRecord>): Promise<void> {
    const entries = Object.entries(changes).filter(([k, v]) => v !== undefined && k !== 'accountId' && k !== 'reference');
    const ended = changes.status !== undefined && changes.status !== 'requested';
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { accountId: payoutKey(accountId, reference) },
        UpdateExpression: `SET ${entries.map((_, i) => `#f${i} = :v${i}`).join(', ')}${ended ? ' REMOVE kind' : ''}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([k], i) => [`#f${i}`, k])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
      }),
    );
  }

  async listOpenPayouts(limit: number): Promise<PayoutRecord[]> {
    return (await itemsOfKind(this.table, OPEN_PAYOUT, { limit })).map(toPayout).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private async get(key: string): Promise<Record<string, unknown> | undefined> {
    return (await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId: key }, ConsistentRead: true }))).Item;
  }

  /** Puts `item` at `key` unless an item is there; answers the stored one then. */
  private async createOnce(key: string, item: object): Promise<{ created: true } | { created: false; existing: Record<string, unknown> }> {
    try {
      await dynamo.send(new PutCommand({ TableName: this.table, Item: { ...item, accountId: key }, ConditionExpression: 'attribute_not_exists(accountId)' }));
      return { created: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    const { accountId: _key, ...existing } = (await this.get(key)) ?? {};
    void _key;
    return { created: false, existing };
  }
}

function toPayout(item: Record<string, unknown>): PayoutRecord {
  const { kind: _kind, accountId: key, ...rest } = item;
  void _kind;
  const record = rest as unknown as PayoutRecord;
  // The table's key is `payout#<account>#<reference>`; the record keeps both.
  return { ...record, accountId: record.accountId ?? String(key).split('#')[1] };
}

function strip(item: Record<string, unknown>): PublishedPrices {
  return {
    version: Number(item.version),
    vcpuMs: Number(item.vcpuMs),
    mbMs: Number(item.mbMs),
    ...(item.diskMbMs === undefined ? {} : { diskMbMs: Number(item.diskMbMs) }),
    publishedAt: item.publishedAt as string,
    publishedBy: item.publishedBy as string,
  };
}
