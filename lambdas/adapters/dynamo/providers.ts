import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ProviderRecord } from '../../core/model';
import type { ProviderStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';
import { queryAll } from './query';

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
    return queryAll<ProviderRecord>({ TableName: this.table, IndexName: 'online', KeyConditionExpression: 'onlineShard = :s', ExpressionAttributeValues: { ':s': '1' } });
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

  async recordReportedFree(providerId: string, free: { vcpu: number; memoryMb: number }): Promise<void> {
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { providerId },
        UpdateExpression: 'SET reportedFree = :f',
        ConditionExpression: 'attribute_exists(providerId)',
        ExpressionAttributeValues: { ':f': free },
      }),
    );
  }
}
