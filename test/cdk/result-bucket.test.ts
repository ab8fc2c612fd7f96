import type { CfnResource, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../lambdas/handlers/manifest';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { ResultBucket } from '../../lib/constructs/result-bucket';
import { actionsOf, resourcesOf, statementsOfRole, testStack } from './helpers';

const ENTRY = 'test/cdk/fixtures/echo-handler.ts';

describe('ResultBucket', () => {
  let stack: Stack;
  let results: ResultBucket;
  let template: Template;
  let reader: PlatformFunction;
  let writer: PlatformFunction;
  beforeAll(() => {
    stack = testStack();
    results = new ResultBucket(stack, 'Results', { expireAfterDays: 5, corsAllowedOrigins: ['https://portal.example'] });
    reader = new PlatformFunction(stack, 'Reader', { entry: ENTRY });
    writer = new PlatformFunction(stack, 'Writer', { entry: ENTRY });
    results.bind(reader, 'R');
    results.bind(writer, 'RW');
    template = Template.fromStack(stack);
  });
  const bucketId = (): string => stack.getLogicalId(results.bucket.node.defaultChild as CfnResource);
  const s3Statements = (fn: PlatformFunction) =>
    statementsOfRole(template, stack.getLogicalId((fn.role as iam.Role).node.defaultChild as CfnResource)).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('s3:')),
    );

  test('blocks public access, encrypts, and logs access to a second bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: stack.getLogicalId(results.accessLogs!.node.defaultChild as CfnResource) },
        LogFilePrefix: 'results-bucket/',
      },
    });
  });

  test('denies every request without TLS (and old TLS) by bucket policy', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId() },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });

  test('expires results/ and inputs/ after the configured days and aborts stale multipart uploads', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          { Id: 'expire-results', Prefix: 'results/', ExpirationInDays: 5, Status: 'Enabled' },
          { Id: 'expire-inputs', Prefix: 'inputs/', ExpirationInDays: 5, Status: 'Enabled' },
          { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
        ],
      },
    });
  });

  test('allows presigned PUT/GET from the portal origin by CORS', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: { CorsRules: [Match.objectLike({ AllowedMethods: ['GET', 'PUT', 'HEAD'], AllowedOrigins: ['https://portal.example'] })] },
    });
  });

  test("'R' gets objects under the prefixes (and may list, for HEAD 404s) but never puts or deletes", () => {
    const s = s3Statements(reader);
    expect(s.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    const get = s.find((x) => actionsOf(x).includes('s3:GetObject'))!;
    const objects = JSON.stringify(resourcesOf(get));
    expect(objects).toContain('"/results/*"');
    expect(objects).toContain('"/inputs/*"');
    expect(resourcesOf(get)).toHaveLength(2);
    const list = s.find((x) => actionsOf(x).includes('s3:ListBucket'))!;
    expect(list.Resource).toEqual({ 'Fn::GetAtt': [bucketId(), 'Arn'] });
  });

  test("'RW' adds PutObject on the prefixes only", () => {
    const s = s3Statements(writer);
    expect(s.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:ListBucket', 's3:PutObject']);
    const put = s.find((x) => actionsOf(x).includes('s3:PutObject'))!;
    expect(resourcesOf(put)).toHaveLength(2);
    expect(JSON.stringify(resourcesOf(put))).not.toMatch(/"\/\*"/);
  });

  test('bind sets the manifest environment variable', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ [ENV.bucket]: { Ref: bucketId() } }) } });
  });

  test('without access logs there is one bucket', () => {
    const s = testStack();
    new ResultBucket(s, 'Results', { serverAccessLogs: false });
    Template.fromStack(s).resourceCountIs('AWS::S3::Bucket', 1);
  });
});
