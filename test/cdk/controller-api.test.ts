import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HANDLERS, ROUTES, type HandlerName } from '../../lambdas/handlers/manifest';
import { ControllerApi } from '../../lib/constructs/controller-api';
import { PlatformFunction } from '../../lib/constructs/platform-function';
import { testStack } from './helpers';

const ENTRY = 'test/cdk/fixtures/echo-handler.ts';

describe('ControllerApi', () => {
  let stack: Stack;
  let template: Template;
  beforeAll(() => {
    stack = testStack();
    const handlers = Object.fromEntries(
      (Object.keys(HANDLERS) as HandlerName[]).map((name) => [name, new PlatformFunction(stack, `${name}Fn`, { entry: ENTRY })]),
    ) as Record<HandlerName, PlatformFunction>;
    new ControllerApi(stack, 'Api', { handlers, rateLimit: 20, burstLimit: 40, corsAllowedOrigins: ['https://portal.example'] });
    template = Template.fromStack(stack);
  });

  test('one route per manifest entry, and no others', () => {
    const keys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties.RouteKey);
    expect(keys.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  test('one Lambda proxy integration (payload 2.0) per handler that has routes', () => {
    const used = new Set(ROUTES.map((r) => r.handler));
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', used.size);
    template.allResourcesProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });
  });

  test('each route may invoke only its own handler (permission scoped to the route)', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    expect(permissions).toHaveLength(ROUTES.length);
    for (const p of permissions) expect(p.Properties.Principal).toBe('apigateway.amazonaws.com');
  });

  test('the $default stage auto-deploys, throttles and writes JSON access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('CORS allows the portal origin with the headers the handlers read', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://portal.example'], AllowHeaders: ['authorization', 'content-type'] }),
    });
  });

  test('a route whose handler is missing is a synth error', () => {
    const s = testStack();
    expect(() => new ControllerApi(s, 'Api', { handlers: {} })).toThrow(/was not given/);
  });
});
