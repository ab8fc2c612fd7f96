import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conflict } from '../core/errors';
import type { LedgerEvent } from '../core/ledger';
import type { FunctionRecord, JobRecord, JobStatus, ProviderRecord, TokenRecord, User } from '../core/model';
import type { AccountStore, FunctionStore, JobStore, Outbox, OutboxEntry, ProviderStore } from '../core/ports';
import { dynamo } from './clients';

/** Table names, read from the environment variables named in lambdas/handlers/manifest.ts. */
export interface TableNames {
  users: string;
  tokens: string;
  functions: string;
  jobs: string;
  providers: string;
  outbox: string;
}

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err instanceof TransactionCanceledException && (err.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed'));

/** Users and tokens. Email uniqueness is enforced by a sentinel item written in the same transaction. */
export class DynamoAccountStore implements AccountStore {
  constructor(private readonly tables: Pick<TableNames, 'users' | 'tokens'>) {}

  async createUser(user: User): Promise<void> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tables.users,
                Item: { userId: `email#${user.email}`, owner: user.userId },
                ConditionExpression: 'attribute_not_exists(userId)',
              },
            },
            { Put: { TableName: this.tables.users, Item: user, ConditionExpression: 'attribute_not_exists(userId)' } },
          ],
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) throw conflict(`an account with email ${user.email} already exists`);
      throw err;
    }
  }

  async getUser(userId: string): Promise<User | undefined> {
    if (userId.startsWith('email#')) return undefined;
    const out = await dynamo.send(new GetCommand({ TableName: this.tables.users, Key: { userId } }));
    return out.Item as User | undefined;
  }

  async findUserByEmail(email: string): Promise<User | undefined> {
    const sentinel = await dynamo.send(new GetCommand({ TableName: this.tables.users, Key: { userId: `email#${email}` } }));
    const owner = sentinel.Item?.owner as string | undefined;
    return owner ? this.getUser(owner) : undefined;
  }

  async putToken(token: TokenRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.tables.tokens, Item: token, ConditionExpression: 'attribute_not_exists(tokenHash)' }));
  }

  async getToken(tokenHash: string): Promise<TokenRecord | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.tables.tokens, Key: { tokenHash } }));
    return out.Item as TokenRecord | undefined;
  }
}

export class DynamoFunctionStore implements FunctionStore {
  constructor(private readonly table: string) {}

  async putFunction(fn: FunctionRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: fn }));
  }

  async getFunction(functionId: string): Promise<FunctionRecord | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { functionId } }));
    return out.Item as FunctionRecord | undefined;
  }

  async listFunctions(ownerId: string): Promise<FunctionRecord[]> {
    const out = await dynamo.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'byOwner',
        KeyConditionExpression: 'ownerId = :o',
        ExpressionAttributeValues: { ':o': ownerId },
        ScanIndexForward: false,
      }),
    );
    return (out.Items ?? []) as FunctionRecord[];
  }
}

export class DynamoJobStore implements JobStore {
  constructor(private readonly table: string) {}

  async createJob(job: JobRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: job, ConditionExpression: 'attribute_not_exists(jobId)' }));
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { jobId }, ConsistentRead: true }));
    return out.Item as JobRecord | undefined;
  }

  async transition(
    jobId: string,
    from: readonly JobStatus[],
    changes: Partial<JobRecord>,
    guard: { providerId?: string; attempt?: number } = {},
    remove: (keyof JobRecord)[] = [],
  ): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [i, [key, value]] of Object.entries(changes)
      .filter(([, v]) => v !== undefined)
      .entries()) {
      names[`#c${i}`] = key;
      values[`:c${i}`] = value;
      sets.push(`#c${i} = :c${i}`);
    }
    const conditions = [`#status IN (${from.map((_, i) => `:f${i}`).join(', ')})`];
    from.forEach((s, i) => (values[`:f${i}`] = s));
    if (guard.providerId !== undefined) {
      names['#provider'] = 'providerId';
      values[':provider'] = guard.providerId;
      conditions.push('#provider = :provider');
    }
    if (guard.attempt !== undefined) {
      names['#attempt'] = 'attempt';
      values[':attempt'] = guard.attempt;
      conditions.push('#attempt = :attempt');
    }
    remove.forEach((key, i) => (names[`#r${i}`] = key));
    const update = [sets.length ? `SET ${sets.join(', ')}` : '', remove.length ? `REMOVE ${remove.map((_, i) => `#r${i}`).join(', ')}` : '']
      .filter(Boolean)
      .join(' ');
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { jobId },
          UpdateExpression: update,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async listWaiting(limit: number): Promise<JobRecord[]> {
    const out = await dynamo.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'waiting',
        KeyConditionExpression: 'waitingShard = :w',
        ExpressionAttributeValues: { ':w': 'w' },
        Limit: limit,
      }),
    );
    return (out.Items ?? []) as JobRecord[];
  }
}

export class DynamoProviderStore implements ProviderStore {
  constructor(private readonly table: string) {}

  async createProvider(p: ProviderRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: p, ConditionExpression: 'attribute_not_exists(providerId)' }));
  }

  async getProvider(providerId: string): Promise<ProviderRecord | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { providerId }, ConsistentRead: true }));
    return out.Item as ProviderRecord | undefined;
  }

  async listProviders(): Promise<ProviderRecord[]> {
    const items: ProviderRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await dynamo.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'online',
          KeyConditionExpression: 'onlineShard = :s',
          ExpressionAttributeValues: { ':s': '1' },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items ?? []) as ProviderRecord[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async heartbeat(providerId: string, at: string, cachedImages: string[], warmFunctions: string[], draining: boolean): Promise<void> {
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { providerId },
        UpdateExpression: 'SET lastHeartbeatAt = :at, cachedImages = :c, warmFunctions = :w, draining = :d',
        ConditionExpression: 'attribute_exists(providerId)',
        ExpressionAttributeValues: { ':at': at, ':c': cachedImages, ':w': warmFunctions, ':d': draining },
      }),
    );
  }

  async reserve(p: ProviderRecord, vcpuMilli: number, memoryMb: number): Promise<boolean> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { providerId: p.providerId },
          UpdateExpression: 'SET reservedVcpuMilli = reservedVcpuMilli + :v, reservedMemoryMb = reservedMemoryMb + :m',
          // Capacity is fixed at registration, so "reserved <= capacity - need" is exact.
          ConditionExpression: 'reservedVcpuMilli <= :maxV AND reservedMemoryMb <= :maxM AND draining = :false',
          ExpressionAttributeValues: {
            ':v': vcpuMilli,
            ':m': memoryMb,
            ':maxV': p.capacityVcpuMilli - vcpuMilli,
            ':maxM': p.capacityMemoryMb - memoryMb,
            ':false': false,
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async release(providerId: string, vcpuMilli: number, memoryMb: number): Promise<void> {
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { providerId },
        UpdateExpression: 'SET reservedVcpuMilli = reservedVcpuMilli - :v, reservedMemoryMb = reservedMemoryMb - :m',
        ConditionExpression: 'reservedVcpuMilli >= :v AND reservedMemoryMb >= :m',
        ExpressionAttributeValues: { ':v': vcpuMilli, ':m': memoryMb },
      }),
    );
  }
}

let seqCounter = 0;
/** Sortable, unique within a process: ISO time + a counter + randomness. */
function nextSeq(at: string): string {
  seqCounter = (seqCounter + 1) % 1_000_000;
  return `${at}#${String(seqCounter).padStart(6, '0')}#${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * The ledger outbox: events wait here until the ledger writer commits them. Pending entries are
 * listed by the sparse `pending` index; a committed entry is deleted, a refused one kept with its error.
 */
export class DynamoOutbox implements Outbox {
  constructor(private readonly table: string) {}

  async append(stream: string, events: LedgerEvent[]): Promise<void> {
    const at = new Date().toISOString();
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: events.map((event) => ({
          Put: { TableName: this.table, Item: { stream, seq: nextSeq(at), event, enqueuedAt: at, pendingShard: 'p' } },
        })),
      }),
    );
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    const out = await dynamo.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'pending',
        KeyConditionExpression: 'pendingShard = :p',
        ExpressionAttributeValues: { ':p': 'p' },
        Limit: limit,
      }),
    );
    // The index orders by enqueue time; ties (one append) are broken by seq, which keeps append order.
    return ((out.Items ?? []) as OutboxEntry[]).sort((a, b) =>
      a.enqueuedAt === b.enqueuedAt ? a.seq.localeCompare(b.seq) : a.enqueuedAt.localeCompare(b.enqueuedAt),
    );
  }

  async markDone(entry: OutboxEntry): Promise<void> {
    await dynamo.send(new DeleteCommand({ TableName: this.table, Key: { stream: entry.stream, seq: entry.seq } }));
  }

  async markRejected(entry: OutboxEntry, error: string): Promise<void> {
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { stream: entry.stream, seq: entry.seq },
        UpdateExpression: 'SET rejectedError = :e REMOVE pendingShard',
        ExpressionAttributeValues: { ':e': error },
      }),
    );
  }
}
