import type { Construct } from 'constructs';
import { ENV, LEDGER_WRITER_LANES_DEFAULT } from '../lambdas/handlers/manifest';

/** Lambda runtimes the controller may run on (each function's bundle targets the one chosen). */
export type LambdaRuntimeName = 'nodejs22.x' | 'nodejs24.x';

/** Scheduler policies the controller implements (lambdas/core/scheduler.ts). */
export type SchedulerPolicyName = 'random-fit' | 'least-loaded' | 'warm-affinity';

/**
 * Deployment configuration of one ChainFaaS controller. Every field comes from the stage's settings
 * file `stages/<stage>.json` (lib/stage-settings.ts), which CDK context (`-c key=value`) may
 * override except for the ledger's keys, and has a documented default.
 */
export interface ChainFaasConfig {
  /**
   * Short lower-case name of the deployment; it names the stack and prefixes the provider queues.
   * Context key `stage`.
   * @default 'dev'
   */
  readonly stage: string;
  /**
   * Lambda runtime: Node.js 24 LTS, the Node the platform is developed and tested on; `nodejs22.x`
   * (supported until 2027-04-30) for accounts that must stay on it a while. Node.js 20 reached end
   * of life on 2026-04-30 and Lambda no longer creates `nodejs20.x` functions.
   * Context key `lambdaRuntime`.
   * @default 'nodejs24.x'
   */
  readonly lambdaRuntime: LambdaRuntimeName;
  /**
   * Days to keep Lambda, API access and ledger-writer logs. Context key `logRetentionDays`.
   * @default 30
   */
  readonly logRetentionDays: number;
  /**
   * Keep tables, the result bucket and the DLQ when the stack is deleted. Context key `retainData`.
   * @default true
   */
  readonly retainData: boolean;
  /**
   * Keep the DynamoDB indexes this release replaced, for the first of the two deploys that upgrade
   * a stack deployed before (CloudFormation adds or removes one index per table per update; README,
   * "Upgrading"). Context key `keepRetiredIndexes`.
   * @default false
   */
  readonly keepRetiredIndexes: boolean;
  /**
   * Days before job results and logs (`results/`) and large inputs (`inputs/`) expire.
   * Context key `resultRetentionDays`.
   * @default 7
   */
  readonly resultRetentionDays: number;
  /**
   * Steady-state request rate of the HTTP API, requests per second. Context key `apiRateLimit`.
   * @default 50
   */
  readonly apiRateLimit: number;
  /**
   * Burst size of the HTTP API. Context key `apiBurstLimit`.
   * @default 100
   */
  readonly apiBurstLimit: number;
  /**
   * Origins allowed by CORS on the API and on presigned bucket URLs (the portal's origin).
   * Comma-separated in context. Context key `corsAllowedOrigins`.
   * @default ['*'] (the API authenticates with bearer tokens, never cookies)
   */
  readonly corsAllowedOrigins: string[];
  /**
   * ARN of an existing Secrets Manager secret holding the controller's Ed25519 PKCS#8 PEM key.
   * Context key `signingKeySecretArn`.
   * @default - a new secret holding a placeholder that the operator replaces (README, "Deploy")
   */
  readonly signingKeySecretArn?: string;
  /**
   * ARN of an existing Secrets Manager secret holding the Stripe keys as JSON
   * (`{ "secretKey": "sk_...", "webhookSecret": "whsec_..." }`). Set: the Lambdas the manifest
   * marks `payments` use Stripe (PAYMENT_PROVIDER=stripe) and may read it, and nothing else may.
   * Context key `stripeSecretArn`.
   * @default - unset: no payment provider (no top-ups, no payouts)
   */
  readonly stripeSecretArn?: string;
  /**
   * The portal's URL (e.g. `https://chainfaas.example/`): Stripe's checkout and onboarding pages
   * send users back under it, and return URLs elsewhere are refused. Context key `paymentsPortalUrl`.
   * @default - unset: back to `http://localhost:3000/` unless the request names a return URL
   */
  readonly paymentsPortalUrl?: string;
  /**
   * The controller's public key (SPKI PEM; literal `\n` sequences are turned into newlines),
   * served by `GET /controller/public-key` without reading the private key.
   * Context key `controllerPublicKey`.
   * @default - unset: that route fails until it is configured (synth prints a warning)
   */
  readonly controllerPublicKey?: string;
  /**
   * Version of the price list below, recorded on every job. Context key `priceVersion`.
   * @default 1
   */
  readonly priceVersion: number;
  /**
   * Price of one vCPU-millisecond, in micro-credits. Context key `priceVcpuMs`.
   * @default 10
   */
  readonly priceVcpuMs: number;
  /**
   * Price of one MB-millisecond of memory, in micro-credits. Context key `priceMbMs`.
   * @default 1
   */
  readonly priceMbMs: number;
  /**
   * Credit given to a new account, in micro-credits. Context key `signupCredit`.
   * @default 0
   */
  readonly signupCredit: number;
  /**
   * Scheduler policy. Context key `schedulerPolicy`.
   * @default 'random-fit'
   */
  readonly schedulerPolicy: SchedulerPolicyName;
  /**
   * Seconds between provider heartbeats. Context key `heartbeatIntervalS`.
   * @default 10
   */
  readonly heartbeatIntervalS: number;
  /**
   * A provider whose last heartbeat is older than this (ms) gets no jobs. Context key `heartbeatStaleMs`.
   * @default 45000
   */
  readonly heartbeatStaleMs: number;
  /**
   * Lifetime of presigned result URLs, seconds. Context key `presignTtlS`.
   * @default 3600
   */
  readonly presignTtlS: number;
  /**
   * Lifetime of API tokens, seconds. Context key `tokenTtlS`.
   * @default 2592000 (30 days)
   */
  readonly tokenTtlS: number;
  /**
   * Reserved concurrency of the ledger writer. 1 makes it the single serialised writer the design
   * asks for (no MVCC conflicts between writers); 0 leaves it unreserved. Reserved at deploy time
   * only when the account keeps its 10 unreserved executions besides (a new account's quota of 10
   * cannot): the deploy never fails for it, and the output `LedgerWriterConcurrencyReserved` says
   * what was reserved. Context key `ledgerWriterConcurrency`.
   * @default 1
   */
  readonly ledgerWriterConcurrency: number;
  /**
   * Transactions the ledger writer keeps in flight, one per lane of the outbox (a developer's
   * events stay in order in theirs; lambdas/core/use-cases/outbox.ts#plan never puts two in
   * flight that Fabric could invalidate). 1 commits one transaction at a time. Measured on the
   * local Fabric network (bench/README.md, #17): 1 lane 197 settled jobs/s, 8 lanes 458 through the
   * outbox on DynamoDB Local and 510 with the writer and Fabric alone (the rate offered). The
   * orderers' `MaxMessageCount` should match it. Context key `ledgerWriterLanes`.
   * @default 8 (LEDGER_WRITER_LANES_DEFAULT)
   */
  readonly ledgerWriterLanes: number;
  /**
   * Where the ledger lives. `ec2`: a Fabric node built by this stack (FabricNetwork), with the
   * ledger Lambdas in its VPC. `external`: an existing network (fabricPeerEndpoint and
   * fabricIdentitySecretArn). `none`: no ledger yet; the ledger routes and the ledger writer fail
   * until one is configured (synth warns). Context key `fabric`.
   * @default 'none'
   */
  readonly fabric: 'none' | 'ec2' | 'external';
  /**
   * EC2 instance type of the Fabric node. Context key `fabricInstanceType`.
   * @default 't4g.medium'
   */
  readonly fabricInstanceType: string;
  /**
   * The Fabric node's machine image, pinned (an Amazon Linux 2023 AMI id of the stack's region and
   * the instance's architecture). Changing it replaces the node, so the stage file's value can only
   * be overridden with `allowLedgerReplacement`. Context key `fabricImageId`.
   * @default - with `account` and `region` in the stage file, the latest Amazon Linux 2023 image
   *   looked up once and cached in cdk.context.json (commit that file); otherwise required
   */
  readonly fabricImageId?: string;
  /**
   * The Fabric node's data volume (the ledger), GiB; it outlives the instance. Context key `fabricVolumeGiB`.
   * @default 20
   */
  readonly fabricVolumeGiB: number;
  /**
   * Daily snapshots of the data volume kept (Data Lifecycle Manager); 0: none. Context key `fabricSnapshotsKept`.
   * @default 14
   */
  readonly fabricSnapshotsKept: number;
  /**
   * Raft orderers of the EC2 network: 1 (on the node), or 3 in three AZs (the node's and two
   * orderer hosts), all consenters of the channel. Fixed when the network is first deployed.
   * Context key `fabricOrderers`.
   * @default 1
   */
  readonly fabricOrderers: 1 | 3;
  /**
   * CIDRs of outside peer operators allowed to reach the node's peer and orderer (comma-separated).
   * Context key `fabricExternalCidrs`.
   * @default []
   */
  readonly fabricExternalCidrs: string[];
  /**
   * Command the Fabric node runs on first boot, from a copy of the repository's package files and
   * chaincode/ (the contract it must honour is documented on FabricNetworkProps.startCommand).
   * Context key `fabricStartCommand`.
   * @default 'bash chaincode/network/aws-node.sh'
   */
  readonly fabricStartCommand: string;
  /**
   * Directory of prebuilt Fabric binaries for the node's architecture (what
   * chaincode/network/fabric-bin.sh prints; `GOARCH=arm64` for the default Graviton node), shipped
   * as an asset instead of building Fabric on the node. Relative to the repository; `~` allowed.
   * Context key `fabricBinDir`.
   * @default - the node builds them on first boot from the Go module proxy (a few minutes)
   */
  readonly fabricBinDir?: string;
  /**
   * `fabric=external`: `host:port` of the peer gateway. Context key `fabricPeerEndpoint`.
   * @default - none
   */
  readonly fabricPeerEndpoint?: string;
  /**
   * `fabric=external`: ARN of the secret holding the client identity JSON.
   * Context key `fabricIdentitySecretArn`.
   * @default - none
   */
  readonly fabricIdentitySecretArn?: string;
  /**
   * Custom domain of the API, e.g. `api.chainfaas.example`. Needs `apiCertificateArn`. You create
   * the DNS record (CNAME to the `ApiDomainTarget` output). Context key `apiDomainName`.
   * @default - the execute-api URL only
   */
  readonly apiDomainName?: string;
  /**
   * ARN of an ACM certificate for `apiDomainName`, in the stack's region. Context key `apiCertificateArn`.
   * @default - none
   */
  readonly apiCertificateArn?: string;
  /**
   * Custom domain of the portal, e.g. `chainfaas.example`. Needs `portalCertificateArn`. You
   * create the DNS record (CNAME or alias to the `PortalDomainTarget` output). Context key `portalDomainName`.
   * @default - the distribution's *.cloudfront.net name
   */
  readonly portalDomainName?: string;
  /**
   * ARN of an ACM certificate for `portalDomainName`, in us-east-1 (CloudFront's requirement).
   * Context key `portalCertificateArn`.
   * @default - none
   */
  readonly portalCertificateArn?: string;
  /**
   * Serve the web portal from S3 through CloudFront. Context key `portal`.
   * @default false
   */
  readonly portal: boolean;
  /**
   * Directory of the portal's built static files (index.html at its root), relative to the
   * repository. Context key `portalDir`.
   * @default 'portal/dist'
   */
  readonly portalDir: string;
  /**
   * E-mail address subscribed to the operational alarms. Context key `alarmEmail`.
   * @default - alarms go to an SNS topic with no subscription
   */
  readonly alarmEmail?: string;
  /**
   * User ids of the platform operator's accounts, allowed on the `/operator` routes (the dead-letter
   * queue). Register the account first, then deploy with its id (comma-separated).
   * Context key `operatorUserIds`.
   * @default - none: the operator routes answer 403 to everyone
   */
  readonly operatorUserIds?: string[];
  /**
   * Seconds a running job's lease lasts; each heartbeat listing the job renews it, so keep it
   * well above `heartbeatIntervalS`. Context key `leaseS`.
   * @default 30
   */
  readonly leaseS: number;
  /**
   * Placements a job gets before it is FAILED (its first and its re-queues). Context key `maxAttempts`.
   * @default 3
   */
  readonly maxAttempts: number;
  /**
   * Seconds a job may wait for capacity before it is FAILED (0: no limit). Context key `maxWaitS`.
   * @default 300
   */
  readonly maxWaitS: number;
  /**
   * Jobs one developer may have waiting for capacity (then 429). Context key `maxWaitingPerDeveloper`.
   * @default 100
   */
  readonly maxWaitingPerDeveloper: number;
  /**
   * Jobs that may wait for capacity in all (then 503). Context key `maxWaitingTotal`.
   * @default 1000
   */
  readonly maxWaitingTotal: number;
  /**
   * `Retry-After` (seconds) of the 429 and 503 answers above. Context key `retryAfterS`.
   * @default 10
   */
  readonly retryAfterS: number;
  /**
   * Lifetime of the queue credentials providers get from STS, seconds (900-3600; role chaining
   * caps it at one hour). Context key `providerCredentialsTtlS`.
   * @default 3600
   */
  readonly providerCredentialsTtlS: number;
  /**
   * The handlers' log level (Powertools Logger, `POWERTOOLS_LOG_LEVEL`). Context key `logLevel`.
   * @default 'INFO'
   */
  readonly logLevel: LogLevelName;
  /**
   * Settlement lag that raises an alarm: from the controller accepting a job's report to the read
   * model recording the job paid (metric `SettlementLag`). Context key `maxSettlementLagS`.
   * @default 600
   */
  readonly maxSettlementLagS: number;
  /**
   * Age of the oldest job envelope in a provider's queue that raises that queue's alarm (each
   * provider queue gets one at run time). Context key `maxQueueAgeS`.
   * @default 900
   */
  readonly maxQueueAgeS: number;
}

export type LogLevelName = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const LOG_LEVELS: readonly LogLevelName[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];

/** The CloudWatch namespace of the controller's metrics (every stage; the `service` dimension tells stages apart). */
export const METRICS_NAMESPACE = 'ChainFaaS';

/** The `service` of a stage's logs and metrics (POWERTOOLS_SERVICE_NAME). */
export const serviceName = (config: Pick<ChainFaasConfig, 'stage'>): string => `chainfaas-${config.stage}`;

export const DEFAULT_CONFIG: ChainFaasConfig = {
  stage: 'dev',
  lambdaRuntime: 'nodejs24.x',
  logRetentionDays: 30,
  retainData: true,
  keepRetiredIndexes: false,
  resultRetentionDays: 7,
  apiRateLimit: 50,
  apiBurstLimit: 100,
  corsAllowedOrigins: ['*'],
  priceVersion: 1,
  priceVcpuMs: 10,
  priceMbMs: 1,
  signupCredit: 0,
  schedulerPolicy: 'random-fit',
  heartbeatIntervalS: 10,
  heartbeatStaleMs: 45_000,
  presignTtlS: 3600,
  tokenTtlS: 30 * 24 * 3600,
  ledgerWriterConcurrency: 1,
  ledgerWriterLanes: LEDGER_WRITER_LANES_DEFAULT,
  fabric: 'none',
  fabricInstanceType: 't4g.medium',
  fabricVolumeGiB: 20,
  fabricSnapshotsKept: 14,
  fabricOrderers: 1,
  fabricExternalCidrs: [],
  fabricStartCommand: 'bash chaincode/network/aws-node.sh',
  portal: false,
  portalDir: 'portal/dist',
  leaseS: 30,
  maxAttempts: 3,
  maxWaitS: 300,
  maxWaitingPerDeveloper: 100,
  maxWaitingTotal: 1000,
  retryAfterS: 10,
  providerCredentialsTtlS: 3600,
  logLevel: 'INFO',
  maxSettlementLagS: 600,
  maxQueueAgeS: 900,
};

const RUNTIMES: readonly LambdaRuntimeName[] = ['nodejs22.x', 'nodejs24.x'];
const POLICIES: readonly SchedulerPolicyName[] = ['random-fit', 'least-loaded', 'warm-affinity'];

function invalid(key: string, value: unknown, expected: string): Error {
  return new Error(`CDK context ${key}=${JSON.stringify(value)} is invalid: expected ${expected}`);
}

function integer(key: string, raw: unknown, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined || raw === '') return fallback;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw invalid(key, raw, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`);
  return value;
}

function boolean(key: string, raw: unknown, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw invalid(key, raw, 'true or false');
}

function oneOf<T extends string>(key: string, raw: unknown, allowed: readonly T[], fallback: T): T {
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw === 'string' && (allowed as readonly string[]).includes(raw)) return raw as T;
  throw invalid(key, raw, `one of ${allowed.join(', ')}`);
}

function optionalString(key: string, raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw invalid(key, raw, 'a string');
  return raw;
}

function stringList(key: string, raw: unknown, fallback: string[]): string[] {
  if (raw === undefined || raw === '') return fallback;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (!list || !list.every((v) => typeof v === 'string' && v.trim() !== '')) throw invalid(key, raw, 'a comma-separated list or an array of strings');
  return list.map((v: string) => v.trim());
}

/**
 * Reads the configuration from CDK context over `settings` (a stage file, lib/stage-settings.ts),
 * validating every value: a typo fails the synth with the key's name instead of deploying a broken
 * controller.
 */
export function configFromContext(scope: Construct, settings: Readonly<Record<string, unknown>> = {}): ChainFaasConfig {
  const ctx = (key: string): unknown => scope.node.tryGetContext(key) ?? settings[key];
  const d = DEFAULT_CONFIG;
  const stage = optionalString('stage', ctx('stage')) ?? d.stage;
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(stage)) throw invalid('stage', stage, 'lower-case letters, digits and dashes, at most 16, starting with a letter');
  const apiRateLimit = integer('apiRateLimit', ctx('apiRateLimit'), d.apiRateLimit, 1);
  const apiBurstLimit = integer('apiBurstLimit', ctx('apiBurstLimit'), d.apiBurstLimit, 1);
  const publicKey = optionalString('controllerPublicKey', ctx('controllerPublicKey'))?.replace(/\\n/g, '\n');
  if (publicKey !== undefined && !publicKey.includes('-----BEGIN PUBLIC KEY-----')) throw invalid('controllerPublicKey', '(value)', 'an SPKI PEM public key');
  const secretArn = optionalString('signingKeySecretArn', ctx('signingKeySecretArn'));
  if (secretArn !== undefined && !/^arn:aws[a-z-]*:secretsmanager:/.test(secretArn))
    throw invalid('signingKeySecretArn', secretArn, 'a Secrets Manager secret ARN');
  const stripeSecretArn = optionalString('stripeSecretArn', ctx('stripeSecretArn'));
  if (stripeSecretArn !== undefined && !/^arn:aws[a-z-]*:secretsmanager:/.test(stripeSecretArn))
    throw invalid('stripeSecretArn', stripeSecretArn, 'a Secrets Manager secret ARN');
  const paymentsPortalUrl = optionalString('paymentsPortalUrl', ctx('paymentsPortalUrl'));
  if (paymentsPortalUrl !== undefined && !/^https:\/\/[^\s/]+\/$/.test(paymentsPortalUrl)) throw invalid('paymentsPortalUrl', paymentsPortalUrl, 'an https URL ending in /');
  return {
    stage,
    lambdaRuntime: oneOf('lambdaRuntime', ctx('lambdaRuntime'), RUNTIMES, d.lambdaRuntime),
    logRetentionDays: integer('logRetentionDays', ctx('logRetentionDays'), d.logRetentionDays, 1),
    retainData: boolean('retainData', ctx('retainData'), d.retainData),
    keepRetiredIndexes: boolean('keepRetiredIndexes', ctx('keepRetiredIndexes'), d.keepRetiredIndexes),
    resultRetentionDays: integer('resultRetentionDays', ctx('resultRetentionDays'), d.resultRetentionDays, 1),
    apiRateLimit,
    apiBurstLimit,
    corsAllowedOrigins: stringList('corsAllowedOrigins', ctx('corsAllowedOrigins'), d.corsAllowedOrigins),
    signingKeySecretArn: secretArn,
    stripeSecretArn,
    paymentsPortalUrl,
    controllerPublicKey: publicKey,
    priceVersion: integer('priceVersion', ctx('priceVersion'), d.priceVersion, 1),
    priceVcpuMs: integer('priceVcpuMs', ctx('priceVcpuMs'), d.priceVcpuMs),
    priceMbMs: integer('priceMbMs', ctx('priceMbMs'), d.priceMbMs),
    signupCredit: integer('signupCredit', ctx('signupCredit'), d.signupCredit),
    schedulerPolicy: oneOf('schedulerPolicy', ctx('schedulerPolicy'), POLICIES, d.schedulerPolicy),
    logLevel: oneOf('logLevel', ctx('logLevel'), LOG_LEVELS, d.logLevel),
    maxSettlementLagS: integer('maxSettlementLagS', ctx('maxSettlementLagS'), d.maxSettlementLagS, 1),
    maxQueueAgeS: integer('maxQueueAgeS', ctx('maxQueueAgeS'), d.maxQueueAgeS, 60),
    heartbeatIntervalS: integer('heartbeatIntervalS', ctx('heartbeatIntervalS'), d.heartbeatIntervalS, 1),
    heartbeatStaleMs: integer('heartbeatStaleMs', ctx('heartbeatStaleMs'), d.heartbeatStaleMs, 1),
    presignTtlS: integer('presignTtlS', ctx('presignTtlS'), d.presignTtlS, 1),
    tokenTtlS: integer('tokenTtlS', ctx('tokenTtlS'), d.tokenTtlS, 1),
    ledgerWriterConcurrency: integer('ledgerWriterConcurrency', ctx('ledgerWriterConcurrency'), d.ledgerWriterConcurrency),
    ledgerWriterLanes: integer('ledgerWriterLanes', ctx('ledgerWriterLanes'), d.ledgerWriterLanes, 1, 32),
    alarmEmail: optionalString('alarmEmail', ctx('alarmEmail')),
    ...domainsFromContext(ctx),
    portal: boolean('portal', ctx('portal'), d.portal),
    portalDir: optionalString('portalDir', ctx('portalDir')) ?? d.portalDir,
    ...fabricFromContext(ctx),
    ...schedulingFromContext(ctx),
  };
}

function domainsFromContext(
  ctx: (key: string) => unknown,
): Pick<ChainFaasConfig, 'apiDomainName' | 'apiCertificateArn' | 'portalDomainName' | 'portalCertificateArn'> {
  const out: Record<string, string | undefined> = {};
  for (const [domainKey, certKey, certRegion] of [
    ['apiDomainName', 'apiCertificateArn', undefined],
    ['portalDomainName', 'portalCertificateArn', 'us-east-1'],
  ] as const) {
    const domain = optionalString(domainKey, ctx(domainKey));
    const cert = optionalString(certKey, ctx(certKey));
    if ((domain === undefined) !== (cert === undefined)) throw invalid(domainKey, domain ?? '', `${domainKey} and ${certKey} together, or neither`);
    if (domain !== undefined && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domain))
      throw invalid(domainKey, domain, 'a lower-case DNS name');
    if (cert !== undefined) {
      const match = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[A-Za-z0-9-]+$/.exec(cert);
      if (!match) throw invalid(certKey, cert, 'an ACM certificate ARN');
      if (certRegion && match[1] !== certRegion) throw invalid(certKey, cert, `a certificate in ${certRegion} (CloudFront uses only those)`);
    }
    out[domainKey] = domain;
    out[certKey] = cert;
  }
  return out;
}

function schedulingFromContext(
  ctx: (key: string) => unknown,
): Pick<
  ChainFaasConfig,
  'operatorUserIds' | 'leaseS' | 'maxAttempts' | 'maxWaitS' | 'maxWaitingPerDeveloper' | 'maxWaitingTotal' | 'retryAfterS' | 'providerCredentialsTtlS'
> {
  const d = DEFAULT_CONFIG;
  const operators =
    ctx('operatorUserIds') === undefined || ctx('operatorUserIds') === '' ? undefined : stringList('operatorUserIds', ctx('operatorUserIds'), []);
  for (const id of operators ?? []) if (!/^usr_[A-Za-z0-9]{1,60}$/.test(id)) throw invalid('operatorUserIds', id, 'user ids like usr_...');
  return {
    operatorUserIds: operators,
    leaseS: integer('leaseS', ctx('leaseS'), d.leaseS, 5),
    maxAttempts: integer('maxAttempts', ctx('maxAttempts'), d.maxAttempts, 1),
    maxWaitS: integer('maxWaitS', ctx('maxWaitS'), d.maxWaitS, 0),
    maxWaitingPerDeveloper: integer('maxWaitingPerDeveloper', ctx('maxWaitingPerDeveloper'), d.maxWaitingPerDeveloper, 0),
    maxWaitingTotal: integer('maxWaitingTotal', ctx('maxWaitingTotal'), d.maxWaitingTotal, 0),
    retryAfterS: integer('retryAfterS', ctx('retryAfterS'), d.retryAfterS, 1),
    providerCredentialsTtlS: integer('providerCredentialsTtlS', ctx('providerCredentialsTtlS'), d.providerCredentialsTtlS, 900, 3600),
  };
}

function fabricFromContext(
  ctx: (key: string) => unknown,
): Pick<
  ChainFaasConfig,
  | 'fabric'
  | 'fabricInstanceType'
  | 'fabricVolumeGiB'
  | 'fabricImageId'
  | 'fabricSnapshotsKept'
  | 'fabricOrderers'
  | 'fabricExternalCidrs'
  | 'fabricStartCommand'
  | 'fabricBinDir'
  | 'fabricPeerEndpoint'
  | 'fabricIdentitySecretArn'
> {
  const d = DEFAULT_CONFIG;
  const fabric = oneOf('fabric', ctx('fabric'), ['none', 'ec2', 'external'] as const, d.fabric);
  const fabricPeerEndpoint = optionalString('fabricPeerEndpoint', ctx('fabricPeerEndpoint'));
  const fabricIdentitySecretArn = optionalString('fabricIdentitySecretArn', ctx('fabricIdentitySecretArn'));
  if (fabric === 'external' && (!fabricPeerEndpoint || !fabricIdentitySecretArn)) {
    throw invalid('fabric', fabric, 'fabricPeerEndpoint and fabricIdentitySecretArn to be set as well');
  }
  const fabricImageId = optionalString('fabricImageId', ctx('fabricImageId'));
  if (fabricImageId !== undefined && !/^ami-[0-9a-f]{8,17}$/.test(fabricImageId)) throw invalid('fabricImageId', fabricImageId, 'an AMI id (ami-...)');
  const fabricExternalCidrs = stringList('fabricExternalCidrs', ctx('fabricExternalCidrs'), d.fabricExternalCidrs);
  for (const cidr of fabricExternalCidrs)
    if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr) || cidr.endsWith('/0')) throw invalid('fabricExternalCidrs', cidr, 'IPv4 CIDRs, none of them /0');
  const fabricOrderers = integer('fabricOrderers', ctx('fabricOrderers'), d.fabricOrderers, 1, 3);
  if (fabricOrderers !== 1 && fabricOrderers !== 3) throw invalid('fabricOrderers', fabricOrderers, '1 or 3');
  return {
    fabric,
    fabricOrderers,
    fabricInstanceType: optionalString('fabricInstanceType', ctx('fabricInstanceType')) ?? d.fabricInstanceType,
    fabricVolumeGiB: integer('fabricVolumeGiB', ctx('fabricVolumeGiB'), d.fabricVolumeGiB, 1),
    fabricImageId,
    fabricSnapshotsKept: integer('fabricSnapshotsKept', ctx('fabricSnapshotsKept'), d.fabricSnapshotsKept, 0, 1000),
    fabricExternalCidrs,
    fabricStartCommand: optionalString('fabricStartCommand', ctx('fabricStartCommand')) ?? d.fabricStartCommand,
    fabricBinDir: optionalString('fabricBinDir', ctx('fabricBinDir')),
    fabricPeerEndpoint,
    fabricIdentitySecretArn,
  };
}

/**
 * Every controller setting the handlers read (the manifest's `ENV.settings`, read by
 * `configFromEnv()` in lambdas/adapters/deps.ts), as strings for the Lambdas' environment. Each one
 * is set, so the deployed functions show the values in force rather than relying on the handlers'
 * fallbacks; only `OPERATOR_USER_IDS` is left out while no operator is configured.
 */
export function controllerEnvironment(config: ChainFaasConfig): Record<string, string> {
  const S = ENV.settings;
  const settings: Record<keyof typeof S, string> = {
    schedulerPolicy: config.schedulerPolicy,
    heartbeatIntervalS: String(config.heartbeatIntervalS),
    heartbeatStaleMs: String(config.heartbeatStaleMs),
    priceVersion: String(config.priceVersion),
    priceVcpuMs: String(config.priceVcpuMs),
    priceMbMs: String(config.priceMbMs),
    presignTtlS: String(config.presignTtlS),
    tokenTtlS: String(config.tokenTtlS),
    signupCredit: String(config.signupCredit),
    leaseS: String(config.leaseS),
    maxAttempts: String(config.maxAttempts),
    maxWaitS: String(config.maxWaitS),
    maxWaitingPerDeveloper: String(config.maxWaitingPerDeveloper),
    maxWaitingTotal: String(config.maxWaitingTotal),
    retryAfterS: String(config.retryAfterS),
    providerCredentialsTtlS: String(config.providerCredentialsTtlS),
    // In AWS a developer-named result bucket always needs the developer's role (the controller's own
    // role has no access to it), and callbacks never go to loopback addresses.
    resultRoleRequired: 'true',
    callbackAllowLoopback: '0',
  };
  const env = Object.fromEntries((Object.keys(settings) as (keyof typeof S)[]).map((key) => [S[key], settings[key]]));
  if (config.operatorUserIds?.length) env[ENV.operatorUserIds] = config.operatorUserIds.join(',');
  return env;
}

/**
 * Powertools' settings for every handler (manifest `ENV.powertools`): the stage's service name (the
 * logs' `service`, the metrics' `service` dimension), the metrics namespace and the log level.
 * Metrics stay enabled: EMF lines go to the function's own log group, which it may already write.
 */
export function observabilityEnvironment(config: ChainFaasConfig): Record<string, string> {
  return {
    [ENV.powertools.serviceName]: serviceName(config),
    [ENV.powertools.metricsNamespace]: METRICS_NAMESPACE,
    [ENV.powertools.logLevel]: config.logLevel,
  };
}
