import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { ProviderQueues } from '../core/ports';
import { sqs } from './clients';

/**
 * One SQS queue per provider, named `<prefix><providerId>`. Poison messages move to the shared
 * dead-letter queue `<prefix>dlq` after `maxReceiveCount` receives.
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
}
