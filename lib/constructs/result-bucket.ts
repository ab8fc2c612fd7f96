import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV, type Access } from '../../lambdas/handlers/manifest';

export interface ResultBucketProps {
  /**
   * Key prefixes the controller writes (job results and logs under `results/<jobId>/`, large
   * inputs under `inputs/`). Grants and expiry apply to these prefixes only.
   * @default ['results/', 'inputs/']
   */
  readonly prefixes?: string[];
  /**
   * Days after which objects under `prefixes` expire.
   * @default 7
   */
  readonly expireAfterDays?: number;
  /**
   * Origins allowed to PUT/GET through presigned URLs from a browser (the portal).
   * @default ['*'] (a presigned URL is itself the credential)
   */
  readonly corsAllowedOrigins?: string[];
  /**
   * What happens to the bucket when the stack is deleted. With DESTROY the objects are emptied first.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Keep S3 server access logs in a second bucket.
   * @default true
   */
  readonly serverAccessLogs?: boolean;
}

/**
 * The bucket for job results, job logs and large inputs, reached by providers and callers only
 * through presigned URLs: public access blocked, S3-managed encryption, TLS enforced by bucket
 * policy, objects expiring after a few days, CORS for browser PUT/GET.
 *
 * S3-managed keys rather than KMS: a presigned PUT from a provider with SSE-KMS would need the
 * signing Lambda to hold kms:GenerateDataKey, and the results are already short-lived.
 */
export class ResultBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** Where server access logs go, when enabled. */
  readonly accessLogs?: s3.Bucket;
  private readonly prefixes: string[];

  constructor(scope: Construct, id: string, props: ResultBucketProps = {}) {
    super(scope, id);
    this.prefixes = props.prefixes ?? ['results/', 'inputs/'];
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY;
    const common: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      autoDeleteObjects,
    };
    if (props.serverAccessLogs ?? true) {
      this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
        ...common,
        lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      });
    }
    const days = Duration.days(props.expireAfterDays ?? 7);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...common,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: this.accessLogs ? 'results-bucket/' : undefined,
      lifecycleRules: [
        ...this.prefixes.map((prefix) => ({ id: `expire-${prefix.replace(/\W+/g, '')}`, prefix, expiration: days })),
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      cors: [
        {
          allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.PUT, s3.HttpMethods.HEAD],
          allowedOrigins: props.corsAllowedOrigins ?? ['*'],
          allowedHeaders: ['*'],
          exposedHeaders: ['ETag', 'Content-Length'],
          maxAge: 3600,
        },
      ],
    });
  }

  /**
   * Gives `fn` access in one call: sets the manifest's environment variable to the bucket name and
   * grants, on the controller's prefixes only, `s3:GetObject` (GET, HEAD and presigned GETs) and,
   * for `RW`, `s3:PutObject` (presigned PUTs). `s3:ListBucket` on the bucket comes with it so that
   * HeadObject on a missing result answers 404 rather than 403 (the adapter tells "not uploaded
   * yet" from a failure by that status). No delete, no bucket configuration.
   */
  bind(fn: lambda.Function, access: Access): void {
    fn.addEnvironment(ENV.bucket, this.bucket.bucketName);
    const objects = this.prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: access === 'RW' ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'], resources: objects }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    if (fn.role) {
      const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
      for (const prefix of this.prefixes) {
        Validations.of(fn.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
          reason: `Object keys under ${prefix} are per job (${prefix}<jobId>/...); the prefix is the narrowest scope that covers every job.`,
        });
      }
    }
  }
}
