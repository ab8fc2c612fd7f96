import type { LedgerEvent } from '../lambdas/core/ledger';
import { inOrder } from '../lambdas/adapters/dynamo/outbox';
import type { Outbox, OutboxEntry, OutboxRoute } from '../lambdas/core/ports';
import { idOf } from '../lambdas/core/use-cases/outbox';

/**
 * Issue #17, for one figure only: the outbox in this process's memory, so that bench/settlement.ts
 * can measure what the lanes writer and the Fabric network settle on this machine without
 * DynamoDB Local and the producer processes sharing its two cores. The platform never uses it
 * (its outbox is `dynamo/outbox.ts`, which every other figure and every test runs); it keeps the
 * port's contract the writer relies on: entries listed oldest first, up to `limit` per part (a
 * part per lane, as the DynamoDB outbox spreads its index by lane), a taken entry listed by no
 * later read, taken entries handed back by `recover`, marked ones gone.
 */
export class MemoryOutbox implements Outbox {
  private readonly waitingByPart = new Map<string, Map<string, OutboxEntry>>();
  private readonly takenEntries = new Map<string, OutboxEntry>();
  private counter = 0;
  readonly rejected: Array<{ entry: OutboxEntry; error: string }> = [];

  async append(stream: string, events: LedgerEvent[], route?: OutboxRoute): Promise<void> {
    if (events.length === 0) return;
    const at = new Date().toISOString();
    const entry: OutboxEntry = { stream, seq: `${at}#${String(++this.counter).padStart(9, '0')}`, events, enqueuedAt: at, ...route };
    const part = route?.lane ?? stream;
    let entries = this.waitingByPart.get(part);
    if (!entries) this.waitingByPart.set(part, (entries = new Map()));
    entries.set(idOf(entry), entry);
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    const { entries, horizon } = await this.waiting(limit);
    return entries.filter((e) => horizon === undefined || e.enqueuedAt <= horizon).slice(0, limit);
  }

  async waiting(limit: number): Promise<{ entries: OutboxEntry[]; horizon?: string }> {
    const entries: OutboxEntry[] = [];
    let horizon: string | undefined;
    for (const part of this.waitingByPart.values()) {
      const page = [...part.values()].slice(0, limit);
      entries.push(...page);
      const last = page.at(-1)?.enqueuedAt;
      if (part.size > limit && last !== undefined && (horizon === undefined || last < horizon)) horizon = last;
    }
    return { entries: entries.sort(inOrder), horizon };
  }

  async take(entries: OutboxEntry[]): Promise<OutboxEntry[]> {
    const taken: OutboxEntry[] = [];
    for (const e of entries) {
      const part = this.waitingByPart.get(e.lane ?? e.stream);
      if (!part?.delete(idOf(e))) continue;
      this.takenEntries.set(idOf(e), e);
      taken.push(e);
    }
    return taken.sort(inOrder);
  }

  async recover(): Promise<OutboxEntry[]> {
    return [...this.takenEntries.values()].sort(inOrder);
  }

  async taken(limit: number): Promise<OutboxEntry[]> {
    return (await this.recover()).slice(0, limit);
  }

  async markDone(entries: OutboxEntry[]): Promise<void> {
    for (const e of entries) this.takenEntries.delete(idOf(e));
  }

  async markRejected(entry: OutboxEntry, error: string): Promise<void> {
    this.takenEntries.delete(idOf(entry));
    this.rejected.push({ entry, error });
  }
}
