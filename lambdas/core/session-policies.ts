/**
 * IAM session policies the controller attaches when it assumes a role (STS AssumeRole), built as
 * plain JSON here so that they can be tested without AWS. A session policy can only narrow what
 * the role's own policy allows: the provider role allows its actions on every provider queue, the
 * session names the one queue of the provider it is minted for.
 */

/** What a provider agent does on its own queue: receive, keep hidden, delete, read attributes. */
export const PROVIDER_QUEUE_ACTIONS = ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'] as const;

/** What the controller does in a developer's result bucket: presign PUT and GET, HEAD the result. */
export const RESULT_OBJECT_ACTIONS = ['s3:PutObject', 's3:GetObject'] as const;

/** STS refuses packed session policies above this size; ours stay far below it. */
export const MAX_SESSION_POLICY_CHARS = 2048;

const QUEUE_ARN = /^arn:(aws|aws-cn|aws-us-gov):sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The partition of an ARN or a region (`aws`, `aws-cn`, `aws-us-gov`). */
export function partitionOf(regionOrArn: string): string {
  const arn = /^arn:([a-z-]+):/.exec(regionOrArn);
  if (arn) return arn[1] as string;
  if (regionOrArn.startsWith('cn-')) return 'aws-cn';
  if (regionOrArn.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function finish(policy: unknown): string {
  const text = JSON.stringify(policy);
  if (text.length > MAX_SESSION_POLICY_CHARS) throw new Error(`the session policy has ${text.length} characters; STS accepts ${MAX_SESSION_POLICY_CHARS}`);
  return text;
}

/**
 * The session policy of a provider's credentials: the agent's four queue actions on exactly its
 * own queue. Refuses anything but one concrete SQS queue ARN, so a wildcard can never widen it.
 */
export function providerSessionPolicy(queueArn: string): string {
  if (!QUEUE_ARN.test(queueArn)) throw new Error(`not a single SQS queue ARN: ${queueArn}`);
  return finish({
    Version: '2012-10-17',
    Statement: [{ Sid: 'OwnQueueOnly', Effect: 'Allow', Action: [...PROVIDER_QUEUE_ACTIONS], Resource: queueArn }],
  });
}

/**
 * The session policy under which the controller presigns into a developer's bucket: results and
 * logs under `results/` and nothing else, plus listing that prefix (so a missing result answers
 * 404, not 403). The developer's role may allow more; the session never does.
 */
export function resultBucketSessionPolicy(bucket: string, partition = 'aws'): string {
  if (!BUCKET.test(bucket)) throw new Error(`not an S3 bucket name: ${bucket}`);
  return finish({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'JobResults', Effect: 'Allow', Action: [...RESULT_OBJECT_ACTIONS], Resource: `arn:${partition}:s3:::${bucket}/results/*` },
      { Sid: 'TellMissingResults', Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:${partition}:s3:::${bucket}`, Condition: { StringLike: { 's3:prefix': 'results/*' } } },
    ],
  });
}

/** An STS role session name (2-64 of `[\w+=,.@-]`) from an id. */
export function sessionName(id: string): string {
  const name = id.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return name.length >= 2 ? name : `s-${name}`;
}
