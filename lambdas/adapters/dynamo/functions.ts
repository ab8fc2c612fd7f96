import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { FunctionRecord } from '../../core/model';
import type { FunctionStore } from '../../core/ports';
import { dynamo } from '../clients';

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
