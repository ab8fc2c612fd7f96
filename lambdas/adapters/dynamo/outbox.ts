import { DeleteCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerEvent } from '../../core/ledger';
import type { Outbox, OutboxEntry } from '../../core/ports';
import { dynamo } from '../clients';

let seqCounter = 0;
/** Sortable, unique within a process: ISO time + a counter + randomness. */
function nextSeq(at: string): string {
  seqCounter = (seqCounter + 1) % 1_000_000;
  return `${at}#${String(seqCounter).padStart(6, '0')}#${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * The ledger outbox: events wait here until the ledger writer commits them. Pending entries are
 * listed by the sparse `pending` index; a committed entry is deleted, a refused one kept with its error.
 */
export class DynamoOutbox implements Outbox {
  constructor(private readonly table: string) {}

  async append(stream: string, events: LedgerEvent[]): Promise<void> {
    const at = new Date().toISOString();
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: events.map((event) => ({
          Put: { TableName: this.table, Item: { stream, seq: nextSeq(at), event, enqueuedAt: at, pendingShard: 'p' } },
        })),
      }),
    );
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    const out = await dynamo.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'pending',
        KeyConditionExpression: 'pendingShard = :p',
        ExpressionAttributeValues: { ':p': 'p' },
        Limit: limit,
      }),
    );
    // The index orders by enqueue time; ties (one append) are broken by seq, which keeps append order.
    return ((out.Items ?? []) as OutboxEntry[]).sort((a, b) =>
      a.enqueuedAt === b.enqueuedAt ? a.seq.localeCompare(b.seq) : a.enqueuedAt.localeCompare(b.enqueuedAt),
    );
  }

  async markDone(entry: OutboxEntry): Promise<void> {
    await dynamo.send(new DeleteCommand({ TableName: this.table, Key: { stream: entry.stream, seq: entry.seq } }));
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
