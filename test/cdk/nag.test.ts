import { AwsSolutionsChecks } from 'cdk-nag';
import { synthControllerStack } from './helpers';

/**
 * cdk-nag's AWS Solutions pack over the whole controller stack. Every finding is either fixed or
 * acknowledged next to the construct that causes it, with its reason (`Validations.of(...).acknowledge`).
 */
describe('cdk-nag AwsSolutionsChecks', () => {
  test.each([
    ['default configuration', {}],
    ['prod-like configuration (data not retained, Node 24)', { stage: 'prod', retainData: false, lambdaRuntime: 'nodejs24.x' as const }],
  ])('%s: no unacknowledged errors or warnings', (_label, config) => {
    const { stack } = synthControllerStack(config);
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`);
    expect(findings).toEqual([]);
  });
});
