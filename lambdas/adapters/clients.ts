import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { ENV } from '../handlers/manifest';
import { conflictRetry } from './dynamo/conflicts';

/**
 * The AWS SDK clients, created once per process at module scope. In AWS the endpoints are the
 * defaults; in local mode AWS_ENDPOINT_URL_DYNAMODB / _SQS / _S3 point at DynamoDB Local and the
 * SQS+S3 emulator. Checksums are computed only when an operation requires them, so presigned
 * PUTs carry no checksum of an empty body.
 */
const region = process.env[ENV.aws.region] ?? 'us-east-1';
const endpoint = (service: keyof typeof ENV.aws.endpoints): string | undefined => process.env[ENV.aws.endpoints[service]] || undefined;

const dynamoClient = new DynamoDBClient({ region, endpoint: endpoint('dynamodb') });
// A write refused only because another was in flight on one of its items is sent again (dynamo/conflicts.ts).
dynamoClient.middlewareStack.use(conflictRetry());
export const dynamo = DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { removeUndefinedValues: true },
});

export const sqs = new SQSClient({ region, endpoint: endpoint('sqs') });

const s3Endpoint = endpoint('s3');
export const s3 = new S3Client({
  region,
  endpoint: s3Endpoint,
  forcePathStyle: s3Endpoint !== undefined,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

/** STS (provider credentials, developers' result-bucket roles); AWS_ENDPOINT_URL_STS for a stand-in. */
export const sts = new STSClient({ region, endpoint: endpoint('sts') });

/** CloudWatch (the provider queues' age alarms, AWS only). */
export const cloudwatch = new CloudWatchClient({ region });

export const awsRegion = region;
export const sqsEndpoint = endpoint('sqs');

/** Reads a required environment variable or fails at cold start with its name. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}
