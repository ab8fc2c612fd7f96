import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FunctionRecord } from '../../core/model';
import type { FunctionStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';
import { queryAll } from './query';

/** Key of a version's snapshot. `#` never occurs in a function id, so snapshots and functions cannot collide. */
const snapshotKey = (functionId: string, version: number) => `${functionId}#v${version}`;

/**
 * Functions: the current version under `functionId` (listed by the `byOwner` index), and every
 * version's snapshot under `<functionId>#v<n>`, nested in a `snapshot` attribute so that it has no
 * top-level owner and stays out of the index. A new version and its snapshot are written in one
 * transaction, conditional on the version the update was based on.
 */
export class DynamoFunctionStore implements FunctionStore {
  constructor(private readonly table: string) {}

  async putFunction(fn: FunctionRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: fn }));
  }

  async createFunction(fn: FunctionRecord): Promise<void> {
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.table, Item: fn, ConditionExpression: 'attribute_not_exists(functionId)' } },
          {
            Put: {
              TableName: this.table,
              Item: { functionId: snapshotKey(fn.functionId, fn.version), snapshot: fn },
              ConditionExpression: 'attribute_not_exists(functionId)',
            },
          },
        ],
      }),
    );
  }

  async getFunction(functionId: string): Promise<FunctionRecord | undefined> {
    if (functionId.includes('#')) return undefined;
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { functionId }, ConsistentRead: true }));
    return out.Item as FunctionRecord | undefined;
  }

  async getFunctionVersion(functionId: string, version: number): Promise<FunctionRecord | undefined> {
    if (functionId.includes('#')) return undefined;
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { functionId: snapshotKey(functionId, version) } }));
    return out.Item?.snapshot as FunctionRecord | undefined;
  }

  async updateFunction(next: FunctionRecord): Promise<boolean> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: next,
                ConditionExpression: 'version = :prev AND ownerId = :owner AND attribute_not_exists(deletedAt)',
                ExpressionAttributeValues: { ':prev': next.version - 1, ':owner': next.ownerId },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { functionId: snapshotKey(next.functionId, next.version), snapshot: next },
                ConditionExpression: 'attribute_not_exists(functionId)',
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

  async markDeleted(functionId: string, ownerId: string, at: string): Promise<boolean> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { functionId },
          UpdateExpression: 'SET deletedAt = :at, updatedAt = :at',
          ConditionExpression: 'ownerId = :owner AND attribute_not_exists(deletedAt)',
          ExpressionAttributeValues: { ':at': at, ':owner': ownerId },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async listFunctions(ownerId: string): Promise<FunctionRecord[]> {
    return queryAll<FunctionRecord>({
      TableName: this.table,
      IndexName: 'byOwner',
      KeyConditionExpression: 'ownerId = :o',
      ExpressionAttributeValues: { ':o': ownerId },
      ScanIndexForward: false,
    });
  }
}
