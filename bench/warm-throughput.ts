import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type CpuSnapshot, cpuBetween, cpuSnapshot, msPer } from './cpu';
import { Harness, invoke, fetchResult, standalone } from './harness';
import { commandFor, machineAfter, machineBefore, note, pool, Profile, round } from './support';

/**
 * Warm throughput on one agent: sync invocations of the http example (examples/echo-http, warm
 * containers, `concurrency` 4) completed per second, closed loop with as many clients as the
 * agent has job slots, every result fetched through its link and checked. In the same run:
 *
 * - baseline: direct POST /invoke calls into the same warm containers (their relay sockets), at
 *   the same concurrency: what the function itself allows;
 * - ceilings: the same number of closed-loop clients against DynamoDB Local (a put and a get on a
 *   table of its own) and against the SQS/S3 emulator (a PUT and a GET of a small object): what
 *   each emulator serves alone, so the ratio shows who limits whom (a job costs several of each).
 */

const RESOURCES = { vcpu: 0.125, memoryMb: 64, timeoutS: 10 };
const CONCURRENCY = 4;
const SLOTS = 8; // 1 vCPU / 0.125
const JOBS: Record<Profile, number> = { quick: 160, full: 2000 };
const GOAL_JOBS_PER_S = 200;

function direct(socketPath: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(input);
    const req = request(
      { socketPath, method: 'POST', path: '/invoke', agent: false, headers: { 'Content-Length': payload.length, Connection: 'close' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Where the machine's CPU went during the platform's run, per job: this process holds the
 * controller (the Lambda handlers behind the local API server), the agent and the clients; the
 * emulators and the container engine run apart.
 */
function cpuPerJob(before: CpuSnapshot, after: CpuSnapshot, jobs: number) {
  const used = cpuBetween(before, after, 'controllerAgentAndClients');
  return {
    what: "CPU ms per job by process over the platform's run ('other': the function containers and the rest of the machine)",
    busyShare: round(used.busyShare, 2),
    msPerJob: msPer(used.seconds, jobs),
  };
}

const rate = (count: number, ms: number) => round(count / (ms / 1000), 1);

async function timed(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await pool(count, concurrency, task);
  return rate(count, performance.now() - t0);
}

export async function runWarmThroughput(h: Harness, profile: Profile): Promise<object> {
  const machine = machineBefore();
  await h.ensureAgents(1);
  const agent = h.agents[0]!;
  const functionId = await h.createFunction({
    name: 'bench-warm-throughput',
    image: h.images.echoHttp,
    protocol: 'http',
    resources: RESOURCES,
    concurrency: CONCURRENCY,
  });
  const n = JOBS[profile];
  // Warm-up, not recorded: starts the containers the load needs.
  await pool(SLOTS * 2, SLOTS, async (i) => void (await invoke(h.dev, functionId, `warm ${i}`)));

  const cpuBefore = cpuSnapshot();
  const t0 = performance.now();
  const done = await pool(n, SLOTS, (i) => invoke(h.dev, functionId, `job ${i}`));
  const platformMs = performance.now() - t0;
  const cpu = cpuPerJob(cpuBefore, cpuSnapshot(), n);
  const platformRate = rate(n, platformMs);
  for (const [i, inv] of done.entries()) {
    const body = await fetchResult(inv.job.resultUrl as string);
    if (body !== `job ${i}`) throw new Error(`job ${inv.job.jobId} returned ${JSON.stringify(body)}`);
  }
  note(`warm-throughput: ${n} jobs in ${round(platformMs / 1000, 2)} s`);

  const sockets = readdirSync(agent.runDir)
    .filter((d) => d.startsWith('w-'))
    .map((d) => join(agent.runDir, d, 'http.sock'))
    .filter((p) => existsSync(p));
  if (sockets.length === 0) throw new Error('no warm container');
  const directRate = await timed(n, SLOTS, async (i) => {
    const out = await direct(sockets[i % sockets.length] as string, `direct ${i}`);
    if (out !== `direct ${i}`) throw new Error(`direct call answered ${JSON.stringify(out)}`);
  });

  // Ceilings of the emulators, same clients.
  const env = h.platform.env;
  const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'local', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'local' };
  const region = env.AWS_REGION ?? 'us-east-1';
  const ddb = new DynamoDBClient({ endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, region, credentials });
  const doc = DynamoDBDocumentClient.from(ddb);
  const table = `bench-ceiling-${Date.now()}`;
  await ddb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const dynamoPairs = await timed(n, SLOTS, async (i) => {
    await doc.send(new PutCommand({ TableName: table, Item: { pk: `k${i}`, v: i } }));
    await doc.send(new GetCommand({ TableName: table, Key: { pk: `k${i}` } }));
  });
  await ddb.send(new DeleteTableCommand({ TableName: table }));
  const s3 = new S3Client({ endpoint: env.AWS_ENDPOINT_URL_S3, region, credentials, forcePathStyle: true });
  const bucket = 'chainfaas-results';
  const s3Pairs = await timed(n, SLOTS, async (i) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `bench-ceiling/${i}`, Body: `x${i}` }));
    await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `bench-ceiling/${i}` }))).Body?.transformToString();
  });
  ddb.destroy();
  s3.destroy();

  return {
    benchmark: 'warm-throughput',
    profile,
    command: commandFor(profile),
    date: new Date().toISOString(),
    machine: machineAfter(machine),
    what: `sync invocations of examples/echo-http on one agent (1 vCPU: ${SLOTS} jobs of ${RESOURCES.vcpu} vCPU at once), closed loop with ${SLOTS} clients, every result fetched and checked`,
    function: { image: h.images.echoHttp, resources: RESOURCES, concurrency: CONCURRENCY },
    jobs: n,
    clients: SLOTS,
    warmContainers: sockets.length,
    jobsPerSecond: platformRate,
    baseline: { what: 'POST /invoke straight into the same warm containers, same concurrency', callsPerSecond: directRate },
    ceilings: {
      dynamoDbLocal: { what: 'PutItem + GetItem pairs per second, same clients', pairsPerSecond: dynamoPairs },
      s3Emulator: { what: 'S3 PUT + GET pairs per second (fauxqs), same clients', pairsPerSecond: s3Pairs },
    },
    cpu,
    ratio: { toDirect: round(platformRate / directRate, 3), toDynamoPairs: round(platformRate / dynamoPairs, 3), toS3Pairs: round(platformRate / s3Pairs, 3) },
    goals: [
      {
        figure: 'warm throughput, one agent, closed loop, results checked',
        value: platformRate,
        unit: 'jobs/s',
        goal: `>= ${GOAL_JOBS_PER_S}`,
        holds: platformRate >= GOAL_JOBS_PER_S,
      },
    ],
  };
}

if (require.main === module) standalone('warm-throughput', runWarmThroughput);
