import { Backoff, sleep } from './backoff';
import { JobQueue, QueueMessage } from './job-queue';

/**
 * Message delivery, in the manner of bbc/sqs-consumer: this module owns polling, visibility and
 * deletion; the application supplies the handler. It long-polls the queue while the handler has
 * room, groups the messages by the key of the work they carry (a job attempt), keeps every
 * message of work in flight hidden until the work is done, and then deletes those messages or
 * returns them to the queue, as the handler decides.
 *
 * SQS delivers at least once: the same message may come back (a redelivery, with a new receipt
 * handle) and the same work may arrive in a second message (a duplicate). Only the newest receipt
 * of a message can extend or delete it, so the newest receipt of every message of a piece of work
 * is kept, by message id; all of them are extended while the work runs and deleted (or returned)
 * together, including those that arrive while that happens.
 *
 * Delivery never reads a message body: the handler's `open` does. It runs no container and
 * counts nothing; it only reports its own failures (`onError`) and changes to the set of work in
 * flight (`onChange`).
 */

/**
 * What becomes of the messages of a piece of work once it is done: deleted, or returned to the
 * queue at once (made visible for another consumer). Work that fails (the handler rejects) leaves
 * its messages alone: they reappear when their visibility lapses.
 */
export type Disposal = 'delete' | 'release';

export interface DeliveryHandler<W> {
  /**
   * Reads a message: the work it carries, with the key that identifies that work across messages
   * and the fields delivery's log lines about it name; `undefined` when the message is refused for
   * good (it is deleted at once and nothing else happens).
   */
  open(message: QueueMessage): { key: string; work: W; fields: Record<string, unknown> } | undefined;
  /** Another message (`redelivery`: the same message again) of work in flight; it joins that work and nothing else starts. */
  joined(work: W, message: QueueMessage, redelivery: boolean): void;
  /** Does the work (once per key at a time); resolves with what becomes of all its messages, or rejects to leave them for redelivery. */
  handle(work: W): Promise<Disposal>;
}

export interface DeliveryOptions<W> {
  queue: JobQueue;
  handler: DeliveryHandler<W>;
  /** Long-poll wait. */
  pollWaitS: number;
  /** How long a received message stays hidden; extended every third of it while its work runs. */
  visibilityTimeoutS: number;
  /** Resolves when the handler has room for another message (polling waits for it); rejects when the signal aborts. */
  whenReady(signal: AbortSignal): Promise<void>;
  /**
   * The pause after a long poll that brought nothing, before the next one (issue #24: a dozing
   * agent pauses, so an idle queue costs half the requests). Asked after each empty poll.
   * @default none
   */
  pauseMs?(): number;
  /** A failure of delivery's own (receive, extend, delete, return); it is retried or left to the queue. */
  onError(message: string, err: unknown, fields?: Record<string, unknown>): void;
  /** The set of work in flight changed, or a refused message was deleted. */
  onChange(): void;
}

interface InFlight<W> {
  work: W;
  fields: Record<string, unknown>;
  /** The newest receipt handle of each message carrying this work, by message id. */
  receipts: Map<string, string>;
}

export class Delivery<W> {
  private readonly inFlight = new Map<string, InFlight<W>>();
  /** Every message being handled (work in flight, joins and refusals), so that `stop()` can wait for them. */
  private readonly tasks = new Set<Promise<void>>();
  private readonly pollAbort = new AbortController();
  private pollLoop?: Promise<void>;

  constructor(private readonly options: DeliveryOptions<W>) {}

  /** Starts polling. */
  start(): void {
    this.pollLoop ??= this.poll();
  }

  /** Stops polling and resolves once every message received so far has been handled and disposed of. */
  async stop(): Promise<void> {
    this.pollAbort.abort();
    await this.pollLoop;
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  /** The work in flight, in the order it arrived. */
  works(): W[] {
    return [...this.inFlight.values()].map((f) => f.work);
  }

  private async poll(): Promise<void> {
    const { queue, pollWaitS, visibilityTimeoutS, whenReady, onError } = this.options;
    const backoff = new Backoff();
    const signal = this.pollAbort.signal;
    while (!signal.aborted) {
      try {
        await whenReady(signal);
        const messages = await queue.receive(1, pollWaitS, visibilityTimeoutS, signal);
        backoff.reset();
        for (const message of messages) this.track(this.deliver(message));
        const pause = messages.length === 0 ? (this.options.pauseMs?.() ?? 0) : 0;
        if (pause > 0) await sleep(pause, signal);
      } catch (err) {
        if (signal.aborted) break;
        const delay = backoff.next();
        onError('receiving from the job queue failed', err, { retryInMs: delay });
        await sleep(delay, signal);
      }
    }
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  private async deliver(message: QueueMessage): Promise<void> {
    const { handler, onChange } = this.options;
    const opened = handler.open(message);
    if (!opened) {
      await this.delete(message.receiptHandle, { messageId: message.messageId });
      onChange();
      return;
    }
    const { key, work, fields } = opened;
    const running = this.inFlight.get(key);
    if (running) {
      const redelivery = running.receipts.has(message.messageId);
      running.receipts.set(message.messageId, message.receiptHandle);
      handler.joined(running.work, message, redelivery);
      onChange();
      return;
    }
    const flight: InFlight<W> = { work, fields, receipts: new Map([[message.messageId, message.receiptHandle]]) };
    this.inFlight.set(key, flight);
    onChange();
    const keepHidden = setInterval(() => void this.extend(flight), (this.options.visibilityTimeoutS * 1000) / 3);
    try {
      const disposal = await handler.handle(work);
      if (disposal === 'delete') await this.forEachReceipt(flight, (receipt) => this.delete(receipt, fields));
      else await this.forEachReceipt(flight, (receipt) => this.release(receipt, fields));
    } catch (err) {
      this.options.onError('job could not be settled; its message will be delivered again', err, fields);
    } finally {
      clearInterval(keepHidden);
      this.inFlight.delete(key);
      onChange();
    }
  }

  /** Applies `action` to every receipt of the work, including receipts that arrive meanwhile, and forgets them. */
  private async forEachReceipt(flight: InFlight<W>, action: (receipt: string) => Promise<void>): Promise<void> {
    for (let next = flight.receipts.entries().next(); !next.done; next = flight.receipts.entries().next()) {
      const [messageId, receipt] = next.value;
      flight.receipts.delete(messageId);
      await action(receipt);
    }
  }

  private async extend(flight: InFlight<W>): Promise<void> {
    for (const receipt of flight.receipts.values()) {
      try {
        await this.options.queue.extend(receipt, this.options.visibilityTimeoutS);
      } catch (err) {
        this.options.onError('could not extend the visibility of a running job', err, flight.fields);
      }
    }
  }

  private async delete(receipt: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.options.queue.delete(receipt);
    } catch (err) {
      this.options.onError('could not delete a settled message; it will be delivered again', err, fields);
    }
  }

  private async release(receipt: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.options.queue.release(receipt);
    } catch (err) {
      this.options.onError('could not return a job to the queue', err, fields);
    }
  }
}
