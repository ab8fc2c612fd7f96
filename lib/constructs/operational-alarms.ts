import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface OperationalAlarmsProps {
  /** Lambda functions watched for errors and throttles, by a short name used in alarm names. */
  readonly functions: Record<string, lambda.IFunction>;
  /** Dead-letter queues: any visible message is an alarm. */
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
  /**
   * The stream consumer whose iterator age (how far it lags behind the outbox) is watched.
   * @default - no stream-lag alarm
   */
  readonly streamConsumer?: lambda.IFunction;
  /**
   * Stream lag that raises the alarm.
   * @default Duration.minutes(5)
   */
  readonly maxStreamLag?: Duration;
  /**
   * The controller's `SettlementLag` metric (EMF, lambdas/adapters/observability.ts): from a job's
   * report accepted to the read model recording it paid. The alarm fires when the longest lag of
   * five minutes reaches `max`.
   * @default - no settlement-lag alarm
   */
  readonly settlementLag?: {
    /** The metrics' namespace (POWERTOOLS_METRICS_NAMESPACE). */
    readonly namespace: string;
    /** The `service` dimension (POWERTOOLS_SERVICE_NAME). */
    readonly service: string;
    /** Lag that raises the alarm. */
    readonly max: Duration;
  };
  /**
   * HTTP API stage watched for 5xx answers.
   * @default - no API alarm
   */
  readonly apiStage?: apigw.IHttpStage;
  /**
   * EC2 instances (the Fabric node) watched by their status checks, by a short name: a failed
   * system check (the host) also recovers the instance onto healthy hardware, keeping its id,
   * private address and EBS volume; a failed instance check (the OS) notifies.
   * @default {}
   */
  readonly instances?: Record<string, string>;
  /**
   * Used share of a disk, percent, by a short name (the Fabric node's data volume): the alarm
   * fires at `maxDiskUsedPercent`, before the ledger runs out of space.
   * @default {}
   */
  readonly diskUsage?: Record<string, cloudwatch.IMetric>;
  /**
   * @default 80
   */
  readonly maxDiskUsedPercent?: number;
  /**
   * E-mail address subscribed to the alarm topic.
   * @default - no subscription (subscribe a pager or chat integration to `topic`)
   */
  readonly email?: string;
}

/**
 * The alarms an operator of the controller needs, all sending to one encrypted SNS topic:
 * messages in a dead-letter queue, Lambda errors and throttles, the ledger writer falling behind
 * the outbox stream, settlements lagging behind reports, and server errors at the API.
 */
export class OperationalAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationalAlarmsProps) {
    super(scope, id);
    // A customer-managed key, because CloudWatch must be allowed to use it to publish (the
    // AWS-managed aws/sns key has a policy nobody can extend).
    // It encrypts only messages in flight on the topic, so it goes with the stack (scheduled for
    // deletion after 7 days) instead of outliving it at $1 a month.
    const key = new kms.Key(this, 'TopicKey', {
      enableKeyRotation: true,
      description: 'ChainFaaS alarm topic',
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'ChainFaaS alarms', masterKey: key, enforceSSL: true });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    const notify = new actions.SnsAction(this.topic);

    const add = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string, evaluationPeriods = 1): cloudwatch.Alarm => {
      const alarm = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      alarm.addAlarmAction(notify);
      this.alarms.push(alarm);
      return alarm;
    };

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      add(
        `${name}Messages`,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        1,
        `Messages waiting in the ${name} dead-letter queue: inspect and redrive.`,
      );
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      add(`${name}Errors`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 1, `The ${name} Lambda failed (see its log group).`);
      add(`${name}Throttles`, fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }), 1, `The ${name} Lambda was throttled.`);
    }
    if (props.streamConsumer) {
      const lag = props.maxStreamLag ?? Duration.minutes(5);
      add(
        'LedgerLag',
        props.streamConsumer.metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' }),
        lag.toMilliseconds(),
        `The ledger writer is more than ${lag.toHumanString()} behind the outbox: ledger records and settlements are delayed.`,
      );
    }
    if (props.settlementLag) {
      const { namespace, service, max } = props.settlementLag;
      add(
        'SettlementLag',
        new cloudwatch.Metric({
          namespace,
          metricName: 'SettlementLag',
          dimensionsMap: { service },
          period: Duration.minutes(5),
          statistic: 'Maximum',
          unit: cloudwatch.Unit.MILLISECONDS,
        }),
        max.toMilliseconds(),
        `A job waited more than ${max.toHumanString()} from its accepted report to being paid in the balances read model: the ledger, the ledger writer or its catch-up is slow.`,
      );
    }
    for (const [name, instanceId] of Object.entries(props.instances ?? {})) {
      const check = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/EC2',
          metricName,
          dimensionsMap: { InstanceId: instanceId },
          period: Duration.minutes(1),
          statistic: 'Maximum',
        });
      add(
        `${name}SystemCheck`,
        check('StatusCheckFailed_System'),
        1,
        `The ${name} instance's host failed its system check: EC2 recovers it onto other hardware.`,
        2,
      ).addAlarmAction(new actions.Ec2Action(actions.Ec2InstanceAction.RECOVER));
      add(
        `${name}InstanceCheck`,
        check('StatusCheckFailed_Instance'),
        1,
        `The ${name} instance failed its instance check (its OS is unreachable): look at it through Session Manager.`,
        3,
      );
    }
    for (const [name, metric] of Object.entries(props.diskUsage ?? {})) {
      const max = props.maxDiskUsedPercent ?? 80;
      add(`${name}DiskUsed`, metric, max, `The ${name} disk is ${max}% full: grow the volume (README, "The ledger node") before the ledger stops.`, 2);
    }
    if (props.apiStage) {
      add('Api5xx', props.apiStage.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }), 5, 'The controller API answered with server errors.');
    }
  }
}
