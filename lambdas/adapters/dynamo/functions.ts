import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { FunctionRecord } from '../../core/model';
import type { FunctionStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';
import { queryAll } from './query';

/** Key of a version's snapshot. `#` never occurs in a function id, so snapshots and functions cannot collide. */
const snapshotKey = (functionId: string, version: number) => `${functionId}#v${version}`;

/**
 * A function's input schema is kept as its JSON text (`inputSchemaJson`): a DynamoDB map does not
 * keep the order of its keys, and the order of a schema's properties is the order of its form.
 */
function toItem(fn: FunctionRecord): Record<string, unknown> {
  const { inputSchema, ...rest } = fn;
  return inputSchema === undefined ? rest : { ...rest, inputSchemaJson: JSON.stringify(inputSchema) };
}

function fromItem(item: Record<string, unknown> | undefined): FunctionRecord | undefined {
  if (!item) return undefined;
  const { inputSchemaJson, ...rest } = item;
  return (typeof inputSchemaJson === 'string' ? { ...rest, inputSchema: JSON.parse(inputSchemaJson) as Record<string, unknown> } : rest) as unknown as FunctionRecord;
}

/**
 * Functions: the current version under `functionId` (listed by the `byOwner` index), and every
 * version's snapshot under `<functionId>#v<n>`, nested in a `snapshot` attribute so that it has no
 * top-level owner and stays out of the index. A new version and its snapshot are written in one
 * transaction, conditional on the version the update was based on.
 */
export class DynamoFunctionStore implements FunctionStore {
  constructor(private readonly table: string) {}

  async putFunction(fn: FunctionRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: toItem(fn) }));
  }

  async createFunction(fn: FunctionRecord): Promise<void> {
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.table, Item: toItem(fn), ConditionExpression: 'attribute_not_exists(functionId)' } },
          {
            Put: {
              TableName: this.table,
              Item: { functionId: snapshotKey(fn.functionId, fn.version), snapshot: toItem(fn) },
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
    return fromItem(out.Item);
  }

  async getFunctionVersion(functionId: string, version: number): Promise<FunctionRecord | undefined> {
    if (functionId.includes('#')) return undefined;
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { functionId: snapshotKey(functionId, version) } }));
    return fromItem(out.Item?.snapshot as Record<string, unknown> | undefined);
  }

  async updateFunction(next: FunctionRecord): Promise<boolean> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: toItem(next),
                ConditionExpression: 'version = :prev AND ownerId = :owner AND attribute_not_exists(deletedAt)',
                ExpressionAttributeValues: { ':prev': next.version - 1, ':owner': next.ownerId },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { functionId: snapshotKey(next.functionId, next.version), snapshot: toItem(next) },
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
    const items = await queryAll<Record<string, unknown>>({
      TableName: this.table,
      IndexName: 'byOwner',
      KeyConditionExpression: 'ownerId = :o',
      ExpressionAttributeValues: { ':o': ownerId },
      ScanIndexForward: false,
    });
    return items.map((item) => fromItem(item) as FunctionRecord);
  }
}
