import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { JobRecord } from '../../core/model';
import type { JobStartOutcome, JobStartParts, JobStarts } from '../../core/ports';
import { dynamo } from '../clients';
import type { DynamoBalanceStore } from './balances';
import { failedConditions, type TransactItem } from './common';
import type { DynamoJobStore } from './jobs';
import type { DynamoOutbox } from './outbox';

/**
 * A job placed as it is created, in one TransactWriteItems across three tables (issue #16): the
 * job's record, its hold (the account's `available` and the hold item, as DynamoBalanceStore
 * writes them), its outbox entry (as DynamoOutbox appends it) and, with a key, its idempotency
 * record (as DynamoJobStore#createJobOnce writes it). Each store builds its own items, so the
 * conditions are the ones its step-by-step writes use; the transaction makes them one.
 *
 * A transaction bills two write units per item where single writes bill one, so this costs about
 * what the four writes it replaces did (the assigning update of the job is gone), and takes one
 * round trip instead of four.
 */
export class DynamoJobStarts implements JobStarts {
  constructor(
    private readonly jobs: DynamoJobStore,
    private readonly balances: DynamoBalanceStore,
    private readonly outbox: DynamoOutbox,
  ) {}

  async start(job: JobRecord, parts: JobStartParts): Promise<JobStartOutcome> {
    const items: TransactItem[] = [];
    const idemAt = parts.idem ? items.push(this.jobs.idempotencyPut(parts.idem)) - 1 : -1;
    items.push(this.jobs.jobPut(job));
    const holdAt = parts.hold ? items.push(...this.balances.holdWrites(job.developerId, job.jobId, parts.hold.amount, parts.hold.at)) - 2 : -1;
    items.push(this.outbox.appendPut(job.jobId, parts.events, parts.route));
    try {
      await dynamo.send(new TransactWriteCommand({ TransactItems: items }));
      return { kind: 'started' };
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) throw err;
      const failed = failedConditions(err);
      if (parts.idem && failed.has(idemAt)) {
        const existing = await this.jobs.getIdempotency(parts.idem.scope, parts.idem.keyHash);
        if (existing) return { kind: 'replayed', existing };
      }
      // The account's condition (`available` covers the hold; the account is one) is the first hold write.
      if (holdAt >= 0 && failed.has(holdAt)) return { kind: 'unfunded' };
      throw err;
    }
  }
}
