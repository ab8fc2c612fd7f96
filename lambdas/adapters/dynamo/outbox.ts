import { BatchWriteCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerEvent } from '../../core/ledger';
import type { Outbox, OutboxEntry, OutboxRoute } from '../../core/ports';
import { dynamo } from '../clients';
import { isConditionFailure } from './common';
import { queryAll } from './query';

let seqCounter = 0;
/** Sortable, unique within a process: ISO time + a counter + randomness. */
function nextSeq(at: string): string {
  seqCounter = (seqCounter + 1) % 1_000_000;
  return `${at}#${String(seqCounter).padStart(6, '0')}#${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Parts of the sparse `pending` index. One partition key for every pending entry would cap the
 * outbox at one GSI partition's write rate (about 1,000 writes/s, and every entry is written,
 * taken and deleted); entries are spread by lane (or stream), so one lane's entries stay in one
 * part, in order. An entry waiting for a drain is in part `p<n>`; once a drain took it, in `t<n>`
 * (the same index key, rewritten by the conditional write that takes it), until it is deleted.
 * `p` is the single part of entries written before the index was spread; the drain's recovery
 * still reads it.
 */
export const PENDING_SHARDS = 8;
const WAITING = Array.from({ length: PENDING_SHARDS }, (_, i) => `p${i}`);
const TAKEN = Array.from({ length: PENDING_SHARDS }, (_, i) => `t${i}`);
const LEGACY = 'p';
/** Most entries one `take` takes by single updates (more go in transactions). */
const SINGLE_TAKES = 32;
/** DynamoDB's limit of items in one TransactWriteItems. */
const TRANSACTION_ITEMS = 100;
/** Counts `take` calls in this process: with the drain's id, what an entry's `takenBy` holds. */
let takeCalls = 0;

function shardOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(h) % PENDING_SHARDS;
}

/** The part of the index an entry moves to when a drain takes it. */
function takenPart(item: StoredEntry): string {
  const part = item.pendingShard;
  return part !== undefined && /^[pt]\d+$/.test(part) ? `t${part.slice(1)}` : `t${shardOf(item.lane ?? item.stream)}`;
}

/** Oldest first: the order the outbox lists entries in (by `enqueuedAt`, then `seq`). */
export const inOrder = (a: OutboxEntry, b: OutboxEntry) =>
  a.enqueuedAt === b.enqueuedAt ? a.seq.localeCompare(b.seq) : a.enqueuedAt.localeCompare(b.enqueuedAt);

/** An entry as stored: where it is in the index, and which drain took it. */
type StoredEntry = OutboxEntry & { pendingShard?: string; takenBy?: string };

/** Entries written before an append became one item hold a single `event`. */
function fromItem(item: Record<string, unknown>): StoredEntry {
  const { event, ...rest } = item as unknown as StoredEntry & { event?: LedgerEvent };
  return { ...rest, events: rest.events ?? (event ? [event] : []) };
}

/**
 * The ledger outbox: events wait here until the ledger writer commits them. Waiting entries are
 * listed by the sparse `pending` index; a drain takes what it read with one conditional write per
 * entry (single updates for a few, transactions of 100 for many), which moves the entry to the
 * taken part of the index, so no later read returns it; a committed entry is deleted, a refused one kept with its error.
 */
export class DynamoOutbox implements Outbox {
  constructor(private readonly table: string) {}

  async append(stream: string, events: LedgerEvent[], route?: OutboxRoute): Promise<void> {
    if (events.length === 0) return;
    // One item for the append's events: atomic on its own, one put (not a transaction of one
    // item per event), and one entry to take and delete.
    await dynamo.send(new PutCommand(this.appendPut(stream, events, route).Put));
  }

  /** An append as one put (for `append`, or for a transaction that writes it with other items: DynamoJobStarts). */
  appendPut(stream: string, events: LedgerEvent[], route?: OutboxRoute): { Put: { TableName: string; Item: Record<string, unknown> } } {
    const at = new Date().toISOString();
    const shard = `p${shardOf(route?.lane ?? stream)}`;
    const routing = route ? { lane: route.lane, ...(route.payee !== undefined ? { payee: route.payee } : {}) } : {};
    return { Put: { TableName: this.table, Item: { stream, seq: nextSeq(at), events, enqueuedAt: at, pendingShard: shard, ...routing } } };
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    const { entries, horizon } = await this.read([...WAITING, LEGACY], limit);
    return entries.filter((e) => horizon === undefined || e.enqueuedAt <= horizon).slice(0, limit);
  }

  async waiting(limit: number): Promise<{ entries: OutboxEntry[]; horizon?: string }> {
    return this.read(WAITING, limit);
  }

  async taken(limit: number): Promise<OutboxEntry[]> {
    const { entries } = await this.read(TAKEN, limit);
    return entries.slice(0, limit);
  }

  /** Every entry of the taken parts and the legacy part, page after page, taken for `drain`. */
  async recover(drain: string): Promise<OutboxEntry[]> {
    const parts = await Promise.all(
      [...TAKEN, LEGACY].map((part) =>
        queryAll<Record<string, unknown>>({ TableName: this.table, IndexName: 'pending', KeyConditionExpression: 'pendingShard = :p', ExpressionAttributeValues: { ':p': part } }),
      ),
    );
    return this.take(parts.flat().map(fromItem), drain);
  }

  /**
   * Takes each entry for `drain` if it is still where the read found it (its index part, and the
   * drain that held it): the condition is checked on the table itself, so an entry another drain
   * took or deleted meanwhile, or one a lagging index still listed, is left out. Each take stands
   * alone (no entry's take depends on another's), so a transaction makes none safer: up to
   * `SINGLE_TAKES` entries (a sparse outbox) are taken by one conditional UpdateItem each, all at
   * once (one write unit each); more (a busy outbox) in transactions of 100, all at once (two units
   * each, but one request per 100: at hundreds of entries, single updates would hold the read ahead
   * of the lanes back by seconds). A process that dies between two takes leaves the entries it
   * took taken, for the next drain that recovers (which reads the waiting parts before it submits
   * anything, so they keep their order: use-cases/outbox.ts). `takenBy` names the drain and this
   * call: an UpdateItem the SDK sends again after its first try was applied (the answer lost) finds
   * the entry taken by this very call and succeeds (a transaction is made idempotent by its client
   * token), while an entry an earlier call took (a stale read returned it again) fails its condition.
   */
  async take(entries: OutboxEntry[], drain: string): Promise<OutboxEntry[]> {
    const me = `${drain}#${++takeCalls}`;
    const unique = new Map<string, StoredEntry>();
    for (const e of entries as StoredEntry[]) if (e.pendingShard !== undefined) unique.set(`${e.stream}\u0000${e.seq}`, e);
    const items = [...unique.values()];
    const chunks: StoredEntry[][] = [];
    if (items.length <= SINGLE_TAKES) for (const e of items) chunks.push([e]);
    else for (let i = 0; i < items.length; i += TRANSACTION_ITEMS) chunks.push(items.slice(i, i + TRANSACTION_ITEMS));
    const taken = await Promise.all(chunks.map((chunk) => (chunk.length === 1 ? this.takeOne(chunk[0] as StoredEntry, me) : this.takeChunk(chunk, me))));
    return taken.flat().sort(inOrder);
  }

  private update(e: StoredEntry, me: string) {
    return {
      TableName: this.table,
      Key: { stream: e.stream, seq: e.seq },
      UpdateExpression: 'SET pendingShard = :to, takenBy = :me',
      ConditionExpression: `(pendingShard = :from AND ${e.takenBy === undefined ? 'attribute_not_exists(takenBy)' : 'takenBy = :before'}) OR takenBy = :me`,
      ExpressionAttributeValues: { ':to': takenPart(e), ':me': me, ':from': e.pendingShard, ...(e.takenBy === undefined ? {} : { ':before': e.takenBy }) },
    };
  }

  private async takeOne(e: StoredEntry, me: string): Promise<OutboxEntry[]> {
    try {
      await dynamo.send(new UpdateCommand(this.update(e, me)));
    } catch (err) {
      // No longer where it was read: someone else holds it, or it is gone.
      if (isConditionFailure(err)) return [];
      throw err;
    }
    const { pendingShard: _part, takenBy: _drain, ...entry } = e;
    return [entry];
  }

  private async takeChunk(chunk: StoredEntry[], me: string): Promise<OutboxEntry[]> {
    let items = chunk;
    for (let attempt = 0; items.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
      try {
        await dynamo.send(new TransactWriteCommand({ TransactItems: items.map((e) => ({ Update: this.update(e, me) })) }));
        return items.map(({ pendingShard: _part, takenBy: _drain, ...entry }) => entry);
      } catch (err) {
        const reasons = (err as { name?: string; CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
        if ((err as { name?: string }).name !== 'TransactionCanceledException' || !reasons) throw err;
        const unexpected = reasons.find((r) => r.Code && !['None', 'ConditionalCheckFailed', 'TransactionConflict'].includes(r.Code));
        if (unexpected) throw err;
        // Whose condition failed is no longer where it was read: someone else holds it, or it is gone.
        items = items.filter((_, i) => reasons[i]?.Code !== 'ConditionalCheckFailed');
      }
    }
    return [];
  }

  /** Up to `limit` entries of each of `parts`, oldest first; `horizon` as in the port. */
  private async read(parts: string[], limit: number): Promise<{ entries: StoredEntry[]; horizon?: string }> {
    const pages = await Promise.all(
      parts.map(async (part) => {
        const out = await dynamo.send(
          new QueryCommand({ TableName: this.table, IndexName: 'pending', KeyConditionExpression: 'pendingShard = :p', ExpressionAttributeValues: { ':p': part }, Limit: limit }),
        );
        return { items: (out.Items ?? []).map(fromItem), full: out.LastEvaluatedKey !== undefined };
      }),
    );
    let horizon: string | undefined;
    for (const page of pages) {
      const last = page.items.at(-1)?.enqueuedAt;
      // A part that has more than one page: its unread entries are at least as new as its last one.
      if (page.full && last !== undefined && (horizon === undefined || last < horizon)) horizon = last;
    }
    return { entries: pages.flatMap((p) => p.items).sort(inOrder), horizon };
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
        UpdateExpression: 'SET rejectedError = :e REMOVE pendingShard, takenBy',
        ExpressionAttributeValues: { ':e': error },
      }),
    );
  }
}
