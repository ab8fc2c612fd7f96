import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { providerSessionPolicy, resultBucketSessionPolicy } from '../../lambdas/core/session-policies';
import { eventually, newUser } from '../support/api';
import { registerProvider, runAgent, ScriptedProvider, startTestPlatform, TestPlatform } from './support';

/**
 * The AWS-mode paths that need STS, run against a stand-in STS endpoint (AWS_ENDPOINT_URL_STS): a
 * small HTTP server that speaks STS's query protocol, records each AssumeRole and answers with
 * made-up credentials. Nothing is mocked inside the process: the adapters' real STS and S3 clients
 * send real requests. What it cannot show is IAM itself (that the session policy denies); the
 * policy documents are unit-tested (test/unit/session-policies.test.ts) and the role's own policy is
 * asserted on the synthesised stack (test/cdk/).
 */
let t: TestPlatform;
let sts: Server;
const calls: Record<string, string>[] = [];
const PROVIDER_ROLE = 'arn:aws:iam::000000000000:role/ChainFaasProviderRole';
/** How long the stand-in's credentials last. */
let lifetimeMs = 3600_000;

beforeAll(async () => {
  sts = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      calls.push(params);
      const n = calls.length;
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIASTANDIN${n}</AccessKeyId><SecretAccessKey>secret-${n}</SecretAccessKey><SessionToken>session-${n}</SessionToken><Expiration>${new Date(Date.now() + lifetimeMs).toISOString()}</Expiration></Credentials>
<AssumedRoleUser><AssumedRoleId>AROASTANDIN:${params.RoleSessionName}</AssumedRoleId><Arn>arn:aws:sts::000000000000:assumed-role/x/${params.RoleSessionName}</Arn></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r-${n}</RequestId></ResponseMetadata></AssumeRoleResponse>`);
    });
  });
  await new Promise<void>((r) => sts.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(sts.address() as AddressInfo).port}`;
  t = await startTestPlatform({ PROVIDER_ROLE_ARN: PROVIDER_ROLE, AWS_ENDPOINT_URL_STS: endpoint, PROVIDER_CREDENTIALS_TTL_S: '1800' }, { images: false });
}, 300_000);

afterAll(async () => {
  await t?.stop();
  sts?.close();
}, 60_000);

test("registration hands the provider STS credentials whose session policy names only its own queue; refreshing mints new ones", async () => {
  const provider = await registerProvider(t.api, { vcpu: 1, memoryMb: 256 });
  const { registration } = provider;
  expect(registration.credentialsMode).toBe('sts');
  expect(registration.credentials).toEqual({ accessKeyId: expect.stringMatching(/^ASIASTANDIN\d+$/), secretAccessKey: expect.any(String), sessionToken: expect.any(String), expiration: expect.any(String) });

  const assumed = calls.at(-1)!;
  expect(assumed).toMatchObject({ Action: 'AssumeRole', RoleArn: PROVIDER_ROLE, RoleSessionName: registration.providerId, DurationSeconds: '1800' });
  expect(JSON.parse(assumed.Policy!)).toEqual(JSON.parse(providerSessionPolicy(registration.queueArn as string)));
  expect(JSON.parse(assumed.Policy!).Statement[0].Resource).toBe(registration.queueArn);

  const refreshed = await provider.api.post(`/providers/${registration.providerId}/credentials`);
  expect(refreshed.status).toBe(200);
  expect(refreshed.body.credentialsMode).toBe('sts');
  expect(refreshed.body.credentials.accessKeyId).not.toBe((registration.credentials as { accessKeyId: string }).accessKeyId);
  expect(JSON.parse(calls.at(-1)!.Policy!)).toEqual(JSON.parse(assumed.Policy!));
});

test("results go to a developer's bucket through the role they named: external id = their user id, session limited to results/ of that bucket", async () => {
  const s3 = new S3Client({ region: 'us-east-1', endpoint: t.platform.env.AWS_ENDPOINT_URL_S3, forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await s3.send(new CreateBucketCommand({ Bucket: 'grace-results' }));
  s3.destroy();
  const dev = await newUser(t.api, ['developer']);
  const provider = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 4, memoryMb: 256 });
  const roleArn = 'arn:aws:iam::123456789012:role/chainfaas-results-grace';
  const fn = await dev.api.post('/functions', {
    name: 'to-my-bucket',
    image: `127.0.0.1:5000/chainfaas/none@sha256:${'1'.repeat(64)}`,
    mode: 'async',
    resources: { vcpu: 3, memoryMb: 64, timeoutS: 10 },
    resultBucket: 'grace-results',
    resultRoleArn: roleArn,
  });
  expect(fn.status).toBe(201);
  const before = calls.length;
  const jobId = (await dev.api.post(`/functions/${fn.body.functionId}/invocations`, {})).body.jobId as string;
  const envelope = await provider.envelope(jobId, 1);

  const assumed = calls.slice(before).find((c) => c.RoleArn === roleArn)!;
  expect(assumed).toMatchObject({ Action: 'AssumeRole', ExternalId: dev.userId, DurationSeconds: '3600' });
  expect(JSON.parse(assumed.Policy!)).toEqual(JSON.parse(resultBucketSessionPolicy('grace-results')));
  // The provider's PUT URL is signed with that session, for that bucket.
  const put = new URL(envelope.resultPutUrl);
  expect(put.pathname).toBe(`/grace-results/results/${jobId}/result`);
  expect(put.searchParams.get('X-Amz-Credential')).toMatch(/^ASIASTANDIN\d+\//);
  expect(put.searchParams.get('X-Amz-Security-Token')).toMatch(/^session-\d+$/);

  expect((await provider.complete(jobId, 1)).body).toEqual({ jobId, status: 'SUCCEEDED' });
  const view = (await dev.api.get(`/jobs/${jobId}`)).body;
  expect(new URL(view.resultUrl).searchParams.get('X-Amz-Security-Token')).toMatch(/^session-\d+$/);
  // One session per developer, role and bucket, reused while it lasts.
  expect(calls.slice(before).filter((c) => c.RoleArn === roleArn)).toHaveLength(1);
});

test("the agent polls its queue with the controller's STS credentials, never the environment's, and fetches new ones before they expire", async () => {
  // Credentials that last 8 s: the agent must fetch fresh ones every ~6 s.
  lifetimeMs = 8_000;
  // A recording proxy in front of the SQS emulator shows which access key signed each call.
  const signedWith: string[] = [];
  const sqsEndpoint = new URL(t.platform.env.AWS_ENDPOINT_URL_SQS as string);
  const proxy = createServer((req, res) => {
    const auth = String(req.headers.authorization ?? '');
    signedWith.push(/Credential=([^/]+)\//.exec(auth)?.[1] ?? '(unsigned)');
    const upstream = request({ host: sqsEndpoint.hostname, port: sqsEndpoint.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const provider = await registerProvider(t.api, { vcpu: 1, memoryMb: 256 });
  const before = calls.length;
  const agent = await runAgent(
    t.api,
    { ...provider, registration: { ...provider.registration, sqsEndpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` } },
    { vcpu: 1, memoryMb: 256 },
  );
  try {
    await eventually('the agent to fetch credentials three times', async () => (calls.slice(before).filter((c) => c.RoleSessionName === provider.registration.providerId).length >= 3 ? true : undefined), 40_000);
    await eventually('calls signed with the third credentials', async () => (new Set(signedWith).size >= 3 ? true : undefined), 20_000);
    expect(signedWith.length).toBeGreaterThan(3);
    // Every call was signed with credentials the stand-in STS minted for this provider's queue.
    expect(signedWith.filter((k) => !/^ASIASTANDIN\d+$/.test(k))).toEqual([]);
    const minted = calls.slice(before).filter((c) => c.RoleSessionName === provider.registration.providerId);
    for (const c of minted) expect(JSON.parse(c.Policy!).Statement[0].Resource).toBe(provider.registration.queueArn);
    expect(agent.agent.status().lastError).toBeUndefined();
  } finally {
    await agent.agent.stop({ force: true });
    proxy.close();
    lifetimeMs = 3600_000;
  }
}, 120_000);
