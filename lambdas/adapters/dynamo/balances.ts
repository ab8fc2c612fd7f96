import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PaymentTerms } from '../../core/ledger';
import type { AccountChanges, AccountView, BalanceStore } from '../../core/ports';
import { spendable } from '../../core/use-cases/balances';
import { dynamo } from '../clients';
import { isConditionFailure, type TransactItem } from './common';
import { getItems, queryAll } from './query';

const CHECKPOINT = '#checkpoint';
/** DynamoDB allows 100 items per transaction; one is the marker that makes the write idempotent. */
const ACCOUNTS_PER_WRITE = 99;

/**
 * Balances that follow the ledger. Each committed ledger transaction is applied in DynamoDB
 * transactions that also write a marker item `tx#<txId>[#part]` under a condition, so a replay
 * of the same ledger transaction is a no-op. All account items live in the `all` partition of the
 * `kinds` index so the reconciliation can list them.
 */
/** The balances table's index of items by `kind` (lambdas/handlers/manifest.ts: keys and a hold's fields). */
export const KINDS = 'kinds';

/**
 * The items of `kind` in `table`, in the index's order (at most `limit`): their keys from the
 * `kinds` index, then the items themselves, read consistently. An item that changed kind since the
 * index listed it (a payout that ended) is left out.
 */
export async function itemsOfKind(table: string, kind: string, { limit, newestFirst = false }: { limit?: number; newestFirst?: boolean } = {}): Promise<Record<string, unknown>[]> {
  const keys = await queryAll<{ accountId: string }>(
    { TableName: table, IndexName: KINDS, KeyConditionExpression: 'kind = :k', ExpressionAttributeValues: { ':k': kind }, ScanIndexForward: !newestFirst },
    limit,
  );
  const items = new Map((await getItems<Record<string, unknown>>(table, keys.map(({ accountId }) => ({ accountId })))).map((item) => [item.accountId as string, item]));
  return keys.flatMap(({ accountId }) => {
    const item = items.get(accountId);
    return item?.kind === kind ? [item] : [];
  });
}

export class DynamoBalanceStore implements BalanceStore {
  constructor(private readonly table: string) {}

  async apply(txId: string, deltas: Map<string, number>, blockNumber: number, changes?: AccountChanges): Promise<boolean> {
    const entries = [...new Set([...deltas.keys(), ...(changes?.owed.keys() ?? []), ...(changes?.terms.keys() ?? [])])];
    let applied = false;
    for (let part = 0; part === 0 || part * ACCOUNTS_PER_WRITE < entries.length; part++) {
      const chunk = entries.slice(part * ACCOUNTS_PER_WRITE, (part + 1) * ACCOUNTS_PER_WRITE);
      if (await this.applyPart(`tx#${txId}#${part}`, chunk, deltas, changes, blockNumber)) applied = true;
    }
    await this.advance(blockNumber);
    return applied;
  }

  /**
   * One DynamoDB transaction: the marker (must not exist) and each account's new balance, debt and
   * terms, with `available` moved by the change of what holds may take (`spendable`, billing). The
   * accounts are read first and each update is conditioned on the revision read (`rev`), so two
   * writers applying at once retry instead of overwriting each other; holds move only `available`
   * (with ADD) and never conflict with this.
   */
  private async applyPart(
    marker: string,
    chunk: string[],
    deltas: Map<string, number>,
    changes: AccountChanges | undefined,
    blockNumber: number,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.readAccounts(chunk);
      try {
        await dynamo.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: this.table, Item: { accountId: marker, blockNumber }, ConditionExpression: 'attribute_not_exists(accountId)' } },
              ...chunk.map((accountId) => ({
                Update: this.accountUpdate(
                  accountId,
                  current.get(accountId),
                  deltas.get(accountId) ?? 0,
                  changes?.owed.get(accountId) ?? 0,
                  changes?.terms.get(accountId),
                  blockNumber,
                ),
              })),
            ],
          }),
        );
        return true;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        // The marker exists: this part of the transaction was applied before.
        if (!(err instanceof TransactionCanceledException) || err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed') return false;
        if (attempt >= 50) throw err;
      }
    }
  }

  private accountUpdate(
    accountId: string,
    item: Record<string, unknown> | undefined,
    dBalance: number,
    dOwed: number,
    terms: { terms: PaymentTerms; creditLimit: number } | undefined,
    blockNumber: number,
  ) {
    const before = accountOf(item);
    const after = {
      balance: before.balance + dBalance,
      owed: before.owed + dOwed,
      terms: terms?.terms ?? before.terms,
      creditLimit: terms?.creditLimit ?? before.creditLimit,
    };
    const values: Record<string, unknown> = {
      ':b': after.balance,
      ':o': after.owed,
      ':t': after.terms,
      ':l': after.creditLimit,
      ':k': 'account',
      ':blk': blockNumber,
      ':rev': Number(item?.rev ?? 0) + 1,
    };
    const set = 'SET balance = :b, owed = :o, terms = :t, creditLimit = :l, kind = :k, updatedBlock = :blk, rev = :rev';
    let condition: string;
    let update: string;
    if (item === undefined || item.available === undefined) {
      // A new account, or one from before holds (no `available`): nothing can be held yet.
      values[':a'] = spendable(after);
      update = `${set}, available = :a`;
      condition =
        item === undefined
          ? 'attribute_not_exists(accountId)'
          : 'attribute_exists(accountId) AND attribute_not_exists(available) AND attribute_not_exists(rev)';
    } else {
      values[':d'] = spendable(after) - spendable(before);
      update = `${set} ADD available :d`;
      if (item.rev === undefined) condition = 'attribute_exists(available) AND attribute_not_exists(rev)';
      else {
        values[':rev0'] = Number(item.rev);
        condition = 'rev = :rev0';
      }
    }
    return { TableName: this.table, Key: { accountId }, UpdateExpression: update, ConditionExpression: condition, ExpressionAttributeValues: values };
  }

  /** The account items, read consistently (absent accounts are missing from the map). */
  private async readAccounts(accountIds: string[]): Promise<Map<string, Record<string, unknown>>> {
    const items = await getItems<Record<string, unknown>>(this.table, accountIds.map((accountId) => ({ accountId })));
    return new Map(items.map((item) => [item.accountId as string, item]));
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
    // The `kinds` index holds an account's keys, not its balance (which changes with every job).
    return (await itemsOfKind(this.table, 'account')).map((item) => ({ accountId: item.accountId as string, balance: Number(item.balance ?? 0) }));
  }

  /**
   * Holds live in this table: `hold#<jobId>` items (kind `hold`, so the `kinds` index lists the
   * open ones) next to the account items they reserve from. Placing and releasing are one
   * DynamoDB transaction each: the account's `available` moves under a condition, and the hold
   * item is created (must not exist) or deleted (must exist with its amount), so concurrent
   * invocations never take `available` below zero and a hold is released at most once.
   */
  async placeHold(accountId: string, jobId: string, amount: number, at: string): Promise<boolean> {
    const placed = await this.tryHold(accountId, jobId, amount, at);
    // An account from before holds has no `available` yet: it gets one (its balance: nothing was
    // held), once, and the hold is tried again.
    if (placed === false && (await this.migrate(accountId))) return (await this.tryHold(accountId, jobId, amount, at)) === true;
    return placed;
  }

  /** Gives an account item without `available` one equal to its balance; true if it did. */
  private async migrate(accountId: string): Promise<boolean> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { accountId },
          UpdateExpression: 'SET available = balance',
          ConditionExpression: 'kind = :k AND attribute_exists(balance) AND attribute_not_exists(available)',
          ExpressionAttributeValues: { ':k': 'account' },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  private async tryHold(accountId: string, jobId: string, amount: number, at: string): Promise<boolean> {
    try {
      await dynamo.send(new TransactWriteCommand({ TransactItems: this.holdWrites(accountId, jobId, amount, at) }));
      return true;
    } catch (err) {
      if (err instanceof TransactionCanceledException && err.CancellationReasons?.[1]?.Code === 'ConditionalCheckFailed') return true;
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * A hold's two writes, for a transaction: `available` lowered only if it covers `amount` (the
   * first), and the hold item created only if the job has none (the second).
   */
  holdWrites(accountId: string, jobId: string, amount: number, at: string): [TransactItem, TransactItem] {
    return [
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
    ];
  }

  async releaseHold(jobId: string, known?: { holder: string; amount: number }): Promise<number | undefined> {
    // Named by the job (its developer and hold amount): no read first. The delete's condition is the
    // hold exactly as named, so a wrong guess releases nothing and is read as below.
    if (known && (await this.release(jobId, known.holder, known.amount))) return known.amount;
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId: `hold#${jobId}` }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const amount = Number(out.Item.amount);
    return (await this.release(jobId, out.Item.holder as string, amount)) ? amount : undefined;
  }

  /** Deletes the hold if it is `holder`'s of `amount`, and gives the amount back to `available`, in one transaction; false if it was not there so. */
  private async release(jobId: string, holder: string, amount: number): Promise<boolean> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: { accountId: `hold#${jobId}` },
                ConditionExpression: 'amount = :h AND holder = :a',
                ExpressionAttributeValues: { ':h': amount, ':a': holder },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: { accountId: holder },
                UpdateExpression: 'ADD available :h',
                ExpressionAttributeValues: { ':h': amount },
              },
            },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async account(accountId: string): Promise<AccountView | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { accountId }, ConsistentRead: true }));
    if (out.Item?.kind !== 'account') return undefined;
    const account = accountOf(out.Item);
    // Without `available` (an account from before holds) nothing is held.
    const available = out.Item.available === undefined ? spendable(account) : Number(out.Item.available);
    return { ...account, available, held: spendable(account) - available };
  }

  async listHolds(limit: number): Promise<{ jobId: string; accountId: string; amount: number; placedAt: string }[]> {
    const out = await dynamo.send(
      new QueryCommand({
        TableName: this.table,
        // A hold's fields are in the index: no read of the items.
        IndexName: KINDS,
        KeyConditionExpression: 'kind = :k',
        ExpressionAttributeValues: { ':k': 'hold' },
        Limit: limit,
      }),
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

/** An account item's balance, debt and terms, with the defaults of items written before invoice terms. */
function accountOf(item: Record<string, unknown> | undefined): { balance: number; owed: number; terms: PaymentTerms; creditLimit: number } {
  return {
    balance: Number(item?.balance ?? 0),
    owed: Number(item?.owed ?? 0),
    terms: item?.terms === 'invoice' ? 'invoice' : 'prepaid',
    creditLimit: Number(item?.creditLimit ?? 0),
  };
}
