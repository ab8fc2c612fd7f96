import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES, type HandlerName, type RouteSpec } from '../../lambdas/handlers/manifest';

export interface ControllerApiProps {
  /** The Lambda behind each handler name that the routes use. */
  readonly handlers: Partial<Record<HandlerName, lambda.IFunction>>;
  /**
   * The routes.
   * @default the manifest's ROUTES
   */
  readonly routes?: readonly RouteSpec[];
  /**
   * Steady-state requests per second across the stage.
   * @default 50
   */
  readonly rateLimit?: number;
  /**
   * Burst size across the stage.
   * @default 100
   */
  readonly burstLimit?: number;
  /**
   * Origins allowed by CORS (the portal).
   * @default ['*']
   */
  readonly corsAllowedOrigins?: string[];
  /**
   * How long access logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * What happens to the access log group when the stack is deleted.
   * @default RemovalPolicy.DESTROY
   */
  readonly accessLogRemovalPolicy?: RemovalPolicy;
  /**
   * A custom domain for the API (regional endpoint, TLS 1.2), with an ACM certificate for it in
   * the stack's region. The DNS record is yours to create: a CNAME (or alias) from `name` to
   * `domainTarget`.
   * @default - only the execute-api URL
   */
  readonly domain?: { readonly name: string; readonly certificate: acm.ICertificate };
}

/**
 * The controller's HTTP API (API Gateway v2, payload format 2.0, the event shape the handlers
 * and local/ both speak): one route per manifest entry, one Lambda integration per handler,
 * a `$default` stage with throttling and JSON access logs.
 *
 * Authentication is done by the handlers (bearer tokens and invoke keys, checked against the
 * hashed tokens table), so routes carry no API Gateway authorizer; `auth: false` routes simply
 * skip that check in code.
 */
export class ControllerApi extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;
  /** The custom domain, when one was given. */
  readonly domainName?: apigw.DomainName;
  private readonly customDomain?: string;

  constructor(scope: Construct, id: string, props: ControllerApiProps) {
    super(scope, id);
    const routes = props.routes ?? ROUTES;
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'ChainFaaS controller API',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: props.corsAllowedOrigins ?? ['*'],
        allowMethods: [apigw.CorsHttpMethod.GET, apigw.CorsHttpMethod.POST, apigw.CorsHttpMethod.PUT, apigw.CorsHttpMethod.DELETE],
        allowHeaders: ['authorization', 'content-type'],
        maxAge: Duration.hours(1),
      },
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.accessLogRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit ?? 50, burstLimit: props.burstLimit ?? 100 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    });

    if (props.domain) {
      this.customDomain = props.domain.name;
      this.domainName = new apigw.DomainName(this, 'Domain', {
        domainName: props.domain.name,
        certificate: props.domain.certificate,
        securityPolicy: apigw.SecurityPolicy.TLS_1_2,
        endpointType: apigw.EndpointType.REGIONAL,
      });
      new apigw.ApiMapping(this, 'DomainMapping', { api: this.httpApi, domainName: this.domainName, stage: this.stage });
    }

    const integrations = new Map<HandlerName, HttpLambdaIntegration>();
    for (const route of routes) {
      const fn = props.handlers[route.handler];
      if (!fn) throw new Error(`route ${route.method} ${route.path} names handler ${route.handler}, which was not given to ControllerApi`);
      let integration = integrations.get(route.handler);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${route.handler}Integration`, fn);
        integrations.set(route.handler, integration);
      }
      for (const created of this.httpApi.addRoutes({ path: route.path, methods: [apigw.HttpMethod[route.method]], integration })) {
        Validations.of(created).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: route.auth
            ? `${route.method} ${route.path} is authenticated by its handler (bearer token or invoke key checked against the hashed tokens table), not by an API Gateway authorizer.`
            : `${route.method} ${route.path} is public by design (sign-up, log-in or the controller's public key).`,
        });
      }
    }
  }

  /** The API's base URL: the custom domain's when there is one, else the execute-api one. */
  get url(): string {
    return this.customDomain ? `https://${this.customDomain}` : this.httpApi.apiEndpoint;
  }

  /** Where the custom domain's DNS record must point (its regional API Gateway name). */
  get domainTarget(): string | undefined {
    return this.domainName?.regionalDomainName;
  }
}
