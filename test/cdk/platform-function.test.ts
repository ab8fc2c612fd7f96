import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, type App, type CfnResource, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { bundleTarget, PlatformFunction } from '../../lib/constructs/platform-function';
import { actionsOf, statementsOfRole, testStack } from './helpers';

const ENTRY = 'test/cdk/fixtures/echo-handler.ts';

describe('PlatformFunction', () => {
  let stack: Stack;
  let fn: PlatformFunction;
  let template: Template;
  beforeAll(() => {
    stack = testStack();
    fn = new PlatformFunction(stack, 'Echo', { entry: ENTRY, environment: { FOO: 'bar' } });
    new PlatformFunction(stack, 'Tuned', {
      entry: ENTRY,
      runtime: lambda.Runtime.NODEJS_22_X,
      timeout: Duration.seconds(3),
      memorySize: 256,
      logRetention: logs.RetentionDays.ONE_WEEK,
      environment: { NODE_OPTIONS: '--enable-source-maps --max-old-space-size=200' },
      reservedConcurrentExecutions: 2,
    });
    fn.addEnvironment('ADDED_LATER', '1');
    template = Template.fromStack(stack);
  });

  test('fixes runtime, architecture, tracing, JSON logs, timeout and memory', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Timeout: 10,
      MemorySize: 512,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^EchoLogs') } },
    });
  });

  test('merges the caller environment over the platform defaults, and binders can add more', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 10,
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps', FOO: 'bar', ADDED_LATER: '1' } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Timeout: 3,
      MemorySize: 256,
      ReservedConcurrentExecutions: 2,
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps --max-old-space-size=200' } },
    });
  });

  test("the bundle targets the runtime's Node version, and only Node.js runtimes are accepted", () => {
    expect(bundleTarget(lambda.Runtime.NODEJS_24_X)).toBe('node24');
    expect(bundleTarget(lambda.Runtime.NODEJS_22_X)).toBe('node22');
    expect(() => bundleTarget(lambda.Runtime.PYTHON_3_13)).toThrow(/python3.13 is not a Node.js runtime/);
  });

  test('owns a log group with a retention', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  test('its role may write its own log group and X-Ray, and nothing else; no managed policies', () => {
    const roleId = stack.getLogicalId((fn.role as iam.Role).node.defaultChild as CfnResource);
    expect(template.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    const statements = statementsOfRole(template, roleId);
    expect(statements.flatMap(actionsOf).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    const logStatement = statements.find((s) => actionsOf(s).includes('logs:PutLogEvents'))!;
    expect(JSON.stringify(logStatement.Resource)).toMatch(/^\{"Fn::GetAtt":\["EchoLogs[0-9A-F]+","Arn"\]\}$/);
  });
});

describe('PlatformFunction bundling (esbuild, locally)', () => {
  let assetDir: string;
  beforeAll(() => {
    const stack = testStack({ bundle: true });
    new PlatformFunction(stack, 'Echo', { entry: ENTRY });
    const outdir = (stack.node.root as App).synth().directory;
    const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    assetDir = join(outdir, assets[0]);
  }, 120_000);

  test('produces a minified CommonJS bundle with a linked source map and no sources inlined', () => {
    expect(existsSync(join(assetDir, 'index.js'))).toBe(true);
    const map = JSON.parse(readFileSync(join(assetDir, 'index.js.map'), 'utf8'));
    expect(map.sourcesContent ?? []).toEqual([]);
    const code = readFileSync(join(assetDir, 'index.js'), 'utf8');
    expect(code.startsWith('"use strict";')).toBe(true);
    expect(code.trimEnd().endsWith('//# sourceMappingURL=index.js.map')).toBe(true);
    // Minified: long lines, not one statement per line.
    expect(code.length / code.split('\n').length).toBeGreaterThan(1000);
  });

  test('bundles the AWS SDK v3 instead of relying on the runtime copy', () => {
    const code = readFileSync(join(assetDir, 'index.js'), 'utf8');
    const sdkRequires = [...new Set([...code.matchAll(/require\("(@aws-sdk\/[^"]+|@smithy\/[^"]+)"\)/g)].map((m) => m[1]))];
    // The CRT signer is an optional dependency the SDK requires inside a try/catch; everything else is inside the bundle.
    expect(sdkRequires).toEqual(['@aws-sdk/signature-v4-crt']);
    expect(code.includes('AmazonSQS.ReceiveMessage') || code.includes('ReceiveMessage')).toBe(true);
  });
});
