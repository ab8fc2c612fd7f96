import {
  CreateQueueCommand,
  DeleteQueueCommand,
  paginateListQueues,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { InProcessJobWaiter } from '../core/job-waiter';
import type { JobRecord } from '../core/model';
import type { JobWaiter, JobWake } from '../core/ports';
import { sqs } from './clients';
import { isQueueGone, queueArnOf, tlsOnlyPolicy } from './sqs-queues';

/** A process makes a new wake queue when its own is this old (and nobody waits on it). */
export const WAKE_QUEUE_ROTATE_S = 3600;
/** The sweep deletes wake queues made longer ago than this: their process has a newer one, or is gone. */
export const WAKE_QUEUE_EXPIRY_S = 2 * WAKE_QUEUE_ROTATE_S;
/** The reads a woken wait keeps, for a wake-up that never came (the send failed): from 1 s, at most 4 s apart. */
export const WAKE_READ_BACK_OFF = { minMs: 1000, maxMs: 4000 } as const;
/** A received wake-up is never received again: hidden for SQS's longest visibility, gone after the queue's shortest retention. */
const HIDDEN_S = 43_200;
const RETENTION_S = 60;

export interface SqsJobWaiterOptions {
  /** What a failed send, receive or queue creation is reported to (the wait falls back to its reads). */
  readonly onError: (message: string, error: unknown) => void;
  /** Tags of every wake queue besides `chainfaas:wake` (the stack's own). @default {} */
  readonly tags?: Readonly<Record<string, string>>;
  /** The clock, seconds (tests). */
  readonly nowS?: () => number;
}

/**
 * Issue #16: sync waits woken across processes (AWS, where the report that ends a job is another
 * Lambda's request). Each process that waits owns a wake queue, `<urlPrefix><made>-<random>`
 * (`made`: the Unix second it was made), created on first use with SQS-managed encryption, a
 * TLS-only policy and a retention of 60 s. A sync job names it (`wakeTo`: the name's tail); whoever
 * ends the job sends the job's id there (`notify`), and while any request of the process waits,
 * one long poll of 20 s at a time receives and wakes the waits of this process by job id; when the
 * last wait ends, the poll is aborted (a Lambda sandbox is frozen between requests). A message is
 * received once (hidden 12 h, retained 60 s), so none is deleted. A process makes a new queue
 * hourly between waits; the reaper deletes queues older than two hours (`sweep`).
 *
 * Nothing in a wake-up is trusted: it carries only a job id, and the woken wait reads the job.
 */
export class SqsJobWaiter implements JobWaiter {
  readonly readBackOff = WAKE_READ_BACK_OFF;
  private readonly local = new InProcessJobWaiter();
  private own?: { url: string; tail: string; made: number; ready: Promise<void> };
  private polling?: Promise<void>;
  private abort?: AbortController;
  private readonly nowS: () => number;

  /** `urlPrefix`: the URL of every wake queue up to its tail, e.g. `https://sqs.<region>.amazonaws.com/<account>/<prefix>w-`. */
  constructor(
    private readonly urlPrefix: string,
    private readonly options: SqsJobWaiterOptions,
  ) {
    if (!/^https?:\/\/[^/]+\/[^/]+\/[A-Za-z0-9_-]+$/.test(urlPrefix)) throw new Error(`wake queue URL prefix ${JSON.stringify(urlPrefix)} is not <endpoint>/<account>/<name prefix>`);
    this.nowS = options.nowS ?? (() => Math.floor(Date.now() / 1000));
  }

  /** The name prefix of every wake queue (the URL prefix's last segment). */
  get namePrefix(): string {
    return this.urlPrefix.slice(this.urlPrefix.lastIndexOf('/') + 1);
  }

  async address(): Promise<string> {
    const now = this.nowS();
    if (!this.own || (now - this.own.made >= WAKE_QUEUE_ROTATE_S && this.local.waiting === 0)) {
      const tail = `${now}-${Math.random().toString(36).slice(2, 10)}`;
      const own = { url: `${this.urlPrefix}${tail}`, tail, made: now, ready: this.create(`${this.namePrefix}${tail}`) };
      this.own = own;
      own.ready.catch(() => {
        if (this.own === own) this.own = undefined;
      });
    }
    await this.own.ready;
    return this.own.tail;
  }

  private async create(name: string): Promise<void> {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { MessageRetentionPeriod: String(RETENTION_S), SqsManagedSseEnabled: 'true' },
        tags: { ...this.options.tags, 'chainfaas:wake': 'true' },
      }),
    );
    if (!QueueUrl) throw new Error(`SQS returned no URL for wake queue ${name}`);
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { Policy: tlsOnlyPolicy(await queueArnOf(QueueUrl)) } }));
  }

  listen(jobId: string): JobWake {
    const wake = this.local.listen(jobId);
    this.ensurePolling();
    return {
      sleep: (ms) => {
        const slept = wake.sleep(ms);
        // Asleep again (its job was not over): the poll goes on, or starts again, for it.
        this.ensurePolling();
        return slept;
      },
      ended: () => wake.ended(),
      close: () => {
        wake.close();
        if (this.local.unwoken === 0) this.abort?.abort();
      },
    };
  }

  private ensurePolling(): void {
    if (this.polling) return;
    this.polling = this.poll().finally(() => {
      this.polling = undefined;
      // A wait that began (or slept again) while the last poll was ending.
      if (this.local.unwoken > 0) this.ensurePolling();
    });
  }

  /**
   * Receives wake-ups for as long as some wait of this process has not been woken: once every wait
   * is woken (reading its job), no further receive is sent for them (one receive per wake-up).
   */
  private async poll(): Promise<void> {
    while (this.local.unwoken > 0) {
      const abort = (this.abort = new AbortController());
      try {
        await this.address();
        const url = this.own?.url;
        if (!url || this.local.unwoken === 0) break;
        const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20, MaxNumberOfMessages: 10, VisibilityTimeout: HIDDEN_S }), {
          abortSignal: abort.signal,
        });
        for (const message of out.Messages ?? []) {
          const jobId = jobIdOf(message.Body);
          if (jobId !== undefined) this.local.wake(jobId);
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        this.options.onError('a wake queue could not be received from; waits fall back to their reads', err);
        await new Promise((resolve) => setTimeout(resolve, WAKE_READ_BACK_OFF.minMs));
      }
    }
  }

  async notify(job: Pick<JobRecord, 'jobId' | 'wakeTo'>, _ended?: JobRecord): Promise<void> {
    if (job.wakeTo === undefined) return;
    if (!/^\d{1,12}-[a-z0-9]{1,16}$/.test(job.wakeTo)) {
      this.options.onError('a job names no wake queue of this platform', new Error(`wakeTo ${JSON.stringify(job.wakeTo)} of job ${job.jobId}`));
      return;
    }
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: `${this.urlPrefix}${job.wakeTo}`, MessageBody: JSON.stringify({ jobId: job.jobId }) }));
    } catch (err) {
      // The queue is gone (past WAKE_QUEUE_EXPIRY_S: its process, and any wait there, with it): nobody to wake.
      if (isQueueGone(err)) return;
      this.options.onError('a wake-up could not be sent; the wait notices its job by reading it', err);
    }
  }

  /** Deletes the wake queues made more than WAKE_QUEUE_EXPIRY_S ago; returns how many. */
  async sweep(): Promise<number> {
    const before = this.nowS() - WAKE_QUEUE_EXPIRY_S;
    let deleted = 0;
    for await (const page of paginateListQueues({ client: sqs, pageSize: 1000 }, { QueueNamePrefix: this.namePrefix })) {
      for (const url of page.QueueUrls ?? []) {
        const made = /^(\d+)-[a-z0-9]+$/.exec(url.slice(url.lastIndexOf('/') + 1 + this.namePrefix.length))?.[1];
        if (made === undefined || Number(made) >= before || url === this.own?.url) continue;
        await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
        deleted++;
      }
    }
    return deleted;
  }
}

function jobIdOf(body: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(body ?? '') as { jobId?: unknown };
    return typeof parsed.jobId === 'string' ? parsed.jobId : undefined;
  } catch {
    return undefined;
  }
}
