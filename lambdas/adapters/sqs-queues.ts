import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { DeadLetter, ProviderQueues } from '../core/ports';
import { sqs } from './clients';

/**
 * One SQS queue per provider, named `<prefix><providerId>`. Poison messages move to the shared
 * dead-letter queue `<prefix>dlq` after `maxReceiveCount` receives; the operator routes read it
 * (`receiveDeadLetters`) with only receive / delete / change-visibility rights on it.
 */
export class SqsProviderQueues implements ProviderQueues {
  private dlqArn?: Promise<string>;

  constructor(
    private readonly prefix: string,
    private readonly maxReceiveCount = 5,
  ) {}

  private deadLetterArn(): Promise<string> {
    this.dlqArn ??= (async () => {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${this.prefix}dlq`, Attributes: { MessageRetentionPeriod: '1209600' } }));
      const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
      const arn = attrs.Attributes?.QueueArn;
      if (!arn) throw new Error(`dead-letter queue ${QueueUrl} has no ARN`);
      return arn;
    })().catch((err) => {
      this.dlqArn = undefined;
      throw err;
    });
    return this.dlqArn;
  }

  async createQueue(providerId: string): Promise<string> {
    const out = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${this.prefix}${providerId}`,
        Attributes: {
          VisibilityTimeout: '60',
          MessageRetentionPeriod: '86400',
          ReceiveMessageWaitTimeSeconds: '20',
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: await this.deadLetterArn(), maxReceiveCount: this.maxReceiveCount }),
        },
        tags: { 'chainfaas:provider': providerId },
      }),
    );
    if (!out.QueueUrl) throw new Error(`SQS returned no URL for the queue of provider ${providerId}`);
    return out.QueueUrl;
  }

  async send(queueUrl: string, body: string): Promise<void> {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  }

  async queueArn(queueUrl: string): Promise<string> {
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    const arn = attrs.Attributes?.QueueArn;
    if (!arn) throw new Error(`queue ${queueUrl} has no ARN`);
    return arn;
  }

  private dlqUrl?: Promise<string | undefined>;

  /** The dead-letter queue's URL by name (no CreateQueue: the operator Lambda may not create queues). */
  private deadLetterUrl(): Promise<string | undefined> {
    this.dlqUrl ??= sqs
      .send(new GetQueueUrlCommand({ QueueName: `${this.prefix}dlq` }))
      .then((out) => out.QueueUrl)
      .catch((err) => {
        this.dlqUrl = undefined;
        // No provider ever registered: no dead-letter queue yet, so nothing in it.
        if (err instanceof QueueDoesNotExist || (err as Error).name === 'AWS.SimpleQueueService.NonExistentQueue') return undefined;
        throw err;
      });
    return this.dlqUrl;
  }

  async receiveDeadLetters(max: number, visibilityS: number): Promise<DeadLetter[]> {
    const url = await this.deadLetterUrl();
    if (!url) return [];
    const out: DeadLetter[] = [];
    while (out.length < max) {
      const answer = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.min(10, max - out.length),
          WaitTimeSeconds: 1,
          VisibilityTimeout: visibilityS,
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'DeadLetterQueueSourceArn'],
        }),
      );
      const messages = answer.Messages ?? [];
      if (messages.length === 0) break;
      for (const m of messages) {
        if (!m.MessageId || !m.ReceiptHandle) continue;
        const sent = Number(m.Attributes?.SentTimestamp);
        out.push({
          messageId: m.MessageId,
          receiptHandle: m.ReceiptHandle,
          body: m.Body ?? '',
          receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
          sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent).toISOString() : undefined,
          sourceQueueArn: m.Attributes?.DeadLetterQueueSourceArn,
        });
      }
    }
    return out;
  }

  async releaseDeadLetter(receiptHandle: string): Promise<void> {
    const url = await this.deadLetterUrl();
    if (url) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }));
  }

  async deleteDeadLetter(receiptHandle: string): Promise<void> {
    const url = await this.deadLetterUrl();
    if (url) await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receiptHandle }));
  }
}
