import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, Tags, Token, type StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ENV, HANDLERS, type HandlerName } from '../lambdas/handlers/manifest';
import { DEFAULT_CONFIG, METRICS_NAMESPACE, controllerEnvironment, observabilityEnvironment, serviceName, type ChainFaasConfig } from './config';
import { ControllerApi } from './constructs/controller-api';
import { DataTables } from './constructs/data-tables';
import { grantDeveloperBucketRoles } from './constructs/developer-bucket-roles';
import { HandlerSchedule } from './constructs/handler-schedule';
import { ExternalFabricNetwork, FabricNetwork, pinnedImage, type IFabricNetwork } from './constructs/fabric-network';
import { OperationalAlarms } from './constructs/operational-alarms';
import { OperatorClaim } from './constructs/operator-claim';
import { OutboxConsumer } from './constructs/outbox-consumer';
import { PortalSite } from './constructs/portal-site';
import { PlatformFunction } from './constructs/platform-function';
import { ProviderQueues } from './constructs/provider-queues';
import { ReservedConcurrency } from './constructs/reserved-concurrency';
import { ResultBucket } from './constructs/result-bucket';
import { SigningKey } from './constructs/signing-key';
import { projectRoot } from './project-root';

export interface ChainFaasStackProps extends StackProps {
  /**
   * Deployment configuration (bin/ reads it from CDK context with `configFromContext`).
   * @default DEFAULT_CONFIG
   */
  readonly config?: Partial<ChainFaasConfig>;
}

interface Sizing {
  timeout: Duration;
  memorySize: number;
  description: string;
}

/**
 * Timeout and memory per handler; the rest of each function's settings come from PlatformFunction.
 * A handler added to the manifest without an entry here gets `defaultSizing` (behind the API, so
 * under its 30 s limit) until someone sizes it.
 */
export const SIZING: Partial<Record<HandlerName, Sizing>> = {
  // scrypt password hashing is CPU-bound, and Lambda CPU scales with memory.
  accounts: { timeout: Duration.seconds(10), memorySize: 1024, description: 'Accounts: sign-up, log-in, profile, controller public key' },
  functions: { timeout: Duration.seconds(10), memorySize: 512, description: 'Function registry' },
  invocations: { timeout: Duration.seconds(25), memorySize: 1024, description: 'Invocations: hold, schedule, sign and send job envelopes' },
  jobs: { timeout: Duration.seconds(20), memorySize: 512, description: 'Job status, results and ledger records' },
  providers: { timeout: Duration.seconds(20), memorySize: 512, description: 'Provider registration, heartbeats and run-time reports' },
  ledgerWriter: {
    timeout: Duration.minutes(2),
    memorySize: 1024,
    description: 'Ledger writer: commits outbox events to Fabric in batches, then follows balance movements',
  },
  ledger: { timeout: Duration.seconds(20), memorySize: 512, description: 'Account balance and history, reconciliation with the ledger' },
  billing: { timeout: Duration.seconds(20), memorySize: 512, description: 'Billing: top-ups, monthly bills, price lists, provider earnings' },
  reaper: {
    timeout: Duration.seconds(25),
    memorySize: 512,
    description: 'Reaper: re-queues jobs of silent providers, fails jobs out of attempts or past their wait',
  },
  operator: { timeout: Duration.seconds(25), memorySize: 512, description: "Operator routes: list and redrive the provider queues' dead letters" },
  peers: { timeout: Duration.seconds(20), memorySize: 512, description: "Peer operators: enrol peers with the organisation's CAs, their status from Fabric discovery" },
};

const defaultSizing = (name: string): Sizing => ({ timeout: Duration.seconds(20), memorySize: 512, description: `ChainFaaS ${name} handler` });

const RUNTIMES: Record<ChainFaasConfig['lambdaRuntime'], lambda.Runtime> = {
  'nodejs22.x': lambda.Runtime.NODEJS_22_X,
  'nodejs24.x': lambda.Runtime.NODEJS_24_X,
};

/** What the Fabric node gets of the repository: the root package files and chaincode/, without build output. */
const FABRIC_ASSET_EXCLUDE = ['/*', '!/package.json', '!/package-lock.json', '!/chaincode/', 'node_modules/', 'dist/'];

function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!allowed.includes(days)) throw new Error(`logRetentionDays ${days} is not a CloudWatch Logs retention (${allowed.join(', ')})`);
  return days as logs.RetentionDays;
}

/**
 * The ChainFaaS controller: HTTP API, one Lambda per manifest handler, the DynamoDB tables, the
 * result bucket, the provider queues and their role, the signing key, the ledger writer on the
 * outbox stream and the operational alarms; optionally the Fabric network (`fabric=ec2` or
 * `external`) and the portal (`portal=true`). It only wires constructs; what each Lambda may
 * touch comes from lambdas/handlers/manifest.ts through the constructs' binders.
 */
export class ChainFaasStack extends Stack {
  readonly config: ChainFaasConfig;
  readonly tables: DataTables;
  readonly results: ResultBucket;
  readonly providerQueues: ProviderQueues;
  readonly signingKey: SigningKey;
  /** The one-time operator claim token (POST /operator/claim). */
  readonly operatorClaim: OperatorClaim;
  readonly functions: Readonly<Record<HandlerName, PlatformFunction>>;
  readonly api: ControllerApi;
  readonly outbox: OutboxConsumer;
  readonly alarms: OperationalAlarms;
  /** The ledger writer's reserved concurrency, unless `ledgerWriterConcurrency` is 0. */
  readonly writerConcurrency?: ReservedConcurrency;
  /** The web portal, when `portal` is on. */
  readonly portal?: PortalSite;
  /** The ledger's network, unless `fabric` is `none`. */
  readonly fabric?: IFabricNetwork;

  constructor(scope: Construct, id: string, props: ChainFaasStackProps = {}) {
    const { config: overrides, ...stackProps } = props;
    super(scope, id, { description: 'ChainFaaS controller: an open FaaS platform on volunteer computers', ...stackProps });
    const config: ChainFaasConfig = { ...DEFAULT_CONFIG, ...overrides };
    this.config = config;
    const dataRemoval = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = retentionDays(config.logRetentionDays);

    this.tables = new DataTables(this, 'Tables', { removalPolicy: dataRemoval, keepRetiredIndexes: config.keepRetiredIndexes });
    this.results = new ResultBucket(this, 'Results', {
      expireAfterDays: config.resultRetentionDays,
      corsAllowedOrigins: config.corsAllowedOrigins,
      removalPolicy: dataRemoval,
    });
    // Every resource carries the stage's tag; the provider queues, made at run time, get it from the providers Lambda.
    const tags = { 'chainfaas:stage': config.stage };
    for (const [key, value] of Object.entries(tags)) Tags.of(this).add(key, value);
    this.providerQueues = new ProviderQueues(this, 'ProviderQueues', { prefix: `chainfaas-${config.stage}-pq-`, removalPolicy: dataRemoval, tags });
    this.signingKey = new SigningKey(this, 'SigningKey', {
      existingSecretArn: config.signingKeySecretArn,
      publicKeyPem: config.controllerPublicKey,
      removalPolicy: dataRemoval,
      logRetention,
    });

    this.operatorClaim = new OperatorClaim(this, 'OperatorClaim');

    this.fabric = this.createFabric(config, dataRemoval === RemovalPolicy.RETAIN);

    // Issue #21: the Stripe keys, read only by the Lambdas the manifest marks `payments`.
    const stripeArn = config.stripeSecretArn;
    const stripeSecret = !stripeArn
      ? undefined
      : /-[A-Za-z0-9]{6}$/.test(stripeArn)
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'StripeSecret', stripeArn)
        : secretsmanager.Secret.fromSecretPartialArn(this, 'StripeSecret', stripeArn);
    const shared = { ...controllerEnvironment(config), ...observabilityEnvironment(config) };
    const functions = {} as Record<HandlerName, PlatformFunction>;
    for (const name of Object.keys(HANDLERS) as HandlerName[]) {
      const spec = HANDLERS[name];
      const fn = new PlatformFunction(this, `${name.charAt(0).toUpperCase()}${name.slice(1)}Function`, {
        entry: spec.entry,
        ...(SIZING[name] ?? defaultSizing(name)),
        runtime: RUNTIMES[config.lambdaRuntime],
        logRetention,
        environment: { ...shared, ...(spec.ledger ? { [ENV.ledgerMode]: 'fabric' } : {}) },
        ...(spec.ledger ? this.fabric?.placement : undefined),
      });
      this.tables.bindTables(fn, spec.tables);
      if (spec.bucket) this.results.bind(fn, spec.bucket);
      if (spec.queues === 'send' || spec.queues === 'send+manage' || spec.queues === 'send+sweep') this.providerQueues.bindSender(fn);
      if (spec.queues === 'manage' || spec.queues === 'send+manage') this.providerQueues.bindManager(fn);
      if (spec.queues === 'send+sweep') this.providerQueues.bindSweeper(fn);
      if (spec.syncWait) this.providerQueues.bindWakeListener(fn);
      if (spec.deadLetters) this.providerQueues.bindDeadLetterReader(fn);
      if (spec.developerBuckets) grantDeveloperBucketRoles(fn);
      if (spec.schedule) new HandlerSchedule(this, `${name.charAt(0).toUpperCase()}${name.slice(1)}Schedule`, { handler: fn, expression: spec.schedule });
      if (spec.signingKey) this.signingKey.bindPrivateKey(fn);
      else this.signingKey.bindPublicKey(fn);
      if (spec.ledger) this.fabric?.bindClient(fn);
      if (spec.peerEnrolment) this.fabric?.bindEnrolment?.(fn);
      if (spec.operatorClaim) this.operatorClaim.bind(fn);
      if (spec.payments && stripeSecret) {
        stripeSecret.grantRead(fn);
        fn.addEnvironment(ENV.paymentProvider, 'stripe');
        fn.addEnvironment(ENV.payments.stripeSecretArn, stripeSecret.secretArn);
        if (config.paymentsPortalUrl) fn.addEnvironment(ENV.payments.portalUrl, config.paymentsPortalUrl);
      }
      functions[name] = fn;
    }
    this.functions = functions;
    functions.ledgerWriter.addEnvironment(ENV.ledgerWriterLanes, String(config.ledgerWriterLanes));
    // Reserved at deploy time only where the account can afford it (a new account's quota of 10 cannot).
    if (config.ledgerWriterConcurrency > 0)
      this.writerConcurrency = new ReservedConcurrency(this, 'LedgerWriterConcurrency', {
        target: functions.ledgerWriter,
        wanted: config.ledgerWriterConcurrency,
        logRetention,
      });

    this.api = new ControllerApi(this, 'Api', {
      handlers: functions,
      rateLimit: config.apiRateLimit,
      burstLimit: config.apiBurstLimit,
      corsAllowedOrigins: config.corsAllowedOrigins,
      accessLogRetention: logRetention,
      domain:
        config.apiDomainName && config.apiCertificateArn
          ? { name: config.apiDomainName, certificate: acm.Certificate.fromCertificateArn(this, 'ApiCertificate', config.apiCertificateArn) }
          : undefined,
    });
    this.outbox = new OutboxConsumer(this, 'LedgerOutbox', {
      table: this.tables.table('outbox'),
      consumer: functions.ledgerWriter,
      removalPolicy: dataRemoval,
    });

    this.alarms = new OperationalAlarms(this, 'Alarms', {
      functions: functions,
      deadLetterQueues: { ProviderQueues: this.providerQueues.deadLetterQueue, LedgerOutbox: this.outbox.failureQueue },
      streamConsumer: functions.ledgerWriter,
      settlementLag: { namespace: METRICS_NAMESPACE, service: serviceName(config), max: Duration.seconds(config.maxSettlementLagS) },
      apiStage: this.api.stage,
      instances: this.fabric instanceof FabricNetwork ? { FabricNode: this.fabric.instance.instanceId } : undefined,
      diskUsage: this.fabric instanceof FabricNetwork ? { FabricData: this.fabric.metricDataDiskUsed() } : undefined,
      email: config.alarmEmail,
    });

    this.providerQueues.alarmOnAge(this.alarms.topic, Duration.seconds(config.maxQueueAgeS));

    if (config.portal) {
      const sourcePath = join(projectRoot(), config.portalDir);
      if (!existsSync(join(sourcePath, 'index.html')))
        throw new Error(`portal=true serves ${config.portalDir}/, which has no index.html (build the portal first, or set -c portalDir=...)`);
      const domain =
        config.portalDomainName && config.portalCertificateArn
          ? { name: config.portalDomainName, certificate: acm.Certificate.fromCertificateArn(this, 'PortalCertificate', config.portalCertificateArn) }
          : undefined;
      this.portal = new PortalSite(this, 'Portal', { sourcePath, apiUrl: this.api.url, domain });
      new CfnOutput(this, 'PortalUrl', { value: `https://${domain?.name ?? this.portal.distribution.distributionDomainName}` });
      if (domain)
        new CfnOutput(this, 'PortalDomainTarget', {
          value: this.portal.distribution.distributionDomainName,
          description: `DNS: ${domain.name} CNAME (or alias) to this`,
        });
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the controller API' });
    if (this.api.domainTarget)
      new CfnOutput(this, 'ApiDomainTarget', { value: this.api.domainTarget, description: `DNS: ${config.apiDomainName} CNAME to this` });
    new CfnOutput(this, 'ResultsBucketName', { value: this.results.bucket.bucketName });
    new CfnOutput(this, 'SigningKeySecretArn', { value: this.signingKey.secret.secretArn, description: "The controller's Ed25519 signing key (generated there on the first deploy)" });
    new CfnOutput(this, 'OperatorClaimSecretArn', {
      value: this.operatorClaim.secret.secretArn,
      description: 'The one-time operator claim token: get-secret-value, then POST /operator/claim {"claimToken": ...} signed in',
    });
    new CfnOutput(this, 'ProviderQueuePrefix', { value: this.providerQueues.prefix });
    new CfnOutput(this, 'ProviderDeadLetterQueueUrl', { value: this.providerQueues.deadLetterQueue.queueUrl });
    if (this.fabric instanceof FabricNetwork) {
      new CfnOutput(this, 'FabricNodeInstanceId', { value: this.fabric.instance.instanceId, description: 'aws ssm start-session --target <this>' });
      new CfnOutput(this, 'FabricIdentitySecretArn', { value: this.fabric.identity.secretArn });
      new CfnOutput(this, 'FabricCaSecretArn', { value: this.fabric.caSecret.secretArn, description: "The organisation's CAs (peer enrolment), written by the node" });
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'Subscribe on-call here (or deploy with -c alarmEmail=...)' });
  }

  /**
   * The Fabric node's image, never resolved anew at each deploy: the stage's `fabricImageId`, or
   * the latest Amazon Linux 2023 looked up once for the stack's account and region and cached in
   * cdk.context.json.
   */
  private fabricImage(config: ChainFaasConfig, instanceType: ec2.InstanceType): ec2.IMachineImage {
    if (config.fabricImageId) return pinnedImage(config.fabricImageId);
    if (Token.isUnresolved(this.account) || Token.isUnresolved(this.region)) {
      throw new Error(
        'fabric=ec2 needs the node\'s image pinned: set fabricImageId in the stage file (aws ssm get-parameter --name ' +
          '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64 --query Parameter.Value), ' +
          'or account and region there so the image is looked up once and cached in cdk.context.json',
      );
    }
    const cpuType = instanceType.architecture === ec2.InstanceArchitecture.ARM_64 ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64;
    return ec2.MachineImage.latestAmazonLinux2023({ cpuType, cachedInContext: true });
  }

  private createFabric(config: ChainFaasConfig, retain: boolean): IFabricNetwork | undefined {
    switch (config.fabric) {
      case 'ec2': {
        const assetPath = projectRoot();
        const script = config.fabricStartCommand.split(/\s+/).find((word) => word.includes('/'));
        if (script && !existsSync(join(assetPath, script))) {
          throw new Error(`fabric=ec2 runs "${config.fabricStartCommand}", but ${script} does not exist in the repository (set -c fabricStartCommand=...)`);
        }
        // The ledger Lambdas run in isolated subnets: every AWS API they call needs an endpoint there.
        const ledgerHandlers = Object.values(HANDLERS).filter((spec) => spec.ledger);
        const clientServices = [
          ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, // the Fabric client identity
          ec2.InterfaceVpcEndpointAwsService.XRAY, // active tracing
          // developers' result-bucket roles (AssumeRole), e.g. GET /jobs/{id} presigning into a developer's bucket
          ...(ledgerHandlers.some((spec) => spec.developerBuckets) ? [ec2.InterfaceVpcEndpointAwsService.STS] : []),
        ];
        if (ledgerHandlers.some((spec) => spec.queues || spec.deadLetters)) {
          throw new Error('a ledger Lambda (manifest ledger: true) uses SQS, which the isolated subnets cannot reach: add an SQS endpoint to clientServices');
        }
        const binDir = config.fabricBinDir?.replace(/^~(?=$|\/)/, homedir());
        const instanceType = new ec2.InstanceType(config.fabricInstanceType);
        return new FabricNetwork(this, 'Fabric', {
          assetPath,
          assetExclude: FABRIC_ASSET_EXCLUDE,
          startCommand: config.fabricStartCommand,
          binariesPath: binDir === undefined ? undefined : isAbsolute(binDir) ? binDir : join(assetPath, binDir),
          clientServices,
          instanceType,
          machineImage: this.fabricImage(config, instanceType),
          dataVolumeSize: config.fabricVolumeGiB,
          snapshotsKept: config.fabricSnapshotsKept,
          orderers: config.fabricOrderers,
          externalPeerCidrs: config.fabricExternalCidrs,
          flowLogRetention: retentionDays(config.logRetentionDays),
          retain,
        });
      }
      case 'external':
        return new ExternalFabricNetwork(this, 'Fabric', { peerEndpoint: config.fabricPeerEndpoint!, identitySecretArn: config.fabricIdentitySecretArn! });
      case 'none':
        Annotations.of(this).addWarningV2(
          'chainfaas:noLedger',
          'fabric=none: the ledger writer and GET /jobs/{jobId}/ledger have no Fabric network to reach. Deploy with -c fabric=ec2 or -c fabric=external.',
        );
        return undefined;
    }
  }
}
