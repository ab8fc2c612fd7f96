import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { JobRecord, JobStatus } from '../../core/model';
import type { JobStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';

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

  async recordSettlement(jobId: string, cost: number, paid: boolean, reason?: string): Promise<void> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { jobId },
          UpdateExpression: reason === undefined ? 'SET cost = :c, paid = :p' : 'SET cost = :c, paid = :p, unpaidReason = :r',
          ConditionExpression: 'attribute_exists(jobId)',
          ExpressionAttributeValues: { ':c': cost, ':p': paid, ...(reason === undefined ? {} : { ':r': reason }) },
        }),
      );
    } catch (err) {
      // A settlement for a job this controller never stored (another deployment's) is ignored.
      if (!isConditionFailure(err)) throw err;
    }
  }

  async listSettled(developerId: string): Promise<JobRecord[]> {
    const items: JobRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await dynamo.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'byDeveloper',
          KeyConditionExpression: 'developerId = :d',
          FilterExpression: 'attribute_exists(cost)',
          ExpressionAttributeValues: { ':d': developerId },
          ExclusiveStartKey: start,
        }),
      );
      items.push(...((out.Items ?? []) as JobRecord[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
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
