import { DeleteAlarmsCommand, PutMetricAlarmCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  paginateListQueues,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
} from '@aws-sdk/client-sqs';
import type { DeadLetter, ProviderQueues } from '../core/ports';
import { WAKE_QUEUE_INFIX } from '../handlers/manifest';
import { sqs } from './clients';

/** Whether `err` is SQS saying the queue does not exist (the SDK's class, or the legacy query protocol's code). */
export function isQueueGone(err: unknown): boolean {
  return err instanceof QueueDoesNotExist || (err as Error | undefined)?.name === 'AWS.SimpleQueueService.NonExistentQueue';
}

/** The queue's ARN, as SQS reports it. */
export async function queueArnOf(queueUrl: string | undefined): Promise<string> {
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const arn = attrs.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${queueUrl} has no ARN`);
  return arn;
}

/** The alarm a provider queue gets on the age of its oldest message. */
export interface QueueAgeAlarm {
  /** SNS topic the alarm notifies (the stack's alarm topic). */
  readonly topicArn: string;
  /** Age of the oldest message, seconds, that raises it. */
  readonly maxAgeS: number;
  readonly client: CloudWatchClient;
}

export interface SqsProviderQueuesOptions {
  /** Receives before a message moves to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
  /** Tags of every queue besides `chainfaas:provider` (the stack's own). @default {} */
  readonly tags?: Readonly<Record<string, string>>;
  /** @default - no alarm (local mode: there is no CloudWatch) */
  readonly ageAlarm?: QueueAgeAlarm;
}

/** `<arn>,<seconds>` (ENV.queueAgeAlarm) as topic and age; undefined when unset. */
export function parseAgeAlarm(value: string | undefined): { topicArn: string; maxAgeS: number } | undefined {
  if (!value) return undefined;
  const match = /^(arn:[^,]+),(\d+)$/.exec(value);
  if (!match) throw new Error(`provider queue age alarm ${JSON.stringify(value)} is not <topic ARN>,<seconds>`);
  return { topicArn: match[1], maxAgeS: Number(match[2]) };
}

/** The queue policy the stack's own queues get from CDK's `enforceSSL`: nothing over plain HTTP. */
export function tlsOnlyPolicy(queueArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'TlsOnly',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'sqs:*',
        Resource: queueArn,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  });
}

/**
 * One SQS queue per provider, named `<prefix><providerId>`. Poison messages move to the shared
 * dead-letter queue `<prefix>dlq` after `maxReceiveCount` receives; the operator routes read it
 * (`receiveDeadLetters`) with only receive / delete / change-visibility rights on it.
 *
 * Queues are made at run time, outside CloudFormation, so each gets here what the stack gives its
 * own: SQS-managed encryption, a TLS-only policy, the stack's tags, and (in AWS) an alarm on the
 * age of its oldest message named `<queue name>-oldest-message`; `deleteQueue` removes both.
 */
export class SqsProviderQueues implements ProviderQueues {
  private dlqArn?: Promise<string>;
  private readonly maxReceiveCount: number;

  constructor(
    private readonly prefix: string,
    private readonly options: SqsProviderQueuesOptions = {},
  ) {
    this.maxReceiveCount = options.maxReceiveCount ?? 5;
  }

  private deadLetterArn(): Promise<string> {
    this.dlqArn ??= (async () => {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${this.prefix}dlq`, Attributes: { MessageRetentionPeriod: '1209600' } }));
      return queueArnOf(QueueUrl);
    })().catch((err) => {
      this.dlqArn = undefined;
      throw err;
    });
    return this.dlqArn;
  }

  async createQueue(providerId: string): Promise<string> {
    const name = `${this.prefix}${providerId}`;
    const dlqArn = await this.deadLetterArn();
    // Same account, region and prefix as the dead-letter queue: only the name's tail differs.
    const arn = `${dlqArn.slice(0, dlqArn.lastIndexOf(':') + 1)}${name}`;
    const attributes = {
      VisibilityTimeout: '60',
      MessageRetentionPeriod: '86400',
      ReceiveMessageWaitTimeSeconds: '20',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: this.maxReceiveCount }),
      SqsManagedSseEnabled: 'true',
      Policy: tlsOnlyPolicy(arn),
    };
    const tags = { ...this.options.tags, 'chainfaas:provider': providerId };
    let url: string | undefined;
    try {
      url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes, tags }))).QueueUrl;
    } catch (err) {
      // A queue made before these attributes (CreateQueue refuses different ones): bring it in line.
      if (!(err instanceof QueueNameExists) && !/QueueNameExists|QueueAlreadyExists/.test((err as Error).name)) throw err;
      url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      if (url) {
        await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
        await sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: tags }));
      }
    }
    if (!url) throw new Error(`SQS returned no URL for the queue of provider ${providerId}`);
    await this.putAgeAlarm(name);
    return url;
  }

  /** The alarm on the queue's oldest message (idempotent: PutMetricAlarm replaces one of the same name). */
  private async putAgeAlarm(queueName: string): Promise<void> {
    const alarm = this.options.ageAlarm;
    if (!alarm) return;
    await alarm.client.send(
      new PutMetricAlarmCommand({
        AlarmName: `${queueName}-oldest-message`,
        AlarmDescription: `A job envelope has waited more than ${alarm.maxAgeS} s in ${queueName}: its provider is not receiving.`,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: queueName }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 5,
        Threshold: alarm.maxAgeS,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [alarm.topicArn],
        Tags: Object.entries({ ...this.options.tags, 'chainfaas:provider': queueName.slice(this.prefix.length) }).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }

  /** Deletes the provider's queue and its alarm (nothing to do for either when it is gone already). */
  async deleteQueue(providerId: string): Promise<void> {
    const name = `${this.prefix}${providerId}`;
    if (name === `${this.prefix}dlq`) throw new Error('the dead-letter queue is not a provider queue');
    const url = await sqs
      .send(new GetQueueUrlCommand({ QueueName: name }))
      .then((out) => out.QueueUrl)
      .catch((err) => {
        if (isQueueGone(err)) return undefined;
        throw err;
      });
    if (url) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    if (this.options.ageAlarm) await this.options.ageAlarm.client.send(new DeleteAlarmsCommand({ AlarmNames: [`${name}-oldest-message`] }));
  }

  /**
   * The queues under the prefix (the dead-letter queue aside) whose `chainfaas:provider` tag names
   * the provider their name does, with their creation time: ListQueues by prefix, then one
   * ListQueueTags and one GetQueueAttributes per queue.
   */
  async listProviderQueues(): Promise<{ providerId: string; createdAt: string }[]> {
    const found: { providerId: string; createdAt: string }[] = [];
    for await (const page of paginateListQueues({ client: sqs, pageSize: 1000 }, { QueueNamePrefix: this.prefix })) {
      for (const url of page.QueueUrls ?? []) {
        const name = url.slice(url.lastIndexOf('/') + 1);
        // The dead-letter queue, and the sync waits' wake queues (`<prefix>w-…`, adapters/sqs-wake.ts): never a provider's.
        if (!name.startsWith(this.prefix) || name === `${this.prefix}dlq` || name.startsWith(`${this.prefix}${WAKE_QUEUE_INFIX}`)) continue;
        const providerId = name.slice(this.prefix.length);
        const { Tags } = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
        if (Tags?.['chainfaas:provider'] !== providerId) continue;
        const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['CreatedTimestamp'] }));
        const created = Number(Attributes?.CreatedTimestamp);
        if (!Number.isFinite(created)) continue;
        found.push({ providerId, createdAt: new Date(created * 1000).toISOString() });
      }
    }
    return found;
  }

  async send(queueUrl: string, body: string): Promise<void> {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  }

  queueArn(queueUrl: string): Promise<string> {
    return queueArnOf(queueUrl);
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
        if (isQueueGone(err)) return undefined;
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
