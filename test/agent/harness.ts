import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { RuntimeReport, verifyPayload } from '../../contract/src';
import { RunningService, startFauxqs } from '../../local/services';

/**
 * What the agent talks to, for the agent tests: fauxqs as the real SQS and S3 (presigned PUT
 * URLs included), and a small HTTP server standing in for the controller's provider endpoints
 * (register, heartbeat, reports), which checks the bearer token and the report signatures.
 */

export const REGION = 'us-east-1';
export const BUCKET = 'chainfaas-results';

// The emulator accepts any credentials; the SDK needs some to sign with.
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

export interface CloudEmulator {
  endpoint: string;
  sqs: SQSClient;
  s3: S3Client;
  createQueue(name: string): Promise<string>;
  send(queueUrl: string, body: string): Promise<void>;
  /** Visible plus in-flight messages. */
  messageCount(queueUrl: string): Promise<{ visible: number; inFlight: number }>;
  /** A presigned PUT URL for `key` in the results bucket. */
  presignPut(key: string): Promise<string>;
  /** The object's bytes, or undefined when it does not exist. */
  read(key: string): Promise<Buffer | undefined>;
  stop(): Promise<void>;
}

export async function startCloudEmulator(): Promise<CloudEmulator> {
  const service: RunningService = await startFauxqs();
  const endpoint = service.endpoint;
  const sqs = new SQSClient({ region: REGION, endpoint });
  const s3 = new S3Client({
    region: REGION,
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  return {
    endpoint,
    sqs,
    s3,
    async createQueue(name) {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      return QueueUrl!;
    },
    async send(queueUrl, body) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    },
    async messageCount(queueUrl) {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return { visible: Number(Attributes?.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
    },
    presignPut: (key) => getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 900 }),
    async read(key) {
      try {
        const answer = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        return Buffer.from(await answer.Body!.transformToByteArray());
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    },
    async stop() {
      sqs.destroy();
      s3.destroy();
      await service.stop();
    },
  };
}

/** One report as the fake controller received it. */
export interface ReceivedReport {
  report: RuntimeReport;
  signature: string;
  signatureValid: boolean;
}

/** The fake controller's behaviour and what it saw. */
export interface FakeController {
  url: string;
  token: string;
  reports: ReceivedReport[];
  heartbeats: Array<Record<string, unknown>>;
  registrations: Array<Record<string, unknown>>;
  /** Public key the reports are checked against (set after registration or by the test). */
  providerPublicKey?: string;
  /** What the next heartbeats answer for `drain`. */
  drain: boolean;
  /** When set, reports are answered with this status and a problem body. */
  refuseReportsWith?: number;
  /** The answer to `POST /providers`. */
  registration?: Record<string, unknown>;
  /** Resolves once `count` reports have arrived. */
  waitForReports(count: number, timeoutMs?: number): Promise<ReceivedReport[]>;
  stop(): Promise<void>;
}

export async function startFakeController(token = 'provider-token'): Promise<FakeController> {
  const waiters: Array<() => void> = [];
  const fake: FakeController = {
    url: '',
    token,
    reports: [],
    heartbeats: [],
    registrations: [],
    drain: false,
    waitForReports(count, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (fake.reports.length < count) return false;
          clearTimeout(timer);
          resolve(fake.reports.slice(0, count));
          return true;
        };
        const timer = setTimeout(() => reject(new Error(`only ${fake.reports.length} of ${count} reports arrived in ${timeoutMs} ms`)), timeoutMs);
        const waiter = () => {
          if (!check()) waiters.push(waiter);
        };
        waiter();
      });
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: Error) => answer(res, 500, { error: { code: 'internal', message: err.message } }));
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== `Bearer ${token}`) return answer(res, 401, { error: { code: 'unauthorized', message: 'bad token' } });
    const body = JSON.parse((await readBody(req)) || 'null') as Record<string, unknown>;
    const path = req.url ?? '';
    if (req.method === 'POST' && path === '/providers') {
      fake.registrations.push(body);
      fake.providerPublicKey = body.publicKey as string;
      return answer(res, 201, fake.registration);
    }
    if (req.method === 'PUT' && /^\/providers\/[^/]+\/heartbeat$/.test(path)) {
      fake.heartbeats.push(body);
      return answer(res, 200, { ok: true, drain: fake.drain });
    }
    if (req.method === 'POST' && /^\/providers\/[^/]+\/reports$/.test(path)) {
      if (fake.refuseReportsWith) return answer(res, fake.refuseReportsWith, { error: { code: 'refused', message: 'refused by the test' } });
      const parsed = RuntimeReport.safeParse(body.report);
      if (!parsed.success)
        return answer(res, 400, { error: { code: 'invalid', message: parsed.error.issues[0].message, field: parsed.error.issues[0].path.join('.') } });
      const signature = String(body.signature);
      fake.reports.push({
        report: parsed.data,
        signature,
        signatureValid: fake.providerPublicKey !== undefined && verifyPayload(body.report, signature, fake.providerPublicKey),
      });
      for (const wake of waiters.splice(0)) wake();
      return answer(res, 200, { jobId: parsed.data.jobId, status: parsed.data.status === 'succeeded' ? 'SUCCEEDED' : 'FAILED' });
    }
    return answer(res, 404, { error: { code: 'not_found', message: `${req.method} ${path}` } });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
