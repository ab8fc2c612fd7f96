import type { Reputation } from '../../core/reputation';
import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { WarmHints } from '../../core/placement';
import { capacityDiskMb } from '../../core/scheduler';
import type { ProviderRecord } from '../../core/model';
import { onlineCapacity, type Amount } from '../../core/scheduler';
import type { ProviderStore } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';
import { queryAll } from './query';

/** The characters of a provider id after `prv_` (passwords.ts#newId: base64url with '-' and '_' made 'x'). */
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export class DynamoProviderStore implements ProviderStore {
  /**
   * This process's warm index (core/placement.ts#WarmHints): where jobs of each function last
   * ended. Shared by every use-case of one process (local mode: the whole controller); in AWS each
   * Lambda sandbox has its own, fed only by the reports that sandbox accepts.
   */
  private readonly hints = new WarmHints();

  /** The last listing's online capacity, and when it was listed (`onlineCapacity`). */
  private capacity?: { at: number; total: Amount };

  constructor(private readonly table: string) {}

  async createProvider(p: ProviderRecord): Promise<void> {
    await dynamo.send(new PutCommand({ TableName: this.table, Item: p, ConditionExpression: 'attribute_not_exists(providerId)' }));
  }

  async deleteProvider(providerId: string, ownerId: string): Promise<'deleted' | 'busy' | 'missing'> {
    try {
      // One conditional delete: a reservation (reserve, above) and this delete cannot both succeed;
      // a reservation after it finds no item and fails its own condition.
      await dynamo.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { providerId },
          ConditionExpression: 'ownerId = :owner AND reservedVcpuMilli = :zero AND reservedMemoryMb = :zero',
          ExpressionAttributeValues: { ':owner': ownerId, ':zero': 0 },
        }),
      );
      return 'deleted';
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const now = await this.getProvider(providerId);
      return now && now.ownerId === ownerId ? 'busy' : 'missing';
    }
  }

  async getProvider(providerId: string): Promise<ProviderRecord | undefined> {
    const out = await dynamo.send(new GetCommand({ TableName: this.table, Key: { providerId }, ConsistentRead: true }));
    return out.Item as ProviderRecord | undefined;
  }

  async listProviders(): Promise<ProviderRecord[]> {
    return queryAll<ProviderRecord>({
      TableName: this.table,
      IndexName: 'online',
      KeyConditionExpression: 'onlineShard = :s',
      ExpressionAttributeValues: { ':s': '1' },
    });
  }

  async onlineCapacity(opts: { now: number; heartbeatStaleMs: number }, maxAgeMs: number): Promise<Amount> {
    if (!this.capacity || opts.now - this.capacity.at > maxAgeMs || opts.now < this.capacity.at) {
      this.capacity = { at: opts.now, total: onlineCapacity(await this.listProviders(), opts) };
    }
    return this.capacity.total;
  }

  /**
   * `k` providers at random in one or two requests, whatever their number: a query of the
   * `online` index (sort key: the provider id, random) from a random id onwards, `Limit` k, and
   * from the start of the index for what the first found short of k (the end wraps around).
   * Each provider is as likely as the gap of ids before it is wide: near-uniform for random ids.
   */
  async sample(k: number, random: () => number): Promise<ProviderRecord[]> {
    let start = 'prv_';
    for (let i = 0; i < 16; i++) start += ID_ALPHABET[Math.floor(random() * ID_ALPHABET.length)];
    const page = (from: string | undefined, limit: number) =>
      dynamo.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: 'online',
          KeyConditionExpression: from === undefined ? 'onlineShard = :s' : 'onlineShard = :s AND providerId >= :from',
          ExpressionAttributeValues: from === undefined ? { ':s': '1' } : { ':s': '1', ':from': from },
          Limit: limit,
        }),
      );
    const first = ((await page(start, k)).Items ?? []) as ProviderRecord[];
    if (first.length >= k) return first;
    const rest = ((await page(undefined, k - first.length)).Items ?? []) as ProviderRecord[];
    const seen = new Set(first.map((p) => p.providerId));
    return [...first, ...rest.filter((p) => !seen.has(p.providerId))];
  }

  /** The providers where `functionId` last ended (at most `k`), read fresh in one batch. */
  async warm(functionId: string, k: number): Promise<ProviderRecord[]> {
    const ids = this.hints.pick(functionId, k);
    if (ids.length === 0) return [];
    const out = await dynamo.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: ids.map((providerId) => ({ providerId })) } } }));
    const found = (out.Responses?.[this.table] ?? []) as ProviderRecord[];
    for (const id of ids) if (!found.some((p) => p.providerId === id)) this.hints.forget(functionId, id);
    return found;
  }

  freed(functionId: string, providerId: string): void {
    this.hints.note(functionId, providerId);
  }

  taken(functionId: string, providerId: string): void {
    this.hints.forget(functionId, providerId);
  }

  async heartbeat(
    providerId: string,
    at: string,
    cachedImages: string[],
    warmFunctions: string[],
    draining: boolean,
    extra: { nextBeatS?: number; reportedFree?: { vcpu: number; memoryMb: number } } = {},
  ): Promise<void> {
    const { nextBeatS, reportedFree } = extra;
    const set = [
      'lastHeartbeatAt = :at',
      'cachedImages = :c',
      'warmFunctions = :w',
      'draining = :d',
      ...(nextBeatS ? ['nextBeatS = :n'] : []),
      ...(reportedFree ? ['reportedFree = :f'] : []),
    ];
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { providerId },
        UpdateExpression: `SET ${set.join(', ')}${nextBeatS ? '' : ' REMOVE nextBeatS'}`,
        ConditionExpression: 'attribute_exists(providerId)',
        ExpressionAttributeValues: {
          ':at': at,
          ':c': cachedImages,
          ':w': warmFunctions,
          ':d': draining,
          ...(nextBeatS ? { ':n': nextBeatS } : {}),
          ...(reportedFree ? { ':f': reportedFree } : {}),
        },
      }),
    );
  }

  async reserve(p: ProviderRecord, vcpuMilli: number, memoryMb: number, diskMb = 0): Promise<boolean> {
    // More disk than the provider offers never fits (capacity is fixed); this also keeps the
    // `attribute_not_exists(reservedDiskMb)` branch below exact: there, 0 <= capacity - need.
    if (capacityDiskMb(p) - diskMb < 0) return false;
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { providerId: p.providerId },
          // A provider registered before disk was scheduled (issue #23) has no reservedDiskMb yet: it starts at 0.
          UpdateExpression: 'SET reservedVcpuMilli = reservedVcpuMilli + :v, reservedMemoryMb = reservedMemoryMb + :m, reservedDiskMb = if_not_exists(reservedDiskMb, :zero) + :d',
          // Capacity is fixed at registration, so "reserved <= capacity - need" is exact.
          ConditionExpression:
            'reservedVcpuMilli <= :maxV AND reservedMemoryMb <= :maxM AND (attribute_not_exists(reservedDiskMb) OR reservedDiskMb <= :maxD) AND draining = :false',
          ExpressionAttributeValues: {
            ':v': vcpuMilli,
            ':m': memoryMb,
            ':d': diskMb,
            ':zero': 0,
            ':maxV': p.capacityVcpuMilli - vcpuMilli,
            ':maxM': p.capacityMemoryMb - memoryMb,
            ':maxD': capacityDiskMb(p) - diskMb,
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

  async setReputation(providerId: string, reputation: Reputation, version: number): Promise<boolean> {
    try {
      await dynamo.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { providerId },
          UpdateExpression: 'SET reputation = :r, reputationVersion = :next',
          ConditionExpression: version === 0 ? 'attribute_exists(providerId) AND attribute_not_exists(reputationVersion)' : 'reputationVersion = :v',
          ExpressionAttributeValues: { ':r': reputation, ':next': version + 1, ...(version === 0 ? {} : { ':v': version }) },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async release(providerId: string, vcpuMilli: number, memoryMb: number, diskMb = 0): Promise<void> {
    await dynamo.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { providerId },
        // A reservation made before disk was scheduled held none: reservedDiskMb then stays at 0, never below.
        UpdateExpression:
          'SET reservedVcpuMilli = reservedVcpuMilli - :v, reservedMemoryMb = reservedMemoryMb - :m, reservedDiskMb = if_not_exists(reservedDiskMb, :d) - :d',
        ConditionExpression: 'reservedVcpuMilli >= :v AND reservedMemoryMb >= :m',
        ExpressionAttributeValues: { ':v': vcpuMilli, ':m': memoryMb, ':d': diskMb },
      }),
    );
  }
}
