import { AwsSolutionsChecks } from 'cdk-nag';
import { synthControllerStack } from './helpers';

/**
 * cdk-nag's AWS Solutions pack over the whole controller stack. Every finding is either fixed or
 * acknowledged next to the construct that causes it, with its reason (`Validations.of(...).acknowledge`).
 */
describe('cdk-nag AwsSolutionsChecks', () => {
  test.each([
    ['default configuration', {}],
    ['no public key configured: the key made by the deploy (custom resource)', { controllerPublicKey: undefined }],
    ['prod-like configuration (data not retained, Node 24)', { stage: 'prod', retainData: false, lambdaRuntime: 'nodejs24.x' as const }],
    [
      'everything on: Fabric on EC2, the portal, custom domains, an operator',
      {
        stage: 'prod',
        fabric: 'ec2' as const,
        portal: true,
        portalDir: 'test/cdk/fixtures/portal',
        apiDomainName: 'api.chainfaas.example',
        apiCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
        portalDomainName: 'chainfaas.example',
        portalCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000',
        operatorUserIds: ['usr_Admin1'],
        alarmEmail: 'ops@chainfaas.example',
      },
    ],
  ])('%s: no unacknowledged errors or warnings', (_label, config) => {
    const { stack } = synthControllerStack(config);
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`,
    );
    expect(findings).toEqual([]);
  });
});
