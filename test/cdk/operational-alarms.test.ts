import { Duration, type CfnResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { OperationalAlarms } from '../../lib/constructs/operational-alarms';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { testStack } from './helpers';

const ENTRY = 'test/cdk/fixtures/echo-handler.ts';

describe('OperationalAlarms', () => {
  const stack = testStack();
  const a = new PlatformFunction(stack, 'A', { entry: ENTRY });
  const b = new PlatformFunction(stack, 'B', { entry: ENTRY });
  const dlq = new sqs.Queue(stack, 'Dlq');
  const alarms = new OperationalAlarms(stack, 'Alarms', {
    functions: { A: a, B: b },
    deadLetterQueues: { Work: dlq },
    streamConsumer: b,
    maxStreamLag: Duration.minutes(2),
    settlementLag: { namespace: 'ChainFaaS', service: 'chainfaas-test', max: Duration.minutes(10) },
    email: 'ops@example.com',
  });
  const template = Template.fromStack(stack);
  const topicRef = { Ref: stack.getLogicalId(alarms.topic.node.defaultChild as CfnResource) };

  test('one alarm per DLQ, two per function, one for stream lag, one for settlement lag; each notifies the topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1 + 2 * 2 + 1 + 1);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topicRef], TreatMissingData: 'notBreaching' });
  });

  test('a single message in a dead-letter queue raises the alarm', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  test('Lambda errors, throttles and the ledger writer lag are watched', () => {
    for (const metric of ['Errors', 'Throttles'])
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: metric, Namespace: 'AWS/Lambda', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Statistic: 'Maximum', Threshold: 120000 });
  });

  test('the settlement lag alarm watches the EMF metric of the given service: the longest lag of 5 minutes against the limit', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SettlementLag',
      Namespace: 'ChainFaaS',
      Dimensions: [{ Name: 'service', Value: 'chainfaas-test' }],
      Statistic: 'Maximum',
      Period: 300,
      Unit: 'Milliseconds',
      Threshold: 600_000,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  test('without settlementLag there is no settlement-lag alarm', () => {
    const other = testStack();
    new OperationalAlarms(other, 'Alarms', { functions: {}, deadLetterQueues: {} });
    Template.fromStack(other).resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });

  test('the topic is KMS-encrypted, TLS-only, CloudWatch may use its key, and the e-mail is subscribed', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: topicRef });
  });

  test('the topic key goes with the stack (7-day deletion window), so cdk destroy leaves no key behind', () => {
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ PendingWindowInDays: 7 }) });
  });
});
