import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Deps } from '../../lambdas/core/use-cases/context';
import type { JobEnvelope, RuntimeReport } from '../../contract/src';
import { generateKeyPair, KeyPairPem, sha256Hex, signPayload } from '../../contract/src';
import { startPlatform, Platform, PlatformOptions } from '../../local/platform';
import { ProviderAgent } from '../../provider-agent/src/agent';
import { ControllerClient, ControllerError } from '../../provider-agent/src/controller-client';
import type { Registration } from '../../provider-agent/src/config';
import { jsonLogger } from '../../provider-agent/src/log';
import { Api, newUser } from '../support/api';

/**
 * Fixtures of the scheduling tests: the real local platform (DynamoDB Local, fauxqs, the handlers
 * behind the local API, the reaper on its timer) with settings shortened for a test, the real
 * adapters (`deps`) to observe the tables with, providers that are either real agents (Docker) or
 * scripted by the test through the public API, and an operator account.
 */

export interface TestPlatform {
  platform: Platform;
  api: Api;
  /** The same ports the handlers use (the adapters over DynamoDB Local, fauxqs and the key file). */
  deps: Deps;
  sqs: SQSClient;
  stop(): Promise<void>;
}

/**
 * Starts the platform with `env` set for the controller (restored by `stop()`), no provider agent
 * of its own, and its reaper on a short timer. The adapters are imported only after the platform
 * has set the emulators' endpoints, so they talk to the emulators.
 */
export async function startTestPlatform(given: Record<string, string>, options: PlatformOptions = {}): Promise<TestPlatform> {
  // Holds are on (the platform's default) and these suites run many jobs with large worst cases
  // (50 concurrent, 1 GB for 60 s...): every developer starts with credit for all of them, so
  // only what a suite tests (capacity, fairness, failures) limits its invocations.
  const env = { SIGNUP_CREDIT: String(10_000_000_000_000), ...given };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const restore = () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  let platform: Platform;
  try {
    platform = await startPlatform({
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-sched-')),
      provider: false,
      log: () => undefined,
      reaperIntervalMs: 250,
      ...options,
    });
  } catch (err) {
    restore();
    throw err;
  }
  const { depsFromEnv } = await import('../../lambdas/adapters/deps');
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: platform.env.AWS_ENDPOINT_URL_SQS, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  return {
    platform,
    api: new Api(platform.apiUrl),
    deps: depsFromEnv(),
    sqs,
    stop: async () => {
      sqs.destroy();
      await platform.stop();
      restore();
    },
  };
}

/** A user whose id is added to OPERATOR_USER_IDS (read on each use, as in Lambda where it never changes). */
export async function newOperator(api: Api): Promise<Api> {
  const operator = await newUser(api, ['developer']);
  process.env.OPERATOR_USER_IDS = [process.env.OPERATOR_USER_IDS, operator.userId].filter(Boolean).join(',');
  return operator.api;
}

/** Registers a provider through the public API, with a key pair made here. */
export async function registerProvider(api: Api, capacity: { vcpu: number; memoryMb: number; diskMb?: number }, name = 'test-provider') {
  const user = await newUser(api, ['provider']);
  const keys = generateKeyPair();
  const res = await user.api.post('/providers', { name, capacity, publicKey: keys.publicKeyPem });
  if (res.status !== 201) throw new Error(`provider registration failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { api: user.api, keys, registration: res.body as Registration & Record<string, unknown> };
}

/** Settings of a test's agent beside its capacity. */
export interface AgentOptions {
  visibilityTimeoutS?: number;
  /** The container limits of the agent (its defaults otherwise). */
  limits?: { pidsLimit?: number; tmpfsMb?: number };
}

/** What a report posted by an agent came to. */
export interface ReportCall {
  jobId: string;
  attempt: number;
  runtimeMs: number;
  status: number;
  answer?: unknown;
}

/**
 * A real provider agent (in this process, on the real Docker engine), registered through the API.
 * Its controller calls are recorded: `reports` lists every report it posted and the answer.
 */
export async function startAgent(api: Api, capacity: { vcpu: number; memoryMb: number }, options: AgentOptions = {}) {
  return runAgent(api, await registerProvider(api, capacity, 'agent'), capacity, options);
}

/** Runs a real agent for a provider registered earlier (`registerProvider`). */
export async function runAgent(
  api: Api,
  provider: Awaited<ReturnType<typeof registerProvider>>,
  capacity: { vcpu: number; memoryMb: number },
  options: AgentOptions = {},
) {
  const token = tokenOf(provider.api);
  const client = new ControllerClient(api.baseUrl, token);
  const reports: ReportCall[] = [];
  const controller = {
    heartbeat: client.heartbeat.bind(client),
    postReport: async (providerId: string, report: RuntimeReport, signature: string, resultBase64?: string) => {
      try {
        const answer = await client.postReport(providerId, report, signature, resultBase64);
        reports.push({ jobId: report.jobId, attempt: report.attempt, runtimeMs: report.runtimeMs, status: 200, answer });
        return answer;
      } catch (err) {
        reports.push({ jobId: report.jobId, attempt: report.attempt, runtimeMs: report.runtimeMs, status: err instanceof ControllerError ? err.status : 0 });
        throw err;
      }
    },
  };
  const agent = new ProviderAgent(
    {
      apiUrl: api.baseUrl,
      token,
      registration: provider.registration,
      privateKeyPem: provider.keys.privateKeyPem,
      capacity,
      pollWaitS: 1,
      visibilityTimeoutS: options.visibilityTimeoutS ?? 60,
      limits: options.limits,
    },
    { controller, logger: jsonLogger('silent') },
  );
  await agent.start();
  return { providerId: provider.registration.providerId, queueUrl: provider.registration.queueUrl, keys: provider.keys, agent, reports };
}

/** The bearer token an Api client sends (the tests' Api keeps it private). */
export function tokenOf(api: Api): string {
  return (api as unknown as { token: string }).token;
}

/**
 * A provider the test drives by hand, through the same API and queue an agent uses: it receives
 * its envelopes from its own queue, and completes a job when told (uploads a result through the
 * presigned URL, posts a report signed with its key).
 */
export class ScriptedProvider {
  readonly envelopes = new Map<string, JobEnvelope>();

  private constructor(
    readonly providerId: string,
    readonly queueUrl: string,
    private readonly keys: KeyPairPem,
    private readonly api: Api,
    private readonly sqs: SQSClient,
  ) {}

  static async register(api: Api, sqs: SQSClient, capacity: { vcpu: number; memoryMb: number; diskMb?: number }, name = 'scripted'): Promise<ScriptedProvider> {
    const p = await registerProvider(api, capacity, name);
    return new ScriptedProvider(p.registration.providerId, p.registration.queueUrl, p.keys, p.api, sqs);
  }

  /** Takes every envelope waiting in the queue (deleting the messages, as an agent does once settled). */
  async drain(): Promise<number> {
    let taken = 0;
    for (;;) {
      const out = await this.sqs.send(new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }));
      const messages = out.Messages ?? [];
      if (messages.length === 0) return taken;
      for (const m of messages) {
        const { envelope } = JSON.parse(m.Body ?? '{}') as { envelope: JobEnvelope };
        this.envelopes.set(`${envelope.jobId}#${envelope.attempt}`, envelope);
        await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: m.ReceiptHandle }));
        taken++;
      }
    }
  }

  /** Waits for the envelope of `jobId` at `attempt` to arrive in the queue. */
  async envelope(jobId: string, attempt: number, timeoutMs = 10_000): Promise<JobEnvelope> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.envelopes.get(`${jobId}#${attempt}`);
      if (found) return found;
      if (Date.now() > until) throw new Error(`no envelope for ${jobId} attempt ${attempt} reached provider ${this.providerId}`);
      await this.drain();
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  heartbeat(runningJobs: string[] = []) {
    return this.api.put(`/providers/${this.providerId}/heartbeat`, { runningJobs });
  }

  /** Runs the job "instantly": uploads `result` to its presigned URL and posts a signed report (`fields` add to or override it). */
  async complete(jobId: string, attempt: number, result = Buffer.from(`{"done":"${jobId}"}`), fields: Partial<RuntimeReport> = {}) {
    const envelope = await this.envelope(jobId, attempt);
    const put = await fetch(envelope.resultPutUrl, { method: 'PUT', body: result });
    if (!put.ok) throw new Error(`result upload answered ${put.status}`);
    await fetch(envelope.logPutUrl, { method: 'PUT', body: Buffer.alloc(0) });
    return this.api.post(`/providers/${this.providerId}/reports`, this.signedReport(jobId, attempt, result, fields));
  }

  /** Reports `result` without uploading it: the bytes travel in the report body (`resultBase64`, by default `result`'s own); `fields` add to or override the signed report. */
  async completeInline(jobId: string, attempt: number, result: Buffer, resultBase64 = result.toString('base64'), fields: Partial<RuntimeReport> = {}) {
    await this.envelope(jobId, attempt);
    return this.api.post(`/providers/${this.providerId}/reports`, { ...this.signedReport(jobId, attempt, result, fields), resultBase64 });
  }

  /** A succeeded run of 5 ms that produced `result`, signed with this provider's key. */
  private signedReport(jobId: string, attempt: number, result: Buffer, fields: Partial<RuntimeReport>) {
    const now = new Date().toISOString();
    const report: RuntimeReport = {
      v: 1,
      jobId,
      providerId: this.providerId,
      attempt,
      status: 'succeeded',
      exitCode: 0,
      runtimeMs: 5,
      resultSha256: sha256Hex(result),
      resultSize: result.length,
      logSize: 0,
      startedAt: now,
      finishedAt: now,
      ...fields,
    };
    return { report, signature: signPayload(report, this.keys.privateKeyPem) };
  }
}

/** Sends `body` to a queue as a new message. */
export async function sendRaw(sqs: SQSClient, queueUrl: string, body: string): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

/** Receives one message and makes it visible again at once: a copy of what is waiting, left in place. */
export async function peek(sqs: SQSClient, queueUrl: string): Promise<string | undefined> {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 2, VisibilityTimeout: 30 }));
  const m = out.Messages?.[0];
  if (!m) return undefined;
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
  return m.Body;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
