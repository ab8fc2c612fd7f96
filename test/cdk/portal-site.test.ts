import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PortalSite } from '../../lib/constructs/portal-site';
import { projectRoot } from '../../lib/project-root';
import { actionsOf, resourcesOf, synthControllerStack, testStack, type Statement } from './helpers';

describe('PortalSite', () => {
  let stack: Stack;
  let portal: PortalSite;
  let template: Template;
  beforeAll(() => {
    stack = testStack();
    portal = new PortalSite(stack, 'Portal', { sourcePath: join(projectRoot(), 'test/cdk/fixtures/portal'), apiUrl: 'https://api.example' });
    template = Template.fromStack(stack);
  });
  const id = (c: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(c.node.defaultChild as CfnResource);

  test('the site bucket is private and readable only by this distribution through origin access control', () => {
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: Match.objectLike({ BlockPublicPolicy: true, RestrictPublicBuckets: true }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id(portal.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  test('HTTPS only, security headers, SPA routing and access logs', () => {
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'index.html',
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https', ResponseHeadersPolicyId: Match.anyValue() }),
        CustomErrorResponses: [
          { ErrorCode: 403, ResponseCode: 200, ResponsePagePath: '/index.html', ErrorCachingMinTTL: 0 },
          { ErrorCode: 404, ResponseCode: 200, ResponsePagePath: '/index.html', ErrorCachingMinTTL: 0 },
        ],
        Logging: Match.objectLike({ Prefix: 'distribution/' }),
      }),
    });
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: Match.objectLike({
          StrictTransportSecurity: Match.objectLike({ Override: true }),
          FrameOptions: { FrameOption: 'DENY', Override: true },
        }),
      },
    });
  });

  test('deploys the files and a config.json naming the API', () => {
    const deployment = Object.values(template.findResources('Custom::CDKBucketDeployment'))[0];
    expect(deployment.Properties).toMatchObject({ DestinationBucketName: { Ref: id(portal.bucket) }, Prune: true });
    expect(deployment.Properties.SourceObjectKeys).toHaveLength(2);
    const outdir = (stack.node.root as App).synth().directory;
    const configs = readdirSync(outdir)
      .filter((d) => d.startsWith('asset.') && existsSync(join(outdir, d, 'config.json')))
      .map((d) => JSON.parse(readFileSync(join(outdir, d, 'config.json'), 'utf8')));
    expect(configs).toEqual([{ apiUrl: 'https://api.example' }]);
  });

  test('cloudfront:CreateInvalidation is allowed on this distribution only, and invalidates /* when the files change', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const invalidating = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('cloudfront:')));
    expect(invalidating).toHaveLength(1);
    expect(actionsOf(invalidating[0])).toEqual(['cloudfront:CreateInvalidation']);
    const [resource] = resourcesOf(invalidating[0]);
    expect(resourcesOf(invalidating[0])).toHaveLength(1);
    expect(resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: id(portal.distribution) }]],
    });
    const invalidation = Object.values(template.findResources('Custom::AWS'))[0];
    const create = JSON.stringify(invalidation.Properties.Create);
    expect(create).toContain('createInvalidation');
    // The caller reference is made of the deployment's object keys (content hashes): new files, new invalidation.
    expect(create).toContain('SourceObjectKeys');
  });

  test('passes cdk-nag with its acknowledgements', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });
});

describe('ChainFaasStack with portal=true', () => {
  test('serves the portal with the API URL, and passes cdk-nag', () => {
    const { stack, template } = synthControllerStack({ portal: true, portalDir: 'test/cdk/fixtures/portal' });
    template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    template.hasOutput('PortalUrl', Match.anyValue());
    const deployment = Object.values(template.findResources('Custom::CDKBucketDeployment'))[0];
    // The API URL is a token here, so it travels as a deploy-time marker.
    expect(JSON.stringify(deployment.Properties.SourceMarkers)).toContain(stack.getLogicalId(stack.api.httpApi.node.defaultChild as CfnResource));
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });

  test('refuses a portal directory without index.html', () => {
    expect(() => synthControllerStack({ portal: true, portalDir: 'test/cdk' })).toThrow(/index.html/);
  });
});
