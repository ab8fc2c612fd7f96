import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { QueueCredentials } from './queue-credentials';

/**
 * The provider's own job queue. The agent receives from it, keeps a running job's message
 * hidden, and deletes the message only once the job is settled.
 */

export interface QueueMessage {
  messageId: string;
  /** The handle of this receipt; the newest one must be used to delete or extend. */
  receiptHandle: string;
  body: string;
  receiveCount: number;
}

export interface JobQueue {
  /** Long-polls for up to `max` messages, hidden for `visibilityS`; aborting ends the poll early. */
  receive(max: number, waitS: number, visibilityS: number, signal: AbortSignal): Promise<QueueMessage[]>;
  /** Keeps a message hidden for another `visibilityS` from now. */
  extend(receiptHandle: string, visibilityS: number): Promise<void>;
  /** Makes a message visible again at once, for another provider or a later try. */
  release(receiptHandle: string): Promise<void>;
  delete(receiptHandle: string): Promise<void>;
}

/** Where the queue is, as the registration says, and with which credentials. */
export interface SqsQueueOptions {
  queueUrl: string;
  region: string;
  /** Set for an emulator (local mode); absent in AWS. */
  endpoint?: string;
  /** The queue-scoped STS credentials (AWS mode), or an emulator's placeholder pair. @default the environment's credentials */
  credentials?: () => Promise<Pick<QueueCredentials, 'accessKeyId' | 'secretAccessKey'> & Partial<QueueCredentials>>;
}

/** {@link JobQueue} on Amazon SQS (or an SQS-compatible emulator). */
export class SqsJobQueue implements JobQueue {
  private readonly client: SQSClient;

  constructor(private readonly options: SqsQueueOptions) {
    this.client = new SQSClient({ region: options.region, endpoint: options.endpoint, credentials: options.credentials });
  }

  async receive(max: number, waitS: number, visibilityS: number, signal: AbortSignal): Promise<QueueMessage[]> {
    const answer = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
        WaitTimeSeconds: waitS,
        VisibilityTimeout: visibilityS,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
      { abortSignal: signal },
    );
    return (answer.Messages ?? []).flatMap((m) =>
      m.MessageId && m.ReceiptHandle
        ? [{ messageId: m.MessageId, receiptHandle: m.ReceiptHandle, body: m.Body ?? '', receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1) }]
        : [],
    );
  }

  async extend(receiptHandle: string, visibilityS: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityS }),
    );
  }

  async release(receiptHandle: string): Promise<void> {
    await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }));
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: receiptHandle }));
  }

  /** Closes the client's sockets. */
  close(): void {
    this.client.destroy();
  }
}
