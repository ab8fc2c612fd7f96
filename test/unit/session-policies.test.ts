import {
  MAX_SESSION_POLICY_CHARS,
  partitionOf,
  PROVIDER_QUEUE_ACTIONS,
  providerSessionPolicy,
  resultBucketSessionPolicy,
  sessionName,
} from '../../lambdas/core/session-policies';

const queueArn = 'arn:aws:sqs:eu-west-1:123456789012:chainfaas-prod-pq-prv_AbC123';

test("a provider's session policy allows the agent's four queue actions on its own queue and nothing else", () => {
  const policy = JSON.parse(providerSessionPolicy(queueArn));
  expect(policy).toEqual({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'OwnQueueOnly',
        Effect: 'Allow',
        Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Resource: queueArn,
      },
    ],
  });
  // No send (only the controller sends), no other queue, no wildcard.
  expect(PROVIDER_QUEUE_ACTIONS).not.toContain('sqs:SendMessage');
  expect(JSON.stringify(policy)).not.toContain('*');
  expect(providerSessionPolicy(queueArn).length).toBeLessThan(MAX_SESSION_POLICY_CHARS);
});

test.each([
  ['a prefix wildcard', 'arn:aws:sqs:eu-west-1:123456789012:chainfaas-prod-pq-*'],
  ['a single-character wildcard', 'arn:aws:sqs:eu-west-1:123456789012:chainfaas-prod-pq-prv_?'],
  ['another service', 'arn:aws:sns:eu-west-1:123456789012:topic'],
  ['an account wildcard', 'arn:aws:sqs:eu-west-1:*:chainfaas-prod-pq-prv_1'],
  ['a queue URL instead of an ARN', 'https://sqs.eu-west-1.amazonaws.com/123456789012/chainfaas-prod-pq-prv_1'],
])('a provider session policy refuses %s', (_name, arn) => {
  expect(() => providerSessionPolicy(arn)).toThrow(/not a single SQS queue ARN/);
});

test("the result-bucket session reaches only results/ of the developer's bucket, in the role's partition", () => {
  const policy = JSON.parse(resultBucketSessionPolicy('ada-results', partitionOf('arn:aws-cn:iam::123456789012:role/chainfaas-results-w')));
  expect(policy.Statement).toEqual([
    { Sid: 'JobResults', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: 'arn:aws-cn:s3:::ada-results/results/*' },
    {
      Sid: 'TellMissingResults',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: 'arn:aws-cn:s3:::ada-results',
      Condition: { StringLike: { 's3:prefix': 'results/*' } },
    },
  ]);
  expect(() => resultBucketSessionPolicy('Bad_Bucket*')).toThrow(/not an S3 bucket name/);
});

test('partitions and session names', () => {
  expect(partitionOf('us-east-1')).toBe('aws');
  expect(partitionOf('cn-north-1')).toBe('aws-cn');
  expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
  expect(sessionName('prv_AbC123')).toBe('prv_AbC123');
  expect(sessionName('a b/c')).toBe('a-b-c');
  expect(sessionName('x'.repeat(100))).toHaveLength(64);
});
