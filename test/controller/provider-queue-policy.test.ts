import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListQueueTagsCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type RunningService } from '../../local/services';

/**
 * Issue #20, item 5: provider queues are made at run time, outside CloudFormation, so the adapter
 * gives each what the stack gives its own queues (encryption, a TLS-only policy, the stack's tags)
 * plus an alarm on its oldest message, and removes both with the provider. Against fauxqs; the
 * CloudWatch calls (no emulator here) are recorded.
 */
let fauxqs: RunningService;
let sqs: SQSClient;
let adapter: typeof import('../../lambdas/adapters/sqs-queues');

beforeAll(async () => {
  fauxqs = await startFauxqs();
  Object.assign(process.env, { AWS_ENDPOINT_URL_SQS: fauxqs.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  adapter = await import('../../lambdas/adapters/sqs-queues');
  sqs = new SQSClient({ region: 'us-east-1', endpoint: fauxqs.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}, 60_000);

afterAll(async () => {
  await fauxqs?.stop();
});

/** A CloudWatch client that records what it is asked (there is no CloudWatch emulator). */
function recordingCloudWatch(): { client: CloudWatchClient; sent: { name: string; input: Record<string, unknown> }[] } {
  const sent: { name: string; input: Record<string, unknown> }[] = [];
  const client = { send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => sent.push({ name: command.constructor.name, input: command.input }) };
  return { client: client as unknown as CloudWatchClient, sent };
}

const attributesOf = async (url: string) =>
  (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};

test('a provider queue is encrypted, TLS only, tagged like the stack, and alarmed on its oldest message', async () => {
  const cw = recordingCloudWatch();
  const queues = new adapter.SqsProviderQueues('cf-t1-pq-', {
    tags: { 'chainfaas:stage': 't1' },
    ageAlarm: { topicArn: 'arn:aws:sns:us-east-1:123456789012:alarms', maxAgeS: 900, client: cw.client },
  });
  const url = await queues.createQueue('prv_A');
  const attrs = await attributesOf(url);
  expect(attrs.SqsManagedSseEnabled).toBe('true');
  const policy = JSON.parse(attrs.Policy ?? '{}');
  expect(policy.Statement).toEqual([
    {
      Sid: 'TlsOnly',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'sqs:*',
      Resource: attrs.QueueArn,
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ]);
  expect(JSON.parse(attrs.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 5 });
  // The local emulator speaks plain HTTP and does not evaluate queue policies: the local platform keeps working.
  await queues.send(url, 'envelope');
  const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));
  expect(received.Messages?.map((m) => m.Body)).toEqual(['envelope']);
  const { Tags } = await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }));
  expect(Tags).toEqual({ 'chainfaas:stage': 't1', 'chainfaas:provider': 'prv_A' });
  expect(cw.sent).toEqual([
    {
      name: 'PutMetricAlarmCommand',
      input: expect.objectContaining({
        AlarmName: 'cf-t1-pq-prv_A-oldest-message',
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: 'cf-t1-pq-prv_A' }],
        Threshold: 900,
        AlarmActions: ['arn:aws:sns:us-east-1:123456789012:alarms'],
      }),
    },
  ]);
});

test('a queue made before the policy is brought in line when its provider registers again', async () => {
  const old = new adapter.SqsProviderQueues('cf-t2-pq-');
  // What the adapter made before: no encryption attribute, no policy, no stack tags.
  const { CreateQueueCommand } = await import('@aws-sdk/client-sqs');
  await sqs.send(new CreateQueueCommand({ QueueName: 'cf-t2-pq-prv_B', Attributes: { VisibilityTimeout: '30' } }));
  const url = await new adapter.SqsProviderQueues('cf-t2-pq-', { tags: { 'chainfaas:stage': 't2' } }).createQueue('prv_B');
  const attrs = await attributesOf(url);
  expect(attrs.SqsManagedSseEnabled).toBe('true');
  expect(attrs.VisibilityTimeout).toBe('60');
  expect(JSON.parse(attrs.Policy ?? '{}').Statement[0].Effect).toBe('Deny');
  expect((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags).toMatchObject({ 'chainfaas:stage': 't2' });
  expect(await old.createQueue('prv_B')).toBe(url);
});

test('deleteQueue removes the queue and its alarm, is idempotent, and never touches the dead-letter queue', async () => {
  const cw = recordingCloudWatch();
  const queues = new adapter.SqsProviderQueues('cf-t3-pq-', { ageAlarm: { topicArn: 'arn:aws:sns:us-east-1:123456789012:a', maxAgeS: 60, client: cw.client } });
  await queues.createQueue('prv_C');
  await queues.deleteQueue('prv_C');
  await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'cf-t3-pq-prv_C' }))).rejects.toThrow();
  await queues.deleteQueue('prv_C');
  expect(cw.sent.map((c) => [c.name, c.input.AlarmName ?? c.input.AlarmNames])).toEqual([
    ['PutMetricAlarmCommand', 'cf-t3-pq-prv_C-oldest-message'],
    ['DeleteAlarmsCommand', ['cf-t3-pq-prv_C-oldest-message']],
    ['DeleteAlarmsCommand', ['cf-t3-pq-prv_C-oldest-message']],
  ]);
  await expect(queues.deleteQueue('dlq')).rejects.toThrow(/dead-letter/);
  expect((await sqs.send(new GetQueueUrlCommand({ QueueName: 'cf-t3-pq-dlq' }))).QueueUrl).toBeDefined();
});

test('the age alarm setting is <topic ARN>,<seconds>', () => {
  expect(adapter.parseAgeAlarm('arn:aws:sns:eu-west-1:123456789012:t,900')).toEqual({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:t', maxAgeS: 900 });
  expect(adapter.parseAgeAlarm(undefined)).toBeUndefined();
  expect(() => adapter.parseAgeAlarm('900')).toThrow(/topic ARN/);
});
