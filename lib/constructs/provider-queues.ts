import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, WAKE_QUEUE_INFIX } from '../../lambdas/handlers/manifest';

export interface ProviderQueuesProps {
  /**
   * Name prefix of every provider queue (`<prefix><providerId>`); IAM is scoped to it.
   * Lower-case letters, digits, `-` and `_`.
   */
  readonly prefix: string;
  /**
   * How long the dead-letter queue keeps messages (SQS allows at most 14 days).
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
  /**
   * What happens to the dead-letter queue when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Longest session of a provider's credentials. Role chaining (a Lambda assuming this role)
   * caps it at one hour whatever is set here.
   * @default Duration.hours(1)
   */
  readonly maxSessionDuration?: Duration;
  /**
   * Tags the providers Lambda puts on every queue it creates (the stack's own tags, which
   * CloudFormation cannot put on queues it does not own).
   * @default {}
   */
  readonly tags?: Record<string, string>;
}

/** What a provider agent may do on its own queue, and nothing more. */
const PROVIDER_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'];
/** What a Lambda that waits for sync jobs needs for its sandbox's wake queue (lambdas/adapters/sqs-wake.ts). */
const WAKE_LISTENER_ACTIONS = ['sqs:CreateQueue', 'sqs:GetQueueAttributes', 'sqs:SetQueueAttributes', 'sqs:TagQueue', 'sqs:ReceiveMessage'];
/** What the providers Lambda needs to create a provider's queue (lambdas/adapters/sqs-queues.ts). */
const MANAGER_ACTIONS = ['sqs:CreateQueue', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes', 'sqs:SetQueueAttributes', 'sqs:TagQueue', 'sqs:DeleteQueue'];
/** What it needs for each queue's age alarm (`<queue name>-oldest-message`). */
const ALARM_ACTIONS = ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms', 'cloudwatch:TagResource'];

/**
 * The per-provider SQS queues. The queues themselves are created at run time by the providers
 * Lambda (one per registered provider), so this construct owns what is static around them:
 *
 * - the shared dead-letter queue, named `<prefix>dlq` (the name lambdas/adapters/sqs-queues.ts
 *   creates idempotently, with the same retention, so the two agree);
 * - the IAM of the Lambda that creates queues (`bindManager`) and of the one that sends job
 *   envelopes (`bindSender`), both limited to `arn:aws:sqs:<region>:<account>:<prefix>*`;
 * - `ProviderRole`, the role providers' credentials come from: its own policy allows only
 *   receive / delete / change-visibility / get-attributes on the prefix, the providers Lambda
 *   assumes it with a session policy naming the one queue, and an explicit deny keeps every
 *   provider off the dead-letter queue even if a session policy were missing.
 */
export class ProviderQueues extends Construct {
  readonly prefix: string;
  readonly deadLetterQueue: sqs.Queue;
  /** `arn:aws:sqs:<region>:<account>:<prefix>*` */
  readonly queueArnPattern: string;
  /** `arn:aws:sqs:<region>:<account>:<prefix>w-*`: the sync waits' wake queues (issue #16). */
  readonly wakeQueueArnPattern: string;
  private readonly maxSessionDuration: Duration;
  private readonly tags: Record<string, string>;
  private role?: iam.Role;
  private manager?: lambda.Function;
  private sweeper?: lambda.Function;

  constructor(scope: Construct, id: string, props: ProviderQueuesProps) {
    super(scope, id);
    if (!/^[a-z0-9_-]{1,40}$/.test(props.prefix)) throw new Error(`provider queue prefix ${props.prefix} must be 1-40 of [a-z0-9_-]`);
    this.prefix = props.prefix;
    this.maxSessionDuration = props.maxSessionDuration ?? Duration.hours(1);
    this.tags = props.tags ?? {};
    this.queueArnPattern = Stack.of(this).formatArn({ service: 'sqs', resource: `${props.prefix}*` });
    this.wakeQueueArnPattern = Stack.of(this).formatArn({ service: 'sqs', resource: `${props.prefix}${WAKE_QUEUE_INFIX}*` });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: `${props.prefix}dlq`,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue: the provider queues, created at run time by the providers Lambda, name it in their RedrivePolicy.',
    });
  }

  private acknowledgePrefix(role: iam.IRole, what: string): void {
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:${this.prefix}*]`,
      reason: `Provider queues are created at run time, one per provider (${this.prefix}<providerId>); the prefix is the narrowest scope that covers them. ${what}`,
    });
  }

  /** The role providers' credentials are minted from; exists once `bindManager` has run. */
  get providerRole(): iam.Role {
    if (!this.role) throw new Error('ProviderQueues.providerRole exists only after bindManager()');
    return this.role;
  }

  /**
   * Lets `fn` create and configure provider queues and mint provider credentials: sets the queue
   * prefix and provider-role environment variables (the DLQ needs none: its name is `<prefix>dlq`),
   * grants the queue-management actions on the prefix, and creates `ProviderRole` trusting `fn`'s
   * role alone.
   */
  bindManager(fn: lambda.Function): void {
    if (this.role) throw new Error('ProviderQueues has one manager: ProviderRole trusts a single Lambda role');
    const managerRole = fn.role;
    if (!managerRole) throw new Error(`${fn.node.path} has no execution role`);
    this.role = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ArnPrincipal(managerRole.roleArn),
      maxSessionDuration: this.maxSessionDuration,
      description: `Provider agents: receive from their own ${this.prefix}<providerId> queue (narrowed by a session policy)`,
    });
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'OwnQueueOnly', actions: PROVIDER_ACTIONS, resources: [this.queueArnPattern] }));
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'NeverTheDeadLetterQueue',
        effect: iam.Effect.DENY,
        actions: PROVIDER_ACTIONS,
        resources: [this.deadLetterQueue.queueArn, this.wakeQueueArnPattern],
      }),
    );
    this.acknowledgePrefix(this.role, 'Each provider session is narrowed to its own queue by a session policy.');
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ManageProviderQueues', actions: MANAGER_ACTIONS, resources: [this.queueArnPattern] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'NeverDeleteTheDeadLetterQueue', effect: iam.Effect.DENY, actions: ['sqs:DeleteQueue'], resources: [this.deadLetterQueue.queueArn] }),
    );
    this.acknowledgePrefix(managerRole, 'Only queue creation, configuration and deletion actions (the dead-letter queue excepted); no receive, send or message deletion.');
    fn.addEnvironment(ENV.queueTags, JSON.stringify(this.tags));
    this.manager = fn;
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'MintProviderCredentials', actions: ['sts:AssumeRole'], resources: [this.role.roleArn] }));
    fn.addEnvironment(ENV.queuePrefix, this.prefix);
    fn.addEnvironment(ENV.providerRoleArn, this.role.roleArn);
  }

  /**
   * Gives every provider queue an alarm on the age of its oldest message, notifying `topic`: the
   * manager Lambda creates it with the queue and deletes it with the queue, so it may put and
   * delete alarms named `<prefix>*` only. Call after `bindManager`.
   */
  alarmOnAge(topic: sns.ITopic, maxAge: Duration): void {
    const fn = this.manager;
    if (!fn?.role) throw new Error('ProviderQueues.alarmOnAge needs bindManager() first');
    const alarms = Stack.of(this).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${this.prefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ProviderQueueAlarms', actions: ALARM_ACTIONS, resources: [alarms] }));
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:${this.prefix}*]`,
      reason: 'One alarm per provider queue, created and deleted with it at run time; the name prefix is the narrowest scope that covers them.',
    });
    fn.addEnvironment(ENV.queueAgeAlarm, `${topic.topicArn},${maxAge.toSeconds()}`);
    // The sweeper deletes an orphan queue's alarm with it: DeleteAlarms only.
    if (this.sweeper?.role) {
      this.sweeper.addToRolePolicy(new iam.PolicyStatement({ sid: 'DeleteOrphanQueueAlarms', actions: ['cloudwatch:DeleteAlarms'], resources: [alarms] }));
      Validations.of(this.sweeper.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:${this.prefix}*]`,
        reason: 'The alarms of provider queues whose provider is gone, deleted with the queue; the name prefix is the narrowest scope that covers them.',
      });
      this.sweeper.addEnvironment(ENV.queueAgeAlarm, `${topic.topicArn},${maxAge.toSeconds()}`);
    }
  }

  /**
   * Lets `fn` (the reaper) delete provider queues whose provider record is gone
   * (lambdas/core/use-cases/reaper.ts#sweepOrphanQueues): list the queues (ListQueues has no
   * resource scope), read their tags and creation time and delete them on the prefix, never the
   * dead-letter queue; with `alarmOnAge`, also their alarms. Call before `alarmOnAge`.
   */
  bindSweeper(fn: lambda.Function): void {
    if (!fn.role) throw new Error(`${fn.node.path} has no execution role`);
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ListProviderQueues', actions: ['sqs:ListQueues'], resources: ['*'] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DeleteOrphanProviderQueues',
        actions: ['sqs:ListQueueTags', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:DeleteQueue'],
        resources: [this.queueArnPattern],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'NeverDeleteTheDeadLetterQueue', effect: iam.Effect.DENY, actions: ['sqs:DeleteQueue'], resources: [this.deadLetterQueue.queueArn] }),
    );
    Validations.of(fn.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'sqs:ListQueues has no resource-level permissions; it only lists queue URLs (the sweep reads tags and deletes on the provider queue prefix only).',
    });
    this.acknowledgePrefix(fn.role, 'Tags, creation time and deletion of provider queues whose provider is gone (the dead-letter queue excepted).');
    fn.addEnvironment(ENV.queuePrefix, this.prefix);
    this.sweeper = fn;
  }

  /**
   * Lets `fn` read the dead-letter queue as the operator routes do: look up its URL, receive,
   * delete and change the visibility of its messages (no send: redriving places the job anew on a
   * provider queue, through `bindSender`). Sets the queue prefix, from which the DLQ's name follows.
   */
  bindDeadLetterReader(fn: lambda.Function): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadDeadLetters',
        actions: ['sqs:GetQueueUrl', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );
    fn.addEnvironment(ENV.queuePrefix, this.prefix);
  }

  /**
   * Issue #16: lets `fn` (the invocations Lambda) wait for its sync jobs through a wake queue of
   * its own per sandbox (`<prefix>w-<made>-<random>`, lambdas/adapters/sqs-wake.ts): create and
   * configure it (encryption, TLS-only policy, tags) and receive from it, on `<prefix>w-*` only.
   * Call after `bindSender` (which sets JOB_WAKE=sqs and where the wake queues are).
   */
  bindWakeListener(fn: lambda.Function): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'OwnWakeQueue', actions: WAKE_LISTENER_ACTIONS, resources: [this.wakeQueueArnPattern] }));
    if (fn.role) {
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:${this.prefix}${WAKE_QUEUE_INFIX}*]`,
        reason: 'Each sandbox makes its own wake queue at run time (its name has its creation second and a random tail); the prefix is the narrowest scope that covers them.',
      });
    }
    fn.addEnvironment(ENV.queueTags, JSON.stringify(this.tags));
  }

  /**
   * Lets `fn` send job envelopes to provider queues: sets the queue prefix and grants
   * sqs:SendMessage on the prefix, with an explicit deny on the dead-letter queue. The prefix
   * covers the sync waits' wake queues too (`<prefix>w-*`): `fn` wakes a sync wait whose job it
   * ends (JOB_WAKE=sqs, JOB_WAKE_QUEUES).
   */
  bindSender(fn: lambda.Function): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'SendJobEnvelopes', actions: ['sqs:SendMessage'], resources: [this.queueArnPattern] }));
    if (fn.role) this.acknowledgePrefix(fn.role, 'SendMessage only.');
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'NotToTheDeadLetterQueue',
        effect: iam.Effect.DENY,
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );
    fn.addEnvironment(ENV.queuePrefix, this.prefix);
    fn.addEnvironment(ENV.jobWake, 'sqs');
    fn.addEnvironment(ENV.wakeQueues, `https://sqs.${Aws.REGION}.${Aws.URL_SUFFIX}/${Aws.ACCOUNT_ID}/${this.prefix}${WAKE_QUEUE_INFIX}`);
  }
}
