import { BatchWriteCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerEvent } from '../../core/ledger';
import type { Outbox, OutboxCursor, OutboxEntry, OutboxRoute } from '../../core/ports';
import { dynamo } from '../clients';

let seqCounter = 0;
/** Sortable, unique within a process: ISO time + a counter + randomness. */
function nextSeq(at: string): string {
  seqCounter = (seqCounter + 1) % 1_000_000;
  return `${at}#${String(seqCounter).padStart(6, '0')}#${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Parts of the sparse `pending` index. One partition key for every pending entry would cap the
 * outbox at one GSI partition's write rate (about 1,000 writes/s, and every entry is written and
 * deleted); entries are spread by lane (or stream), so one lane's entries stay in one part, in order.
 * `p` is the single part of entries written before the index was spread; it is still read.
 */
export const PENDING_SHARDS = 8;
const SHARDS = [...Array.from({ length: PENDING_SHARDS }, (_, i) => `p${i}`), 'p'];

function shardOf(key: string): string {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return `p${Math.abs(h) % PENDING_SHARDS}`;
}

const inOrder = (a: OutboxEntry, b: OutboxEntry) =>
  a.enqueuedAt === b.enqueuedAt ? a.seq.localeCompare(b.seq) : a.enqueuedAt.localeCompare(b.enqueuedAt);

/**
 * The ledger outbox: events wait here until the ledger writer commits them. Pending entries are
 * listed by the sparse `pending` index; a committed entry is deleted, a refused one kept with its error.
 */
export class DynamoOutbox implements Outbox {
  constructor(private readonly table: string) {}

  async append(stream: string, events: LedgerEvent[], route?: OutboxRoute): Promise<void> {
    const at = new Date().toISOString();
    const shard = shardOf(route?.lane ?? stream);
    const routing = route ? { lane: route.lane, ...(route.payee !== undefined ? { payee: route.payee } : {}) } : {};
    const items = events.map((event) => ({ stream, seq: nextSeq(at), event, enqueuedAt: at, pendingShard: shard, ...routing }));
    // One entry is atomic on its own: a plain put costs half the write units of a transaction of one.
    if (items.length === 1) await dynamo.send(new PutCommand({ TableName: this.table, Item: items[0] }));
    else if (items.length > 1) await dynamo.send(new TransactWriteCommand({ TransactItems: items.map((Item) => ({ Put: { TableName: this.table, Item } })) }));
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    const { entries, horizon } = await this.pendingSince(undefined, limit);
    return entries.filter((e) => horizon === undefined || e.enqueuedAt <= horizon).slice(0, limit);
  }

  async pendingSince(cursor: OutboxCursor | undefined, limit: number): Promise<{ entries: OutboxEntry[]; cursor: OutboxCursor; horizon?: string }> {
    const pages = await Promise.all(
      SHARDS.map(async (shard) => {
        const from = cursor?.[shard];
        const out = await dynamo.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: 'pending',
            KeyConditionExpression: from === undefined ? 'pendingShard = :p' : 'pendingShard = :p AND enqueuedAt >= :c',
            ExpressionAttributeValues: from === undefined ? { ':p': shard } : { ':p': shard, ':c': from },
            Limit: limit,
          }),
        );
        return { shard, items: (out.Items ?? []) as OutboxEntry[], full: out.LastEvaluatedKey !== undefined };
      }),
    );
    const next: OutboxCursor = { ...cursor };
    let horizon: string | undefined;
    for (const page of pages) {
      const last = page.items.at(-1)?.enqueuedAt;
      if (last !== undefined) next[page.shard] = last;
      // A part that has more than one page: its unread entries are at least as new as its last one.
      if (page.full && last !== undefined && (horizon === undefined || last < horizon)) horizon = last;
    }
    return { entries: pages.flatMap((p) => p.items).sort(inOrder), cursor: next, horizon };
  }

  /** Deletes in BatchWriteItem calls of 25 (DynamoDB's limit), sent together; unprocessed items are sent again. */
  async markDone(entries: OutboxEntry[]): Promise<void> {
    const chunks: OutboxEntry[][] = [];
    for (let i = 0; i < entries.length; i += 25) chunks.push(entries.slice(i, i + 25));
    await Promise.all(
      chunks.map(async (chunk) => {
        let requests = chunk.map((e) => ({ DeleteRequest: { Key: { stream: e.stream, seq: e.seq } } }));
        for (let attempt = 0; requests.length > 0; attempt++) {
          if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
          const out = await dynamo.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } }));
          requests = (out.UnprocessedItems?.[this.table] ?? []) as typeof requests;
        }
      }),
    );
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
