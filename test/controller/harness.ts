import { SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Deps } from '../../lambdas/core/use-cases/context';
import type { JobRecord, ProviderRecord, User } from '../../lambdas/core/model';
import { generateKeyPair } from '../../contract/src';
import { ENV, TABLES, type TableName } from '../../lambdas/handlers/manifest';
import { startDynamoDbLocal, startFauxqs, type RunningService } from '../../local/services';
import { createBucket, createTables } from '../../local/tables';

/**
 * The controller's use-cases against the real emulators, without HTTP or Docker: DynamoDB Local
 * (the manifest's tables and indexes) and fauxqs (S3 bucket, SQS). The adapters read their
 * endpoints when first imported, so `startController` sets the environment first and then loads
 * them; every test file gets its own emulators and module registry.
 */
export interface Controller {
  deps: Deps;
  env: Record<string, string>;
  controllerKey: { publicKeyPem: string; privateKeyPem: string };
  /** A registered user with these roles (through the use-case, so with its API token). */
  newUser(roles?: ('developer' | 'provider' | 'peer-operator')[]): Promise<{ user: User; token: string }>;
  stop(): Promise<void>;
}

let counter = 0;

export async function startController(extraEnv: Record<string, string> = {}): Promise<Controller> {
  const services: RunningService[] = [];
  try {
    const [dynamo, fauxqs] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
    services.push(dynamo, fauxqs);
    const dir = mkdtempSync(join(tmpdir(), 'chainfaas-controller-'));
    const controllerKey = generateKeyPair();
    const keyFile = join(dir, 'controller-key.pem');
    writeFileSync(keyFile, controllerKey.privateKeyPem, { mode: 0o600 });
    const names = Object.fromEntries((Object.keys(TABLES) as TableName[]).map((t) => [t, `cf-test-${t}`])) as Record<TableName, string>;
    const env: Record<string, string> = {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
      AWS_ENDPOINT_URL_S3: fauxqs.endpoint,
      [ENV.bucket]: 'cf-test-results',
      [ENV.queuePrefix]: 'cf-test-provider-',
      [ENV.signingKeyFile]: keyFile,
      SIGNUP_CREDIT: '100000000',
      ...Object.fromEntries((Object.keys(names) as TableName[]).map((t) => [ENV.tables[t], names[t]])),
      ...extraEnv,
    };
    Object.assign(process.env, env);
    await createTables(dynamo.endpoint, names);
    await createBucket(fauxqs.endpoint, env[ENV.bucket] as string);
    const { depsFromEnv } = await import('../../lambdas/adapters/deps');
    const { registerUser } = await import('../../lambdas/core/use-cases/accounts');
    const deps = depsFromEnv();
    return {
      deps,
      env,
      controllerKey,
      async newUser(roles = ['developer']) {
        const { user, token } = await registerUser(deps, { email: `u${Date.now()}${counter++}@example.test`, password: 'correct horse battery', roles });
        const full = await deps.accounts.getUser(user.userId);
        if (!full) throw new Error('registered user not found');
        return { user: full, token };
      },
      async stop() {
        for (const s of services.reverse()) await s.stop().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
}

/** A function definition whose image is pinned by digest (it never runs: no provider here). */
export const definition = (overrides: Record<string, unknown> = {}) => ({
  name: 'echo',
  image: `127.0.0.1:5000/chainfaas/echo@sha256:${'a'.repeat(64)}`,
  resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 },
  ...overrides,
});

/** A provider record as registration writes it, online since `at` (ms); `over` changes any field. */
export const providerRecord = (providerId: string, over: Partial<ProviderRecord> = {}, at = Date.now()): ProviderRecord => ({
  providerId,
  ownerId: 'usr_test',
  name: providerId,
  capacityVcpuMilli: 1000,
  capacityMemoryMb: 1024,
  reservedVcpuMilli: 0,
  reservedMemoryMb: 0,
  publicKeyPem: 'unused',
  queueUrl: 'unused',
  lastHeartbeatAt: new Date(at).toISOString(),
  cachedImages: [],
  warmFunctions: [],
  draining: false,
  createdAt: new Date(at).toISOString(),
  onlineShard: '1',
  ...over,
});

/** Writes a job of `definition()` directly (as an invocation would), at a chosen id, creation time and status; `extra` changes any field. */
export async function writeJob(
  c: Controller,
  job: { jobId: string; user: User; functionId: string; status: JobRecord['status']; createdAt: string },
  extra: Partial<JobRecord> = {},
): Promise<JobRecord> {
  const { jobId, status } = job;
  const record: JobRecord = {
    jobId,
    functionId: job.functionId,
    functionVersion: 1,
    developerId: job.user.userId,
    status,
    attempt: 1,
    image: definition().image,
    resources: definition().resources,
    protocol: 'stdio',
    network: 'none',
    inputBase64: '',
    resultKey: `results/${jobId}/result`,
    logKey: `results/${jobId}/log`,
    maxCost: 1000,
    billingVersion: 1,
    createdAt: job.createdAt,
    ...(status === 'QUEUED' ? { waitingShard: 'w' } : {}),
    ...extra,
  };
  await c.deps.jobs.createJob(record);
  return record;
}

/** Expects `promise` to reject with a DomainError of `code` (and `field`, when given); returns it. */
export async function rejects(
  promise: Promise<unknown>,
  code: string,
  field?: string,
): Promise<{ code: string; message: string; field?: string; details?: Record<string, unknown> }> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  if (!error) throw new Error(`expected a ${code} error, but it succeeded`);
  const e = error as { code?: string; field?: string; message: string; details?: Record<string, unknown> };
  expect({ code: e.code, field: field === undefined ? undefined : e.field }).toEqual({ code, field });
  return e as { code: string; message: string; field?: string; details?: Record<string, unknown> };
}

/** A provider registered by a new owner through the use-case, with a first heartbeat: online, idle, with room for many jobs. */
export async function onlineProvider(c: Controller, name: string): Promise<string> {
  const { registerProvider, heartbeat } = await import('../../lambdas/core/use-cases/providers');
  const owner = await c.newUser(['provider']);
  const { providerId } = await registerProvider(c.deps, owner.user, { name, capacity: { vcpu: 64, memoryMb: 65536 }, publicKey: generateKeyPair().publicKeyPem });
  await heartbeat(c.deps, owner.user, providerId, {});
  return providerId;
}

/** An SQS client on the controller's emulator, for tests that look at queues themselves. */
export function sqsOf(c: Controller): SQSClient {
  return new SQSClient({ region: 'us-east-1', endpoint: c.env.AWS_ENDPOINT_URL_SQS, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

/** The DynamoDB commands `run` sends through the controller's client (sent on to DynamoDB Local as they are): each one's class name and input. */
export async function dynamoCommandsOf(run: () => Promise<unknown>): Promise<{ name: string; input: Record<string, unknown> }[]> {
  const { dynamo } = await import('../../lambdas/adapters/clients');
  const sent = jest.spyOn(dynamo, 'send');
  try {
    await run();
    return sent.mock.calls.map(([command]) => ({ name: command.constructor.name, input: command.input as Record<string, unknown> }));
  } finally {
    sent.mockRestore();
  }
}
