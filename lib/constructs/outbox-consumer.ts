import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface OutboxConsumerProps {
  /** The outbox table; it must have a stream. */
  readonly table: dynamodb.ITable;
  /** The ledger writer. */
  readonly consumer: lambda.IFunction;
  /**
   * Largest batch of stream records per invocation.
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers records before invoking: events arriving together become one ledger
   * transaction instead of many.
   * @default Duration.seconds(2)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Retries of a failing batch before its records go to the failure queue. The outbox entries
   * themselves stay pending in the table, so nothing is lost when a batch gives up.
   * @default 10
   */
  readonly retryAttempts?: number;
  /**
   * Invoke only for new entries (INSERT). The writer takes the entries it reads, deletes committed
   * ones and marks refused ones, and those MODIFY/REMOVE records must not wake it again.
   * @default true
   */
  readonly insertsOnly?: boolean;
  /**
   * What happens to the failure queue when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Runs the ledger writer from the outbox table's DynamoDB stream, in batches, keeping the ledger
 * off the invocation's critical path: one shard is read in order (parallelisation factor 1), a
 * failing batch is split to find the bad record, and batches that exhaust their retries leave a
 * pointer in an SQS failure queue for the operator.
 */
export class OutboxConsumer extends Construct {
  /** Where the metadata of stream batches that failed every retry goes. */
  readonly failureQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: OutboxConsumerProps) {
    super(scope, id);
    this.failureQueue = new sqs.Queue(this, 'FailureQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    Validations.of(this.failureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself a dead-letter destination: the on-failure destination of the outbox stream event source mapping.',
    });
    props.consumer.addEventSource(
      new DynamoEventSource(props.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: props.batchSize ?? 100,
        maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(2),
        parallelizationFactor: 1,
        bisectBatchOnError: true,
        retryAttempts: props.retryAttempts ?? 10,
        onFailure: new SqsDlq(this.failureQueue),
        filters: (props.insertsOnly ?? true) ? [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT') })] : undefined,
      }),
    );
  }
}
