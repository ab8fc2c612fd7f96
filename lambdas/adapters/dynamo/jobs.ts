import { GetCommand, PutCommand, QueryCommand, type QueryCommandInput, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { IdempotencyRecord, JobProgress, JobRecord, JobStatus } from '../../core/model';
import type { JobCursor, JobSearch, JobStore } from '../../core/ports';
import { WAITING_JOB_FIELDS, type WaitingJob } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure, type TransactItem } from './common';
import { queryAll, queryPages } from './query';

/** Where an idempotency record lives in the jobs table (no developerId, so in no index). */
const idempotencyKeyOf = (scope: string, keyHash: string) => `idem#${scope}#${keyHash}`;

export class DynamoJobStore implements JobStore {
  constructor(private readonly table: string) {}

  async createJob(job: JobRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: job, ConditionExpression: 'attribute_not_exists(jobId)' }));
  }

  /**
   * The idempotency record lives in this table under `idem#<scope>#<keyHash>` (no developerId, so it
   * is in no index). It and the job are written in one transaction: of two concurrent requests
   * with the same key, exactly one creates a job; the other reads the winner's record.
   */
  async createJobOnce(job: JobRecord, idem: IdempotencyRecord): Promise<{ created: true } | { created: false; existing: IdempotencyRecord }> {
    try {
      await dynamo.send(new TransactWriteCommand({ TransactItems: [this.idempotencyPut(idem), this.jobPut(job)] }));
      return { created: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const existing = await this.getIdempotency(idem.scope, idem.keyHash);
      if (!existing) throw err;
      return { created: false, existing };
    }
  }

  /** A new job's record, in a transaction: only if no job has its id. */
  jobPut(job: JobRecord): TransactItem {
    return { Put: { TableName: this.table, Item: job, ConditionExpression: 'attribute_not_exists(jobId)' } };
  }

  /** An idempotency record, in a transaction: only if the key is unused or its record expired. */
  idempotencyPut(idem: IdempotencyRecord): TransactItem {
    const { jobId: createdJobId, ...rest } = idem;
    return {
      Put: {
        TableName: this.table,
        Item: { ...rest, jobId: idempotencyKeyOf(idem.scope, idem.keyHash), createdJobId },
        ConditionExpression: 'attribute_not_exists(jobId) OR expiresAt < :now',
        ExpressionAttributeValues: { ':now': idem.createdAt },
      },
    };
  }

  async getIdempotency(scope: string, keyHash: string): Promise<IdempotencyRecord | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { jobId: idempotencyKeyOf(scope, keyHash) }, ConsistentRead: true }));
    if (!out.Item) return undefined;
    const { jobId: _key, createdJobId, ...stored } = out.Item;
    return { ...(stored as Omit<IdempotencyRecord, 'jobId'>), jobId: createdJobId as string };
  }

  /**
   * A developer's jobs, newest first, from the byDeveloper index (the time range is part of the
   * key condition; function and status are filters). Reads at most 10 pages of 100 index items
   * per call; the cursor then resumes where the reading stopped, so a selective filter yields
   * short pages rather than a slow request.
   */
  async searchJobs(q: JobSearch): Promise<{ items: JobRecord[]; next?: JobCursor }> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':d': q.developerId };
    let keyCondition = 'developerId = :d';
    if (q.from !== undefined && q.to !== undefined) keyCondition += ' AND createdAt BETWEEN :from AND :to';
    else if (q.from !== undefined) keyCondition += ' AND createdAt >= :from';
    else if (q.to !== undefined) keyCondition += ' AND createdAt <= :to';
    if (q.from !== undefined) values[':from'] = q.from;
    if (q.to !== undefined) values[':to'] = q.to;
    const filters: string[] = [];
    if (q.functionId !== undefined) {
      filters.push('functionId = :f');
      values[':f'] = q.functionId;
    }
    if (q.statuses?.length) {
      names['#status'] = 'status';
      filters.push(`#status IN (${q.statuses.map((_, i) => `:s${i}`).join(', ')})`);
      q.statuses.forEach((s, i) => (values[`:s${i}`] = s));
    }
    const items: JobRecord[] = [];
    let start: Record<string, unknown> | undefined = q.after ? { developerId: q.developerId, createdAt: q.after.createdAt, jobId: q.after.jobId } : undefined;
    let pages = 0;
    const query = {
      TableName: this.table,
      IndexName: 'byDeveloper',
      KeyConditionExpression: keyCondition,
      FilterExpression: filters.length ? filters.join(' AND ') : undefined,
      ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
      ExpressionAttributeValues: values,
      ScanIndexForward: false,
    };
    // At most 10 pages of 100 items read per request.
    for await (const out of queryPages(query, { pageSize: 100, startKey: start })) {
      for (const item of (out.Items ?? []) as JobRecord[]) {
        items.push(item);
        if (items.length === q.limit) {
          // More may follow: resume after this item (any item's keys are a valid start key).
          const more = out.LastEvaluatedKey !== undefined || item !== out.Items?.at(-1);
          return { items, next: more ? { createdAt: item.createdAt, jobId: item.jobId } : undefined };
        }
      }
      if (!out.LastEvaluatedKey) return { items };
      start = out.LastEvaluatedKey;
      if (++pages === 10) break;
    }
    // The read budget ran out before the page filled: resume where the reading stopped.
    return { items, next: start && { createdAt: start.createdAt as string, jobId: start.jobId as string } };
  }

  async listDueCallbacks(nowIso: string, limit: number): Promise<JobRecord[]> {
    const out = await dynamo.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'callbacks',
        KeyConditionExpression: 'callbackShard = :c AND callbackDueAt <= :now',
        ExpressionAttributeValues: { ':c': 'c', ':now': nowIso },
        Limit: limit,
      }),
    );
    return (out.Items ?? []) as JobRecord[];
  }

  async recordCallback(jobId: string, expectedAttempts: number, changes: Partial<JobRecord>, done: boolean): Promise<boolean> {
    const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
    const names: Record<string, string> = Object.fromEntries(entries.map(([k], i) => [`#c${i}`, k]));
    const values: Record<string, unknown> = Object.fromEntries(entries.map(([, v], i) => [`:c${i}`, v]));
    values[':n'] = expectedAttempts;
    const set = entries.length ? `SET ${entries.map((_, i) => `#c${i} = :c${i}`).join(', ')}` : '';
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { jobId },
          UpdateExpression: [set, done ? 'REMOVE callbackShard, callbackDueAt' : ''].filter(Boolean).join(' '),
          ConditionExpression: 'attribute_exists(callbackShard) AND callbackAttempts = :n',
          ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async queueVerdictCallback(jobId: string, nowIso: string): Promise<boolean> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { jobId },
          UpdateExpression: 'SET callbackShard = :c, callbackDueAt = :now, callbackAttempts = :zero, callbackPhase = :v REMOVE callbackDeliveredAt, callbackError',
          ConditionExpression: 'attribute_exists(callbackUrl) AND attribute_not_exists(callbackShard) AND attribute_not_exists(callbackPhase)',
          ExpressionAttributeValues: { ':c': 'c', ':now': nowIso, ':zero': 0, ':v': 'verdict' },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { jobId }, ConsistentRead: true }));
    return out.Item as JobRecord | undefined;
  }

  async transition(
    jobId: string,
    from: readonly JobStatus[],
    changes: Partial<JobRecord>,
    guard: { providerId?: string; attempt?: number; present?: keyof JobRecord } = {},
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
    if (guard.present !== undefined) {
      names['#present'] = guard.present;
      conditions.push('attribute_exists(#present)');
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

  async recordSettlement(
    jobId: string,
    cost: number,
    paid: boolean,
    reason?: string,
  ): Promise<Pick<JobRecord, 'paid' | 'reportAcceptedAt' | 'developerId' | 'holdAmount'> | undefined> {
    try {
      const out = await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { jobId },
          UpdateExpression: reason === undefined ? 'SET cost = :c, paid = :p' : 'SET cost = :c, paid = :p, unpaidReason = :r',
          ConditionExpression: 'attribute_exists(jobId)',
          ExpressionAttributeValues: { ':c': cost, ':p': paid, ...(reason === undefined ? {} : { ':r': reason }) },
          // The job as it was: whether this write is the one that first recorded it paid (settlement lag).
          ReturnValues: 'ALL_OLD',
        }),
      );
      const before = out.Attributes as JobRecord | undefined;
      return { paid: before?.paid, reportAcceptedAt: before?.reportAcceptedAt, developerId: before?.developerId as string, holdAmount: before?.holdAmount };
    } catch (err) {
      // A settlement for a job this controller never stored (another deployment's) is ignored.
      if (!isConditionFailure(err)) throw err;
      return undefined;
    }
  }

  async listSettled(developerId: string): Promise<JobRecord[]> {
    return this.queryIndex({
      IndexName: 'byDeveloper',
      KeyConditionExpression: 'developerId = :d',
      FilterExpression: 'attribute_exists(cost)',
      ExpressionAttributeValues: { ':d': developerId },
    });
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

  async listWaitingUpTo(max: number): Promise<WaitingJob[]> {
    const names = Object.fromEntries(WAITING_JOB_FIELDS.map((f, i) => [`#p${i}`, f]));
    return this.queryIndex<WaitingJob>(
      {
        IndexName: 'waiting',
        KeyConditionExpression: 'waitingShard = :w',
        ExpressionAttributeValues: { ':w': 'w' },
        ProjectionExpression: Object.keys(names).join(', '),
        ExpressionAttributeNames: names,
      },
      max,
    );
  }

  async countWaiting(developerId: string): Promise<{ developer: number; total: number }> {
    const counts = { developer: 0, total: 0 };
    const waiting = { TableName: this.table, IndexName: 'waiting', KeyConditionExpression: 'waitingShard = :w', ExpressionAttributeValues: { ':w': 'w' }, ProjectionExpression: 'developerId' };
    for await (const page of queryPages(waiting)) {
      for (const item of page.Items ?? []) {
        counts.total++;
        if (item.developerId === developerId) counts.developer++;
      }
    }
    return counts;
  }

  async listLeased(): Promise<JobRecord[]> {
    return this.queryIndex({ IndexName: 'leases', KeyConditionExpression: 'leaseShard = :l', ExpressionAttributeValues: { ':l': 'l' } });
  }

  async listExpiredLeases(nowIso: string, limit: number): Promise<JobRecord[]> {
    return this.queryIndex(
      { IndexName: 'leases', KeyConditionExpression: 'leaseShard = :l AND leaseExpiresAt < :now', ExpressionAttributeValues: { ':l': 'l', ':now': nowIso } },
      limit,
    );
  }

  async renewLease(jobId: string, providerId: string, leaseExpiresAt: string, progress?: JobProgress): Promise<boolean> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { jobId },
          UpdateExpression: progress ? 'SET leaseExpiresAt = :e, progress = :pr' : 'SET leaseExpiresAt = :e',
          ConditionExpression: '#status = :assigned AND providerId = :p AND attribute_exists(leaseShard)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':e': leaseExpiresAt, ':assigned': 'ASSIGNED', ':p': providerId, ...(progress ? { ':pr': progress } : {}) },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** Every page of an index query of this table, in index order, up to `max` items. */
  private queryIndex<T = JobRecord>(query: Omit<QueryCommandInput, 'TableName'>, max?: number): Promise<T[]> {
    return queryAll<T>({ TableName: this.table, ...query }, max);
  }
}
