import { Duration, type CfnResource, type Stack } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../lambdas/handlers/manifest';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { ProviderQueues } from '../../lib/constructs/provider-queues';
import { actionsOf, statementsOfRole, testStack, type Statement } from './helpers';

const ENTRY = 'test/cdk/fixtures/echo-handler.ts';
const PREFIX_ARN = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sqs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':cf-test-pq-*']] };
const WAKE_ARN = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':sqs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':cf-test-pq-w-*']] };

describe('ProviderQueues', () => {
  let stack: Stack;
  let queues: ProviderQueues;
  let template: Template;
  let manager: PlatformFunction;
  let sender: PlatformFunction;
  let listener: PlatformFunction;
  let bystander: PlatformFunction;
  beforeAll(() => {
    stack = testStack();
    queues = new ProviderQueues(stack, 'Queues', { prefix: 'cf-test-pq-', tags: { 'chainfaas:stage': 'test' } });
    manager = new PlatformFunction(stack, 'Manager', { entry: ENTRY });
    sender = new PlatformFunction(stack, 'Sender', { entry: ENTRY });
    listener = new PlatformFunction(stack, 'Listener', { entry: ENTRY });
    bystander = new PlatformFunction(stack, 'Bystander', { entry: ENTRY });
    queues.bindManager(manager);
    queues.bindSender(sender);
    queues.bindSender(listener);
    queues.bindWakeListener(listener);
    queues.alarmOnAge(new sns.Topic(stack, 'Alarms'), Duration.minutes(15));
    template = Template.fromStack(stack);
  });
  const logicalId = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnResource);
  /** Statements with their action lists sorted (the minimizePolicies flag sorts them in the template). */
  const sorted = (statements: Statement[]): Statement[] => statements.map((s) => (Array.isArray(s.Action) ? { ...s, Action: [...s.Action].sort() } : s));
  const sqsStatements = (roleId: string): Statement[] =>
    sorted(statementsOfRole(template, roleId).filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:') || a.startsWith('sts:'))));
  const ofFn = (fn: PlatformFunction): Statement[] => sqsStatements(logicalId(fn.role as iam.Role));
  const dlqArn = () => ({ 'Fn::GetAtt': [logicalId(queues.deadLetterQueue), 'Arn'] });

  test('the dead-letter queue is named <prefix>dlq, encrypted, TLS-only, and keeps messages 14 days', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'cf-test-pq-dlq', SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [{ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: { AWS: '*' }, Resource: dlqArn() }],
      },
    });
  });

  test('the manager may create, tag, configure and delete queues on the prefix (never the DLQ), and assume the provider role; nothing else on SQS', () => {
    expect(ofFn(manager)).toEqual([
      {
        Sid: 'ManageProviderQueues',
        Effect: 'Allow',
        Action: ['sqs:CreateQueue', 'sqs:DeleteQueue', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SetQueueAttributes', 'sqs:TagQueue'],
        Resource: PREFIX_ARN,
      },
      { Sid: 'NeverDeleteTheDeadLetterQueue', Effect: 'Deny', Action: 'sqs:DeleteQueue', Resource: dlqArn() },
      { Sid: 'MintProviderCredentials', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: { 'Fn::GetAtt': [logicalId(queues.providerRole), 'Arn'] } },
    ]);
  });

  test("the manager may put and delete only the queues' age alarms (named after the prefix), and no other Lambda may", () => {
    const cw = (fn: PlatformFunction) => statementsOfRole(template, logicalId(fn.role as iam.Role)).filter((s) => actionsOf(s).some((a) => a.startsWith('cloudwatch:')));
    expect(sorted(cw(manager))).toEqual([
      {
        Sid: 'ProviderQueueAlarms',
        Effect: 'Allow',
        Action: ['cloudwatch:DeleteAlarms', 'cloudwatch:PutMetricAlarm', 'cloudwatch:TagResource'],
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:cf-test-pq-*']] },
      },
    ]);
    expect(cw(sender)).toEqual([]);
  });

  test('the sender may only SendMessage on the prefix, and never to the dead-letter queue', () => {
    expect(ofFn(sender)).toEqual([
      { Sid: 'SendJobEnvelopes', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: PREFIX_ARN },
      { Sid: 'NotToTheDeadLetterQueue', Effect: 'Deny', Action: 'sqs:SendMessage', Resource: dlqArn() },
    ]);
  });

  test('a Lambda that waits for sync jobs may also make, configure and receive from wake queues, on <prefix>w-* only (issue #16)', () => {
    expect(ofFn(listener)).toEqual([
      { Sid: 'SendJobEnvelopes', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: PREFIX_ARN },
      { Sid: 'NotToTheDeadLetterQueue', Effect: 'Deny', Action: 'sqs:SendMessage', Resource: dlqArn() },
      { Sid: 'OwnWakeQueue', Effect: 'Allow', Action: ['sqs:CreateQueue', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:SetQueueAttributes', 'sqs:TagQueue'], Resource: WAKE_ARN },
    ]);
  });

  test('an unbound Lambda gets nothing', () => {
    expect(ofFn(bystander)).toEqual([]);
  });

  test('the provider role allows only receive/delete/change-visibility/get-attributes on the prefix, and denies the DLQ', () => {
    const actions = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'];
    expect(sorted(statementsOfRole(template, logicalId(queues.providerRole)))).toEqual([
      { Sid: 'OwnQueueOnly', Effect: 'Allow', Action: actions, Resource: PREFIX_ARN },
      { Sid: 'NeverTheDeadLetterQueue', Effect: 'Deny', Action: actions, Resource: [dlqArn(), WAKE_ARN] },
    ]);
  });

  test('the provider role trusts the manager Lambda role alone, for one-hour sessions, with no managed policies', () => {
    const role = template.toJSON().Resources[logicalId(queues.providerRole)].Properties;
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: { 'Fn::GetAtt': [logicalId(manager.role as iam.Role), 'Arn'] } } },
    ]);
    expect(role.MaxSessionDuration).toBe(3600);
    expect(role.ManagedPolicyArns).toBeUndefined();
  });

  test('binders set the prefix, role and wake variables, named in the manifest, and nothing else', () => {
    const env = (fn: PlatformFunction) => template.toJSON().Resources[logicalId(fn)].Properties.Environment.Variables;
    expect(env(manager)).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      [ENV.queuePrefix]: 'cf-test-pq-',
      [ENV.providerRoleArn]: { 'Fn::GetAtt': [logicalId(queues.providerRole), 'Arn'] },
      [ENV.queueTags]: '{"chainfaas:stage":"test"}',
      [ENV.queueAgeAlarm]: { 'Fn::Join': ['', [{ Ref: Object.keys(template.findResources('AWS::SNS::Topic'))[0] }, ',900']] },
    });
    expect(env(sender)[ENV.queuePrefix]).toBe('cf-test-pq-');
    expect(env(sender)[ENV.providerRoleArn]).toBeUndefined();
    // Senders wake sync waits through the wake queues; their URLs' prefix is the account's SQS endpoint's.
    expect(env(sender)[ENV.jobWake]).toBe('sqs');
    expect(env(sender)[ENV.wakeQueues]).toEqual({
      'Fn::Join': ['', ['https://sqs.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: 'AWS::AccountId' }, '/cf-test-pq-w-']],
    });
    expect(env(listener)[ENV.queueTags]).toBe('{"chainfaas:stage":"test"}');
  });

  test('refuses a second manager and a malformed prefix', () => {
    expect(() => queues.bindManager(bystander)).toThrow(/one manager/);
    expect(() => new ProviderQueues(testStack(), 'Q', { prefix: 'Bad Prefix*' })).toThrow(/prefix/);
    expect(() => new ProviderQueues(testStack(), 'Q', { prefix: 'x-' }).alarmOnAge(new sns.Topic(testStack(), 'T'), Duration.minutes(1))).toThrow(/bindManager/);
  });
});
