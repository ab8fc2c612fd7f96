import { Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

export interface PortalSiteProps {
  /** Directory with the portal's static files (index.html at its root). */
  readonly sourcePath: string;
  /** Base URL of the controller API, written to `/config.json` for the single-page app. */
  readonly apiUrl: string;
  /**
   * Custom domain and its certificate (us-east-1); with them the distribution requires TLS 1.2.
   * @default - the distribution's *.cloudfront.net name
   */
  readonly domain?: { readonly name: string; readonly certificate: acm.ICertificate };
  /**
   * ARN of a WAF web ACL (CLOUDFRONT scope) to attach.
   * @default - none
   */
  readonly webAclArn?: string;
  /**
   * What happens to the site and log buckets when the stack is deleted.
   * @default RemovalPolicy.DESTROY (the site is rebuilt from the repository)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The web portal: a private S3 bucket served only through CloudFront with origin access control,
 * HTTPS only, security headers, single-page-app routing (unknown paths answer index.html) and
 * access logs. The API URL reaches the app through a generated `/config.json`, so the same build
 * works for every stage.
 */
export class PortalSite extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** Invalidates `/*` of this distribution (only) whenever the deployed files change. */
  readonly invalidation: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: PortalSiteProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const autoDeleteObjects = removalPolicy === RemovalPolicy.DESTROY;
    const logs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront standard logs are delivered with ACLs.
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects,
    });
    Validations.of(logs).acknowledge({ id: 'AwsSolutions-S1', reason: 'This is the access-log bucket; logging it into itself would loop.' });
    this.bucket = new s3.Bucket(this, 'Site', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'site-bucket/',
      removalPolicy,
      autoDeleteObjects,
    });

    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy:
            "default-src 'self'; connect-src 'self' https:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
          override: true,
        },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
      },
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'ChainFaaS portal',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
      },
      // The bucket answers 403 for a missing key (no ListBucket for CloudFront): the app routes it.
      errorResponses: [403, 404].map((httpStatus) => ({ httpStatus, responseHttpStatus: 200, responsePagePath: '/index.html', ttl: Duration.seconds(0) })),
      domainNames: props.domain ? [props.domain.name] : undefined,
      certificate: props.domain?.certificate,
      minimumProtocolVersion: props.domain ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
      enableLogging: true,
      logBucket: logs,
      logFilePrefix: 'distribution/',
      webAclId: props.webAclArn,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    });

    // No `distribution` here: BucketDeployment would grant its handler CreateInvalidation on every
    // distribution of the account (`Resource: *`). The invalidation below is scoped to this one.
    const deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      sources: [s3deploy.Source.asset(props.sourcePath), s3deploy.Source.jsonData('config.json', { apiUrl: props.apiUrl })],
      prune: true,
    });
    this.invalidation = this.invalidateAfter(deployment);

    if (!props.domain) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          'Without a custom domain the distribution uses the *.cloudfront.net certificate, whose minimum protocol CloudFront fixes; pass a domain and certificate to require TLS 1.2.',
      });
    }
    Validations.of(this.distribution).acknowledge({ id: 'AwsSolutions-CFR1', reason: 'ChainFaaS is an open platform for anyone; no geographic restriction.' });
    if (!props.webAclArn) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason: 'The portal is static files; the API it calls has its own throttling. A web ACL can be attached with webAclArn.',
      });
    }
    this.acknowledgeDeploymentHandler();
  }

  /**
   * A CloudFront invalidation of `/*` each time the deployment's sources change (their object keys
   * are content hashes, so they name the invalidation batch), allowed on this distribution's ARN only.
   */
  private invalidateAfter(deployment: s3deploy.BucketDeployment): cr.AwsCustomResource {
    const distributionArn = Stack.of(this).formatArn({ service: 'cloudfront', region: '', resource: 'distribution', resourceName: this.distribution.distributionId });
    const call: cr.AwsSdkCall = {
      service: 'CloudFront',
      action: 'createInvalidation',
      parameters: {
        DistributionId: this.distribution.distributionId,
        InvalidationBatch: { CallerReference: Fn.join('/', deployment.objectKeys), Paths: { Quantity: 1, Items: ['/*'] } },
      },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('Invalidation.Id'),
    };
    return new cr.AwsCustomResource(this, 'Invalidation', {
      onCreate: call,
      onUpdate: call,
      installLatestAwsSdk: false,
      policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['cloudfront:CreateInvalidation'], resources: [distributionArn] })]),
    });
  }

  /**
   * BucketDeployment's singleton Lambda (and autoDeleteObjects' provider) are aws-cdk-lib's own,
   * with the role aws-cdk-lib generates: they copy the portal from the CDK asset bucket into the
   * site bucket, and AwsCustomResource's invalidates the distribution. Their findings are acknowledged one by one where
   * they live.
   */
  private acknowledgeDeploymentHandler(): void {
    const stack = Stack.of(this);
    const siteBucket = stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    const reason =
      'aws-cdk-lib deployment handlers: BucketDeployment reads the CDK asset bucket and writes and prunes the site bucket; AwsCustomResource invalidates this distribution (its policy names the distribution ARN).';
    for (const child of stack.node.children) {
      // AWS679f53fac002430cb0da5b7982bd2287: the singleton Lambda of AwsCustomResource (the invalidation).
      const own = ['Custom::CDKBucketDeployment', 'Custom::S3AutoDeleteObjects', 'AWS679f53fac002430cb0da5b7982bd2287'];
      if (!own.some((prefix) => child.node.id.startsWith(prefix))) continue;
      Validations.of(child).acknowledge(
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason },
        { id: 'AwsSolutions-L1', reason: 'aws-cdk-lib chooses the runtime of its own deployment handlers.' },
        ...[
          'Action::s3:GetBucket*',
          'Action::s3:GetObject*',
          'Action::s3:List*',
          'Action::s3:Abort*',
          'Action::s3:DeleteObject*',
          'Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*',
          `Resource::<${siteBucket}.Arn>/*`,
          'Resource::*',
        ].map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })),
      );
    }
  }
}
