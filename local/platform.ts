import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { generateKeyPair } from '../contract/src';
import { ENV, HandlerName, TableName } from '../lambdas/handlers/manifest';
import { lambdaContext, LambdaHandler, startApiServer } from './api-server';
import type { WireCounter } from './wire-count';
import { startS3CorsProxy } from './s3-cors';
import { projectRoot } from '../lib/project-root';
import { ensureDocker } from './docker';
import { fauxqsWakeQueues, startDynamoDbLocal, startFauxqs } from './services';
import { createBucket, createTables } from './tables';
import { startRegistry } from './registry';
import { buildExampleImages } from '../examples/images';
import { LocalProvider, startLocalProvider } from './provider';
import type { LogLevel } from '../provider-agent/src/log';
import { configureFaults, FaultPlan } from '../lambdas/core/faults';
import { reprovisionQueues } from './emulator-restart';

/**
 * The embedded local platform: every service of the AWS deployment, on this machine, with no AWS
 * account. Real emulators (DynamoDB Local, fauxqs for SQS + S3), a real Docker registry and engine,
 * the embedded ledger, the SAME Lambda handler modules behind a local API Gateway (v2) server, the
 * ledger writer on a timer, and one provider agent.
 */

export interface PlatformOptions {
  /** Where state lives (keys, ledger, registry storage). @default .chainfaas */
  dataDir?: string;
  /** API port. @default 3000; 0 picks a free one */
  port?: number;
  /** Docker registry port. @default 0 (a free one); `npm start` uses 5000 */
  registryPort?: number;
  /** Start one provider agent connected to the Docker engine. @default true */
  provider?: boolean;
  /** Build and push the example function images. @default true */
  images?: boolean;
  /** Keep the ledger between runs (the emulators are in memory, so by default it is wiped). @default false */
  keepLedger?: boolean;
  /** Ledger writer period. @default 250 ms */
  ledgerIntervalMs?: number;
  /** Reaper period (leases, waiting deadlines; EventBridge runs it every minute in AWS). @default 1000 ms */
  reaperIntervalMs?: number;
  log?: (line: string) => void;
  /** The web portal's built files, served by the API server at `/` and `/portal/`. @default portal/dist of this checkout */
  portalDir?: string;
  /** The provider agent's JSON log level (to stderr). @default warn */
  agentLogLevel?: LogLevel;
  /** Fault injection (lambdas/core/faults.ts), for the chaos suite only. @default none */
  faults?: FaultPlan;
  /**
   * The ledger: the embedded one (default), or a real Fabric network (`env`: the FABRIC_* settings
   * chaincode/network/up.sh wrote to <state>/env), which also lets peer operators enrol peers.
   * @default fabric with the settings of the file CHAINFAAS_FABRIC_ENV names (`npm start` on up.sh's
   *   network), else embedded
   */
  ledger?: { mode: 'embedded' } | { mode: 'fabric'; env: Record<string, string> };
  /** Counts every request to DynamoDB, SQS, S3 and the API through proxies (local/wire-count.ts; bench/cost.ts). @default none */
  wire?: WireCounter;
}

export interface Platform {
  apiUrl: string;
  registry: string;
  images: Record<string, string>;
  env: Record<string, string>;
  provider?: LocalProvider;
  /** Runs the ledger writer once now and returns what it committed. */
  flushLedger(): Promise<{ committed: number; rejected: number; movements: number }>;
  /** Runs the reaper once now (after any run in progress) and returns what it did. */
  sweep(): Promise<{ requeued: number; failed: number; expired: number; placed: number; holdsReleased?: number }>;
  /** Sets (or clears) the controller's fault plan (lambdas/core/faults.ts); the chaos suite's switch. */
  setFaults(plan: FaultPlan | undefined): void;
  /**
   * Restarts the SQS + S3 emulator on the same port. fauxqs keeps everything in memory, so this
   * is a loss of the queues' messages and the bucket's objects: the bucket and every provider's
   * queue (and the dead-letter queue) are provisioned again, under the same names and URLs, and
   * the jobs whose envelopes were lost are re-driven by the reaper when their leases lapse.
   */
  restartQueues(): Promise<{ downMs: number; queues: number }>;
  stop(): Promise<void>;
}

const TABLE_NAMES: Record<TableName, string> = {
  users: 'chainfaas-users',
  tokens: 'chainfaas-tokens',
  functions: 'chainfaas-functions',
  jobs: 'chainfaas-jobs',
  providers: 'chainfaas-providers',
  outbox: 'chainfaas-outbox',
  balances: 'chainfaas-balances',
  peers: 'chainfaas-peers',
};

export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = resolve(options.dataDir ?? '.chainfaas');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => log(`stop: ${(err as Error).message}`));
    stops.length = 0;
  };
  try {
    log('starting Docker engine check');
    await ensureDocker(join(dataDir, 'dockerd.log'));
    const [dynamo, firstFauxqs] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
    let fauxqs = firstFauxqs;
    stops.push(
      () => fauxqs.stop(),
      () => dynamo.stop(),
    );
    log(`DynamoDB Local at ${dynamo.endpoint}; SQS + S3 emulator at ${fauxqs.endpoint}`);
    // fauxqs answers no CORS; the AWS results bucket does, and the portal reads results and logs
    // from the browser: S3 traffic goes through a proxy that adds the bucket's CORS rule.
    const s3 = await startS3CorsProxy(fauxqs.endpoint);
    stops.push(() => s3.stop());
    const registry = await startRegistry({ port: options.registryPort ?? 0, dataDir: join(dataDir, 'registry') });
    stops.push(() => registry.stop());
    log(`Docker registry at ${registry.address}`);

    const keyFile = join(dataDir, 'controller-key.pem');
    if (!existsSync(keyFile)) {
      writeFileSync(keyFile, generateKeyPair().privateKeyPem, { mode: 0o600 });
    }
    chmodSync(keyFile, 0o600);
    // The one-time operator claim token (POST /operator/claim), as the stack generates one in a
    // secret in AWS: a new one for each start (the tables start empty), readable by this user only.
    const claimFile = join(dataDir, 'operator-claim-token');
    rmSync(claimFile, { force: true });
    writeFileSync(claimFile, `${randomBytes(30).toString('base64url')}\n`, { mode: 0o600 });
    const ledgerDir = join(dataDir, 'ledger');
    if (!options.keepLedger) rmSync(ledgerDir, { recursive: true, force: true });

    const env: Record<string, string> = {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: options.wire ? await options.wire.wrap('dynamodb', dynamo.endpoint) : dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: options.wire ? await options.wire.wrap('sqs', fauxqs.endpoint) : fauxqs.endpoint,
      AWS_ENDPOINT_URL_S3: options.wire ? await options.wire.wrap('s3', s3.endpoint) : s3.endpoint,
      [ENV.bucket]: 'chainfaas-results',
      [ENV.queuePrefix]: 'chainfaas-provider-',
      [ENV.signingKeyFile]: keyFile,
      [ENV.operatorClaim.file]: claimFile,
      [ENV.ledgerMode]: 'embedded',
      LEDGER_DIR: ledgerDir,
      ...fabricEnv(options.ledger),
      SIGNUP_CREDIT: process.env.SIGNUP_CREDIT ?? '100000000',
      // Top-ups go to the test payment provider (lambdas/adapters/payments/test-provider.ts).
      [ENV.paymentProvider]: process.env[ENV.paymentProvider] ?? 'test',
      // Holds are on locally as in AWS (BALANCE_HOLDS=off turns them off): an invocation whose worst
      // case the available balance does not cover is refused with 402 (see README, "Billing").
      [ENV.balanceHolds]: process.env[ENV.balanceHolds] ?? 'on',
      // Logs as in AWS (Powertools JSON on stdout); metrics off unless asked for: POWERTOOLS_METRICS_DISABLED=false
      // prints each as an EMF line (README, "Logs and metrics").
      [ENV.powertools.serviceName]: process.env[ENV.powertools.serviceName] ?? 'chainfaas-local',
      [ENV.powertools.metricsNamespace]: process.env[ENV.powertools.metricsNamespace] ?? 'ChainFaaS',
      [ENV.powertools.metricsDisabled]: process.env[ENV.powertools.metricsDisabled] ?? 'true',
      ...Object.fromEntries((Object.keys(TABLE_NAMES) as TableName[]).map((t) => [ENV.tables[t], TABLE_NAMES[t]])),
    };
    // JOB_WAKE=sqs runs the AWS wake-up locally (bench/cost.ts): its wake queues live in fauxqs.
    if (process.env[ENV.jobWake] === 'sqs') env[ENV.wakeQueues] = fauxqsWakeQueues(fauxqs.endpoint, env[ENV.queuePrefix] as string);
    Object.assign(process.env, env);
    await createTables(dynamo.endpoint, TABLE_NAMES);
    await createBucket(fauxqs.endpoint, env[ENV.bucket] as string);

    // The handler modules read their environment when first loaded, exactly as in Lambda.
    const handlers: Record<HandlerName, LambdaHandler | undefined> = {
      accounts: (await import('../lambdas/handlers/accounts')).handler as unknown as LambdaHandler,
      functions: (await import('../lambdas/handlers/functions')).handler as unknown as LambdaHandler,
      invocations: (await import('../lambdas/handlers/invocations')).handler as unknown as LambdaHandler,
      jobs: (await import('../lambdas/handlers/jobs')).handler as unknown as LambdaHandler,
      providers: (await import('../lambdas/handlers/providers')).handler as unknown as LambdaHandler,
      ledger: (await import('../lambdas/handlers/ledger')).handler as unknown as LambdaHandler,
      ledgerWriter: undefined,
      operator: (await import('../lambdas/handlers/operator')).handler as unknown as LambdaHandler,
      billing: (await import('../lambdas/handlers/billing')).handler as unknown as LambdaHandler,
      peers: (await import('../lambdas/handlers/peers')).handler as unknown as LambdaHandler,
      reaper: undefined,
    };
    const { handler: ledgerWriter } = await import('../lambdas/handlers/ledger-writer');
    const { ledgerFromEnv } = await import('../lambdas/adapters/deps');

    // The ledger writer: in AWS the outbox table's stream triggers it; here a timer does, one run at a time.
    let writing: Promise<{ committed: number; rejected: number; movements: number }> | undefined;
    const runWriter = () => (writing ??= ledgerWriter({}, lambdaContext('ledgerWriter', randomUUID())).finally(() => (writing = undefined)));
    // A flush must see everything appended before it: a run already in flight may have read the
    // outbox earlier, so wait for it, then run (or join a run that started after that).
    const flushLedger = async () => {
      await writing?.catch(() => undefined);
      return runWriter();
    };
    const timer = setInterval(() => runWriter().catch((err) => log(`ledger writer: ${(err as Error).message}`)), options.ledgerIntervalMs ?? 250);
    stops.push(async () => {
      clearInterval(timer);
      await writing?.catch(() => undefined);
      await flushLedger().catch(() => undefined);
      await (await ledgerFromEnv()).close();
    });

    // The reaper: in AWS an EventBridge schedule runs it (manifest `schedule`); here a timer does, one run at a time.
    const { handler: reaper } = await import('../lambdas/handlers/reaper');
    let reaping: ReturnType<typeof reaper> | undefined;
    const sweep = () => (reaping ??= reaper({}, lambdaContext('reaper', randomUUID())).finally(() => (reaping = undefined)));
    const sweepNow = async () => {
      await reaping?.catch(() => undefined);
      return sweep();
    };
    const reaperTimer = setInterval(() => sweep().catch((err) => log(`reaper: ${(err as Error).message}`)), options.reaperIntervalMs ?? 1000);
    stops.push(async () => {
      clearInterval(reaperTimer);
      await reaping?.catch(() => undefined);
    });

    let images: Record<string, string> = {};
    const { server, url: serverUrl } = await startApiServer(options.port ?? 3000, handlers, {
      portalDir: options.portalDir ?? join(projectRoot(), 'portal', 'dist'),
      registry: registry.address,
      examples: () => images,
    });
    stops.push(() => closeServer(server));
    const apiUrl = options.wire ? await options.wire.wrap('api', serverUrl) : serverUrl;
    log(`API at ${apiUrl}`);

    images = options.images === false ? {} : await buildExampleImages(registry.address);
    for (const [name, ref] of Object.entries(images)) log(`image ${name}: ${ref}`);

    let provider: LocalProvider | undefined;
    if (options.provider !== false) {
      provider = await startLocalProvider({ apiUrl, dataDir: join(dataDir, 'provider'), logLevel: options.agentLogLevel });
      stops.push(() => (provider as LocalProvider).stop());
      log(`provider ${provider.providerId} online (queue ${provider.queueUrl})`);
    }

    configureFaults(options.faults);
    stops.push(async () => configureFaults(undefined));
    const restartQueues = async () => {
      const started = Date.now();
      const port = Number(new URL(fauxqs.endpoint).port);
      await fauxqs.stop();
      fauxqs = await startFauxqs(port);
      await createBucket(fauxqs.endpoint, env[ENV.bucket] as string);
      const queues = await reprovisionQueues(fauxqs.endpoint, env[ENV.queuePrefix] as string);
      return { downMs: Date.now() - started, queues };
    };

    return {
      apiUrl,
      registry: registry.address,
      images,
      env,
      provider,
      flushLedger,
      sweep: sweepNow,
      setFaults: configureFaults,
      restartQueues,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The FABRIC_* settings of a Fabric-mode platform (options.ledger, or CHAINFAAS_FABRIC_ENV's file), or none. */
function fabricEnv(ledger: PlatformOptions['ledger']): Record<string, string> {
  let env: Record<string, string> | undefined = ledger?.mode === 'fabric' ? ledger.env : undefined;
  const file = process.env.CHAINFAAS_FABRIC_ENV;
  if (!ledger && file) {
    env = {};
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (match) env[match[1] as string] = match[2] as string;
    }
  }
  return env ? { ...env, [ENV.ledgerMode]: 'fabric' } : {};
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
