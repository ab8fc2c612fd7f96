import type { ControllerConfig, Deps } from '../core/use-cases/context';
import type { Ledger, LedgerEventSource } from '../core/ledger';
import { createLedger } from './ledger';
import type { PolicyName } from '../core/scheduler';
import { ENV } from '../handlers/manifest';
import { awsRegion, cloudwatch, requireEnv, sqsEndpoint } from './clients';
import { DynamoAccountStore } from './dynamo/accounts';
import { DynamoBalanceStore } from './dynamo/balances';
import { DynamoBillingStore } from './dynamo/billing';
import { TestPaymentProvider } from './payments/test-provider';
import { LazyStripePaymentProvider, parseStripeSecret } from './payments/stripe-provider';
import { readSecret } from './secrets';
import { readFile } from 'node:fs/promises';
import type { JobWaiter, PaymentProvider } from '../core/ports';
import { DynamoFunctionStore } from './dynamo/functions';
import { DynamoJobStore } from './dynamo/jobs';
import { DynamoJobStarts } from './dynamo/job-starts';
import { DynamoOutbox } from './dynamo/outbox';
import { DynamoProviderStore } from './dynamo/providers';
import { S3ResultStorage } from './s3-storage';
import { KeySigner } from './signer';
import { parseAgeAlarm, SqsProviderQueues } from './sqs-queues';
import { StsProviderCredentials } from './sts';
import { S3DeveloperBuckets } from './developer-buckets';
import { DynamoPeerStore } from './dynamo/peers';
import { peerEnrolmentFromEnv } from './fabric-enrolment';
import type { PeerDeps } from '../core/use-cases/peers';
import { telemetry } from './observability';
import { InProcessJobWaiter } from '../core/job-waiter';
import { SqsJobWaiter } from './sqs-wake';

const int = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
};

/** The names of the settings below: the manifest's list, which the CDK stack sets too. */
const S = ENV.settings;

/** The controller's configuration from the environment, with documented defaults (README, "Configuration"). */
export function configFromEnv(): ControllerConfig {
  const policy = (process.env[S.schedulerPolicy] ?? 'random-fit') as PolicyName;
  if (!['random-fit', 'least-loaded', 'warm-affinity', 'sampled'].includes(policy))
    throw new Error(`${S.schedulerPolicy} ${policy} is not one of random-fit, least-loaded, warm-affinity, sampled`);
  return {
    policy,
    heartbeatIntervalS: int(S.heartbeatIntervalS, 10),
    heartbeatStaleMs: int(S.heartbeatStaleMs, 45_000),
    billing: { version: int(S.priceVersion, 1), vcpuMs: int(S.priceVcpuMs, 10), mbMs: int(S.priceMbMs, 1) },
    presignTtlS: int(S.presignTtlS, 3600),
    tokenTtlS: int(S.tokenTtlS, 30 * 24 * 3600),
    sqsRegion: awsRegion,
    sqsEndpoint,
    signupCredit: int(S.signupCredit, 0),
    scheduling: {
      leaseS: int(S.leaseS, 30),
      maxAttempts: Math.max(1, int(S.maxAttempts, 3)),
      maxWaitS: int(S.maxWaitS, 300),
      maxWaitingPerDeveloper: int(S.maxWaitingPerDeveloper, 100),
      maxWaitingTotal: int(S.maxWaitingTotal, 1000),
      retryAfterS: Math.max(1, int(S.retryAfterS, 10)),
      // A developer-named bucket needs a role in AWS; local mode (an S3 endpoint override, no STS) presigns with its own client.
      resultRoleRequired: bool(S.resultRoleRequired, !process.env[ENV.aws.endpoints.s3]),
      providerCredentialsTtlS: Math.min(3600, Math.max(900, int(S.providerCredentialsTtlS, 3600))),
    },
    // Read on each use: in Lambda the environment never changes; local mode may name an operator account created after start-up.
    // Holds need the balances read model, which follows a ledger: on in Lambda and with LEDGER_MODE set.
    probationResults: int(ENV.probationResults, 0),
    probationQuota: int(ENV.probationQuota, 2),
    holds: onOff(ENV.balanceHolds, Boolean(process.env[ENV.aws.lambdaFunctionName] || process.env[ENV.ledgerMode])),
    get operatorUserIds(): readonly string[] {
      return (process.env[ENV.operatorUserIds] ?? '')
        .split(',')
        .map((id) => id.trim())
        .filter(Boolean);
    },
  };
}

const onOff = (name: string, fallback: boolean): boolean => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'on' && raw !== 'off') throw new Error(`${name} must be on or off, got ${raw}`);
  return raw === 'on';
};

const bool = (name: string, fallback: boolean): boolean => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') throw new Error(`${name} must be true or false, got ${raw}`);
  return raw === 'true';
};

const once = <T>(make: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= make());
};

let cached: Deps | undefined;

/**
 * The controller's ports over DynamoDB, SQS, S3 and the signing key, built once per process.
 * Each port is built on first use, so a Lambda needs only the environment (and the IAM grants)
 * of the ports it actually touches.
 */
export function depsFromEnv(): Deps {
  if (cached) return cached;
  const accounts = once(() => new DynamoAccountStore({ users: requireEnv(ENV.tables.users), tokens: requireEnv(ENV.tables.tokens) }));
  const functions = once(() => new DynamoFunctionStore(requireEnv(ENV.tables.functions)));
  const jobs = once(() => new DynamoJobStore(requireEnv(ENV.tables.jobs)));
  const providers = once(() => new DynamoProviderStore(requireEnv(ENV.tables.providers)));
  const outbox = once(() => new DynamoOutbox(requireEnv(ENV.tables.outbox)));
  const balances = once(() => new DynamoBalanceStore(requireEnv(ENV.tables.balances)));
  const billingStore = once(() => new DynamoBillingStore(requireEnv(ENV.tables.balances)));
  const starts = once(() => new DynamoJobStarts(jobs(), balances(), outbox()));
  const payments = paymentProviderFromEnv();
  const queues = once(() => {
    const ageAlarm = parseAgeAlarm(process.env[ENV.queueAgeAlarm]);
    return new SqsProviderQueues(requireEnv(ENV.queuePrefix), {
      tags: process.env[ENV.queueTags] ? (JSON.parse(process.env[ENV.queueTags]!) as Record<string, string>) : undefined,
      ageAlarm: ageAlarm && { ...ageAlarm, client: cloudwatch },
    });
  });
  const storage = once(() => new S3ResultStorage(requireEnv(ENV.bucket)));
  const signer = once(() => KeySigner.fromEnv());
  const config = configFromEnv();
  cached = {
    get accounts() {
      return accounts();
    },
    get functions() {
      return functions();
    },
    get jobs() {
      return jobs();
    },
    get providers() {
      return providers();
    },
    get outbox() {
      return outbox();
    },
    get balances() {
      return balances();
    },
    get billingStore() {
      return billingStore();
    },
    get starts() {
      return starts();
    },
    payments,
    payoutPolicy: { minimum: int(P.payoutMinimum, 10_000_000), fee: int(P.payoutFee, 0) },
    portalUrl: process.env[P.portalUrl] || undefined,
    get queues() {
      return queues();
    },
    get storage() {
      return storage();
    },
    get signer() {
      return signer();
    },
    config,
    telemetry,
    credentials: process.env[ENV.providerRoleArn] ? new StsProviderCredentials(process.env[ENV.providerRoleArn] as string, config.scheduling.providerCredentialsTtlS) : undefined,
    developerBuckets: new S3DeveloperBuckets(),
    operatorClaimToken: operatorClaimTokenFromEnv(),
    waiter: waiterFromEnv(),
  };
  return cached;
}

/** The sync waits' wake-up, by JOB_WAKE (manifest.ts): in this process, through SQS wake queues, or none. */
function waiterFromEnv(): JobWaiter | undefined {
  const mode = process.env[ENV.jobWake] || 'on';
  if (mode === 'off') return undefined;
  if (mode === 'on') return new InProcessJobWaiter();
  if (mode === 'sqs') {
    return new SqsJobWaiter(requireEnv(ENV.wakeQueues), {
      onError: (message, error) => telemetry.error(message, { error: String(error) }),
      tags: process.env[ENV.queueTags] ? (JSON.parse(process.env[ENV.queueTags]!) as Record<string, string>) : undefined,
    });
  }
  throw new Error(`${ENV.jobWake}=${mode}: expected on, sqs or off`);
}

let ledger: Promise<Ledger & LedgerEventSource> | undefined;

/** The ledger (embedded or Fabric, by LEDGER_MODE), opened once per process. */
export function ledgerFromEnv(): Promise<Ledger & LedgerEventSource> {
  ledger ??= Promise.resolve(createLedger(process.env)).catch((err) => {
    ledger = undefined;
    throw err;
  });
  return ledger;
}

const P = ENV.payments;

/**
 * The one-time operator claim token's reader: the OPERATOR_CLAIM_SECRET_ARN secret (AWS), else the
 * OPERATOR_CLAIM_FILE file (local mode); neither: undefined (no claim possible). Read on each
 * claim, never logged.
 */
function operatorClaimTokenFromEnv(): (() => Promise<string>) | undefined {
  const arn = process.env[ENV.operatorClaim.secretArn];
  const file = process.env[ENV.operatorClaim.file];
  if (arn) return () => readSecret(arn, 'the operator claim secret');
  if (file) return () => readFile(file, 'utf8');
  return undefined;
}

/**
 * The payment provider named by PAYMENT_PROVIDER: `test` (no money moves; local mode), `stripe`
 * (keys from the STRIPE_SECRET_ARN secret in AWS, or the STRIPE_SECRET_FILE file), or none.
 */
function paymentProviderFromEnv(): PaymentProvider | undefined {
  const name = process.env[ENV.paymentProvider];
  if (name === undefined || name === '') return undefined;
  if (name === 'test') return new TestPaymentProvider();
  if (name === 'stripe') {
    const arn = process.env[P.stripeSecretArn];
    const file = process.env[P.stripeSecretFile];
    if (!arn && !file) throw new Error(`${ENV.paymentProvider}=stripe needs ${P.stripeSecretArn} (AWS) or ${P.stripeSecretFile}`);
    const apiBase = process.env[P.stripeApiBase] || undefined;
    const currency = process.env[P.currency] || 'usd';
    return new LazyStripePaymentProvider(
      async () => ({ ...parseStripeSecret(arn ? await readSecret(arn, 'the Stripe secret') : await readFile(file as string, 'utf8')), apiBase, currency }),
      Math.max(1, int(P.microCreditsPerMinorUnit, 1_000_000)),
    );
  }
  throw new Error(`${ENV.paymentProvider} ${name} is not a known payment provider (test, stripe)`);
}

/** The peers use-cases' ports (use-cases/peers.ts): the peers table and, with LEDGER_MODE=fabric, the organisation's CAs. */
export function peerDepsFromEnv(): PeerDeps {
  return { peers: new DynamoPeerStore(requireEnv(ENV.tables.peers)), ...peerEnrolmentFromEnv(process.env) };
}
