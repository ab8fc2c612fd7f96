import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { CfnResource } from 'aws-cdk-lib';
import { ENV, HANDLERS, ROUTES, TABLES, type HandlerName, type TableName } from '../../lambdas/handlers/manifest';
import {
  actionsOf,
  normaliseAssetHashes,
  unlistedEnvNames,
  referencedIds,
  resourcesOf,
  statementsOfRole,
  synthControllerStack,
  TEST_PUBLIC_KEY,
  type Statement,
  type SynthesisedStack,
} from './helpers';

const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
const HANDLER_NAMES = Object.keys(HANDLERS) as HandlerName[];
const TABLE_NAMES = Object.keys(TABLES) as TableName[];

let synth: SynthesisedStack;
beforeAll(() => {
  synth = synthControllerStack();
});

const id = (construct: { node: { defaultChild?: unknown } }): string => synth.stack.getLogicalId(construct.node.defaultChild as CfnResource);
const roleId = (name: HandlerName): string => id(synth.stack.functions[name].role as iam.Role);
const allows = (name: HandlerName): Statement[] => statementsOfRole(synth.template, roleId(name)).filter((s) => s.Effect === 'Allow');
const tableId = (name: TableName): string => id(synth.stack.tables.table(name));
const fnProps = (name: HandlerName): Record<string, any> => synth.template.toJSON().Resources[id(synth.stack.functions[name])].Properties;

/** The tables a handler may call `actions` on (any of them), by manifest name. */
function tablesWith(name: HandlerName, actions: string[]): TableName[] {
  const refs = new Set<string>();
  for (const s of allows(name)) if (actionsOf(s).some((a) => actions.includes(a))) for (const r of resourcesOf(s)) referencedIds(r).forEach((x) => refs.add(x));
  return TABLE_NAMES.filter((t) => refs.has(tableId(t))).sort();
}

describe('ChainFaasStack wiring from the manifest', () => {
  test.each(HANDLER_NAMES)('%s may write exactly the tables the manifest marks RW', (name) => {
    const rw = (Object.entries(HANDLERS[name].tables) as [TableName, string][])
      .filter(([, a]) => a === 'RW')
      .map(([t]) => t)
      .sort();
    expect(tablesWith(name, WRITE_ACTIONS)).toEqual(rw);
  });

  test.each(HANDLER_NAMES)('%s may read exactly the tables the manifest lists', (name) => {
    expect(tablesWith(name, ['dynamodb:GetItem', 'dynamodb:Query'])).toEqual(Object.keys(HANDLERS[name].tables).sort());
  });

  test('the jobs Lambda reads the jobs table but cannot write it', () => {
    expect(tablesWith('jobs', ['dynamodb:Query'])).toContain('jobs');
    expect(tablesWith('jobs', WRITE_ACTIONS)).not.toContain('jobs');
  });

  test.each(HANDLER_NAMES)('%s gets the environment variable of every table it is bound to, and no other', (name) => {
    const env = fnProps(name).Environment.Variables as Record<string, unknown>;
    for (const table of TABLE_NAMES) {
      if (table in HANDLERS[name].tables) expect(referencedIds(env[ENV.tables[table]])).toEqual(new Set([tableId(table)]));
      else expect(env[ENV.tables[table]]).toBeUndefined();
    }
  });

  test('only the Lambdas the manifest lets send envelopes may sqs:SendMessage, and only to the provider queue prefix', () => {
    for (const name of HANDLER_NAMES) {
      const senders = allows(name).filter((s) => actionsOf(s).includes('sqs:SendMessage'));
      if (HANDLERS[name].queues?.startsWith('send')) {
        expect(senders).toHaveLength(1);
        expect(JSON.stringify(senders[0].Resource)).toContain(':chainfaas-dev-pq-*');
      } else if (name === 'ledgerWriter') {
        // The stream event source's on-failure destination, and nothing else.
        expect(senders.flatMap(resourcesOf)).toEqual([{ 'Fn::GetAtt': [id(synth.stack.outbox.failureQueue), 'Arn'] }]);
      } else {
        expect(senders).toEqual([]);
      }
    }
  });

  test('only the providers Lambda manages provider queues and may assume the provider role; only the invocations Lambda makes wake queues, on <prefix>w-* (issue #16)', () => {
    const providerRole = id(synth.stack.providerQueues.providerRole);
    const wakeOnly = (s: Statement) => resourcesOf(s).every((r) => JSON.stringify(r).endsWith(':chainfaas-dev-pq-w-*"]]}'));
    for (const name of HANDLER_NAMES) {
      const makesWakeQueues = allows(name).some((s) => actionsOf(s).includes('sqs:CreateQueue') && wakeOnly(s));
      expect(makesWakeQueues).toBe(name === 'invocations');
      const manages = allows(name).some(
        (s) =>
          (actionsOf(s).includes('sqs:CreateQueue') && !wakeOnly(s)) ||
          (actionsOf(s).includes('sts:AssumeRole') && resourcesOf(s).some((r) => referencedIds(r).has(providerRole))),
      );
      expect(manages).toBe(name === 'providers');
    }
    expect(fnProps('providers').Environment.Variables).toMatchObject({
      [ENV.queuePrefix]: 'chainfaas-dev-pq-',
      [ENV.providerRoleArn]: { 'Fn::GetAtt': [id(synth.stack.providerQueues.providerRole), 'Arn'] },
    });
  });

  test('issue #20: only the reaper may delete provider queues besides the providers Lambda: on the prefix, never the dead-letter queue, with their alarms', () => {
    for (const name of HANDLER_NAMES) {
      const deletes = allows(name).filter((s) => actionsOf(s).includes('sqs:DeleteQueue'));
      if (name === 'reaper') {
        expect(deletes.flatMap(resourcesOf).map((r) => JSON.stringify(r))).toEqual([expect.stringContaining(':chainfaas-dev-pq-*')]);
        expect(actionsOf(deletes[0]!).sort()).toEqual(['sqs:DeleteQueue', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ListQueueTags']);
        const lists = allows(name).filter((s) => actionsOf(s).includes('sqs:ListQueues'));
        expect(lists.map((s) => [actionsOf(s), s.Resource])).toEqual([[['sqs:ListQueues'], '*']]);
        const denied = statementsOfRole(synth.template, roleId(name)).filter(
          (s) => s.Effect === 'Deny' && actionsOf(s).includes('sqs:DeleteQueue'),
        );
        expect(denied.flatMap(resourcesOf)).toEqual([{ 'Fn::GetAtt': [id(synth.stack.providerQueues.deadLetterQueue), 'Arn'] }]);
        const alarms = allows(name).filter((s) => actionsOf(s).includes('cloudwatch:DeleteAlarms'));
        expect(alarms.map((s) => actionsOf(s))).toEqual([['cloudwatch:DeleteAlarms']]);
        expect(JSON.stringify(alarms[0]!.Resource)).toContain(':alarm:chainfaas-dev-pq-*');
        expect(fnProps(name).Environment.Variables[ENV.queueAgeAlarm]).toBeDefined();
      } else {
        expect({ name, deletes: deletes.length }).toEqual({ name, deletes: name === 'providers' ? 1 : 0 });
      }
    }
  });

  test('only the Lambdas the manifest marks signingKey may read the signing key secret', () => {
    const secretId = id(synth.stack.signingKey.secret as unknown as { node: { defaultChild?: unknown } });
    for (const name of HANDLER_NAMES) {
      const reads = allows(name).some(
        (s) => actionsOf(s).includes('secretsmanager:GetSecretValue') && resourcesOf(s).some((r) => referencedIds(r).has(secretId)),
      );
      expect(reads).toBe(HANDLERS[name].signingKey === true);
      const env = fnProps(name).Environment.Variables;
      if (HANDLERS[name].signingKey) {
        expect(env[ENV.signingKeySecretArn]).toEqual({ Ref: secretId });
        expect(env[ENV.publicKey]).toBeUndefined();
      } else {
        expect(env[ENV.signingKeySecretArn]).toBeUndefined();
        expect(env[ENV.publicKey]).toBe(TEST_PUBLIC_KEY);
      }
    }
  });

  test('bucket access follows the manifest: PutObject only for RW, GetObject for R and RW', () => {
    const bucketId = id(synth.stack.results.bucket);
    for (const name of HANDLER_NAMES) {
      const on = (action: string): boolean =>
        allows(name).some(
          (s) =>
            actionsOf(s).some((a) => a === action || (a.endsWith('*') && action.startsWith(a.slice(0, -1)))) &&
            resourcesOf(s).some((r) => referencedIds(r).has(bucketId)),
        );
      expect(on('s3:PutObject')).toBe(HANDLERS[name].bucket === 'RW');
      expect(on('s3:GetObject')).toBe(HANDLERS[name].bucket !== undefined);
      expect(on('s3:DeleteObject')).toBe(false);
      if (HANDLERS[name].bucket) expect(fnProps(name).Environment.Variables[ENV.bucket]).toEqual({ Ref: bucketId });
    }
  });

  test('nothing is allowed on "*" except actions with no resource-level permissions (X-Ray writes; ListStreams for the stream reader; ListQueues for the reaper)', () => {
    for (const name of HANDLER_NAMES) {
      const starred = allows(name).filter((s) => resourcesOf(s).includes('*'));
      const expected = [
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
        ...(name === 'ledgerWriter' ? ['dynamodb:ListStreams'] : []),
        ...(name === 'reaper' ? ['sqs:ListQueues'] : []),
      ];
      expect(starred.flatMap(actionsOf).sort()).toEqual(expected.sort());
    }
  });

  test('every Lambda runs the configured runtime on ARM64 with tracing, JSON logs and the shared controller settings', () => {
    for (const name of HANDLER_NAMES) {
      expect(fnProps(name)).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON' },
        Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps', PRICE_VCPU_MS: '10', PRICE_MB_MS: '1', SCHEDULER_POLICY: 'random-fit' } },
      });
      expect(fnProps(name).Timeout).toBeLessThanOrEqual(name === 'ledgerWriter' ? 900 : 29);
      expect(fnProps(name).Environment.Variables[ENV.ledgerMode]).toBe(HANDLERS[name].ledger ? 'fabric' : undefined);
    }
  });

  test('the ledger writer is the single, serialised consumer of the outbox stream, in batches of new entries', () => {
    // Reserved at deploy time by a custom resource, not in the template (writer-concurrency.test.ts).
    expect(fnProps('ledgerWriter').ReservedConcurrentExecutions).toBeUndefined();
    synth.template.hasResourceProperties('Custom::ReservedConcurrency', { FunctionName: { Ref: id(synth.stack.functions.ledgerWriter) }, Wanted: '1' });
    synth.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id(synth.stack.functions.ledgerWriter) },
      EventSourceArn: { 'Fn::GetAtt': [tableId('outbox'), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 2,
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'] }) }] },
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [id(synth.stack.outbox.failureQueue), 'Arn'] } } },
    });
  });

  test('the API has exactly the manifest routes, each integrated with its handler', () => {
    const routes = Object.values(synth.template.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    const integrations = synth.template.findResources('AWS::ApiGatewayV2::Integration');
    for (const route of ROUTES) {
      const resource = routes.find((r) => r.Properties.RouteKey === `${route.method} ${route.path}`)!;
      const integrationId = (resource.Properties.Target['Fn::Join'][1][1] as { Ref: string }).Ref;
      expect(referencedIds(integrations[integrationId].Properties.IntegrationUri)).toEqual(new Set([id(synth.stack.functions[route.handler])]));
    }
  });

  test('alarms cover both dead-letter queues, every Lambda, the ledger lag, the settlement lag and API 5xx', () => {
    const handlers = HANDLER_NAMES.length;
    synth.template.resourceCountIs('AWS::CloudWatch::Alarm', 2 + 2 * handlers + 1 + 1 + 1);
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '5xx', Namespace: 'AWS/ApiGateway' });
    // The EMF metric the ledger writer emits, under the namespace and service its environment names.
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SettlementLag',
      Namespace: fnProps('ledgerWriter').Environment.Variables[ENV.powertools.metricsNamespace],
      Dimensions: [{ Name: 'service', Value: fnProps('ledgerWriter').Environment.Variables[ENV.powertools.serviceName] }],
      Statistic: 'Maximum',
      Threshold: 600_000,
    });
  });

  test('every Lambda logs and counts through Powertools: service name of the stage, one namespace, the configured log level', () => {
    for (const name of HANDLER_NAMES) {
      expect(fnProps(name).Environment.Variables).toMatchObject({
        [ENV.powertools.serviceName]: 'chainfaas-dev',
        [ENV.powertools.metricsNamespace]: 'ChainFaaS',
        [ENV.powertools.logLevel]: 'INFO',
      });
      // Metrics are on in AWS: only the local platform disables them.
      expect(fnProps(name).Environment.Variables[ENV.powertools.metricsDisabled]).toBeUndefined();
    }
  });

  test("metrics need no permission beyond the function's own log group: no role may cloudwatch:PutMetricData", () => {
    for (const name of HANDLER_NAMES) expect(allows(name).flatMap(actionsOf).filter((a) => a === 'cloudwatch:PutMetricData')).toEqual([]);
    // The providers Lambda's only CloudWatch rights: the provider queues' alarms (provider-queues.test.ts); the reaper deletes an orphan queue's.
    const alarmActions = HANDLER_NAMES.flatMap((name) => allows(name).flatMap(actionsOf).filter((a) => a.startsWith('cloudwatch:')).map((a) => `${name} ${a}`));
    expect(alarmActions.sort()).toEqual([
      'providers cloudwatch:DeleteAlarms',
      'providers cloudwatch:PutMetricAlarm',
      'providers cloudwatch:TagResource',
      'reaper cloudwatch:DeleteAlarms',
    ]);
  });

  test('outputs name the API URL, the secret to fill in and the provider queue prefix', () => {
    synth.template.hasOutput('ApiUrl', Match.anyValue());
    synth.template.hasOutput('SigningKeySecretArn', Match.anyValue());
    synth.template.hasOutput('ProviderQueuePrefix', { Value: 'chainfaas-dev-pq-' });
  });

  test('every environment variable of every Lambda is named in the manifest ENV (one list for CDK, handlers and local/)', () => {
    expect(unlistedEnvNames(synth.template)).toEqual([]);
  });

  test('snapshot (asset hashes normalised)', () => {
    expect(normaliseAssetHashes(synth.template.toJSON())).toMatchSnapshot();
  });
});

describe('ChainFaasStack custom domains', () => {
  test('API: a regional TLS 1.2 domain mapped to the $default stage; portal: CloudFront aliases with TLS 1.2 and config.json naming the API domain; outputs the DNS targets', () => {
    const apiCert = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
    const portalCert = 'arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000';
    const { template, app } = synthControllerStack({
      apiDomainName: 'api.chainfaas.example',
      apiCertificateArn: apiCert,
      portal: true,
      portalDir: 'test/cdk/fixtures/portal',
      portalDomainName: 'chainfaas.example',
      portalCertificateArn: portalCert,
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'api.chainfaas.example',
      DomainNameConfigurations: [{ CertificateArn: apiCert, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' }],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', { DomainName: { Ref: Match.anyValue() }, Stage: '$default' });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['chainfaas.example'],
        ViewerCertificate: { AcmCertificateArn: portalCert, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      }),
    });
    expect(template.toJSON().Outputs.ApiUrl.Value).toBe('https://api.chainfaas.example');
    expect(template.toJSON().Outputs.PortalUrl.Value).toBe('https://chainfaas.example');
    template.hasOutput('ApiDomainTarget', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'RegionalDomainName'] } });
    template.hasOutput('PortalDomainTarget', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'DomainName'] } });
    // The portal's generated config.json (an asset of its own) points the app at the API domain.
    const outdir = app.synth().directory;
    const configs = readdirSync(outdir)
      .filter((d) => d.startsWith('asset.') && existsSync(join(outdir, d, 'config.json')))
      .map((d) => JSON.parse(readFileSync(join(outdir, d, 'config.json'), 'utf8')));
    expect(configs).toEqual([{ apiUrl: 'https://api.chainfaas.example' }]);
  });

  test('without domains there is no DomainName and ApiUrl is the execute-api URL', () => {
    synth.template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    expect(synth.template.toJSON().Outputs.ApiUrl.Value).toEqual({ 'Fn::GetAtt': [id(synth.stack.api.httpApi), 'ApiEndpoint'] });
    expect(synth.template.toJSON().Outputs.ApiDomainTarget).toBeUndefined();
  });
});

describe('ChainFaasStack configuration', () => {
  test('context-driven settings reach the resources', () => {
    const { template, stack } = synthControllerStack({
      stage: 'prod',
      lambdaRuntime: 'nodejs24.x',
      apiRateLimit: 7,
      apiBurstLimit: 9,
      priceVcpuMs: 12,
      resultRetentionDays: 3,
      ledgerWriterConcurrency: 0,
      retainData: false,
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Environment: { Variables: Match.objectLike({ PRICE_VCPU_MS: '12' }) } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 } });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'chainfaas-prod-pq-dlq' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: 'results/', ExpirationInDays: 3 })]) },
    });
    expect(
      template.toJSON().Resources[stack.getLogicalId(stack.functions.ledgerWriter.node.defaultChild as CfnResource)].Properties.ReservedConcurrentExecutions,
    ).toBeUndefined();
    template.resourceCountIs('Custom::ReservedConcurrency', 0);
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});
