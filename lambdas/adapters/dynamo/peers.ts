import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PeerRecord, PeerStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';
import { queryAll } from './query';

/** Operators' peers, partitioned by operator; `peerId = #count` counts the operator's peers. */
export class DynamoPeerStore implements PeerStore {
  constructor(private readonly table: string) {}

  async createPeer(peer: PeerRecord, max: number): Promise<boolean> {
    try {
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: { operatorId: peer.operatorId, peerId: '#count' },
                UpdateExpression: 'SET peers = if_not_exists(peers, :zero) + :one',
                ConditionExpression: 'attribute_not_exists(peers) OR peers < :max',
                ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':max': max },
              },
            },
            { Put: { TableName: this.table, Item: peer, ConditionExpression: 'attribute_not_exists(peerId)' } },
          ],
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async getPeer(operatorId: string, peerId: string): Promise<PeerRecord | undefined> {
    if (peerId.startsWith('#')) return undefined;
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { operatorId, peerId }, ConsistentRead: true }));
    return out.Item as PeerRecord | undefined;
  }

  async listPeers(operatorId: string): Promise<PeerRecord[]> {
    const items = await queryAll<PeerRecord>({
      TableName: this.table,
      KeyConditionExpression: 'operatorId = :o AND begins_with(peerId, :p)',
      ExpressionAttributeValues: { ':o': operatorId, ':p': 'peer_' },
      ConsistentRead: true,
    });
    return items.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async markJoined(operatorId: string, peerId: string, at: string): Promise<void> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { operatorId, peerId },
          UpdateExpression: 'SET joinedAt = :at',
          ConditionExpression: 'attribute_exists(peerId) AND attribute_not_exists(joinedAt)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async markRevoked(operatorId: string, peerId: string, at: string): Promise<boolean> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { operatorId, peerId },
          UpdateExpression: 'SET revokedAt = :at',
          ConditionExpression: 'attribute_exists(peerId) AND attribute_not_exists(revokedAt)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }
}
