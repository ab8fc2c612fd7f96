import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, sha256Hex, signPayload } from '../../contract/src';
import { Platform, startPlatform } from '../../local/platform';
import { Api, newUser } from '../support/api';

/**
 * The OpenAPI document fuzzed by schemathesis against the running local platform: every
 * operation, with generated valid and invalid parameters and bodies, must answer without a 5xx,
 * with a status code the document declares and a body that matches the document's schema; data
 * the document calls valid must be accepted (positive_data_acceptance) and data it calls invalid
 * refused (negative_data_rejection), so the document says exactly what the server takes (issue
 * #25); a method a path lacks gets 405 with Allow (unsupported_method).
 *
 * It runs once per role, each over the operations of that role, with that role's credentials: a
 * developer (who is also a peer operator: functions, jobs, keys, tokens, account, peers), a
 * provider (/providers) and the platform operator (/operator). Who may call what across roles is
 * test/e2e/authz.test.ts's.
 *
 * The stateful phase follows the document's OpenAPI links (contract/src/openapi.ts: a created
 * function's id to reading, changing, invoking and deleting it; a job's to reading and cancelling
 * it; …), so sequences of calls are fuzzed too, not only single requests.
 *
 * Path parameters are pinned to real ids of the fuzzing user (a function, a job, a provider, a key,
 * a token), so authenticated operations reach their use-case instead of stopping at 404. The
 * number of examples per operation is FUZZ_EXAMPLES (default 8: the CI profile; `npm run
 * test:chaos` runs more). schemathesis is installed by local/setup.sh into
 * ~/.cache/chainfaas/venv (pinned).
 */

const SCHEMATHESIS = join(process.env.CHAINFAAS_VENV ?? join(homedir(), '.cache', 'chainfaas', 'venv'), 'bin', 'schemathesis');
const EXAMPLES = Number(process.env.FUZZ_EXAMPLES ?? 8);
/** schemathesis repeats fuzzing until a --max-time budget is spent, so it is only passed when asked for. */
const MAX_TIME_S = process.env.FUZZ_MAX_TIME_S ? Number(process.env.FUZZ_MAX_TIME_S) : undefined;

let platform: Platform;
let dataDir: string;
const image = `127.0.0.1:5000/chainfaas/sha256@sha256:${'a'.repeat(64)}`;

beforeAll(async () => {
  if (!existsSync(SCHEMATHESIS)) throw new Error(`${SCHEMATHESIS} is missing: run local/setup.sh`);
  dataDir = mkdtempSync(join(tmpdir(), 'chainfaas-fuzz-'));
  platform = await startPlatform({ port: 0, dataDir, provider: false, images: false, log: () => undefined });
}, 300_000);

const operators = process.env.OPERATOR_USER_IDS;
afterAll(async () => {
  if (operators === undefined) delete process.env.OPERATOR_USER_IDS;
  else process.env.OPERATOR_USER_IDS = operators;
  await platform?.stop();
}, 60_000);

/** Statuses that answer a well-formed request about the world rather than about the request: no funds or a declined payment (402), no capacity (503). */
const ACCEPTED = ['2xx', '3xx', '401', '402', '403', '404', '409', '429', '503', '5xx'];

/**
 * Operations whose acceptance of well-formed data depends on something a JSON Schema cannot say;
 * positive_data_acceptance is off for them alone (every other check runs):
 * - POST /peers: a CSR must be a real PKCS#10 request signed by its own key;
 * - GET /jobs: `from` must not be after `to`, and `cursor` must be one the API returned;
 * - GET /account/history: `cursor` must be one the API returned.
 */
const UNDESCRIBABLE: Array<[method: string, path: string]> = [
  ['POST', '/peers'],
  ['GET', '/jobs'],
  ['GET', '/account/history'],
];

const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'positive_data_acceptance',
  'negative_data_rejection',
  'unsupported_method',
  'ignored_auth',
];

interface RoleRun {
  role: string;
  bearer: string;
  /** Which operations: a regular expression over paths, included or excluded. */
  paths: { include?: string; exclude?: string };
  parameters: Record<string, string>;
  extra?: string[];
  /** The operator's routes have no links between them: no stateful phase. */
  phases?: string;
}

async function fuzz(run: RoleRun): Promise<string> {
  const dir = join(dataDir, run.role);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'schemathesis.toml');
  writeFileSync(
    config,
    [
      `base-url = "${platform.apiUrl}"`,
      `headers = { Authorization = "Bearer ${run.bearer}" }`,
      `request-timeout = 30.0`,
      // The checks are chosen here rather than with --checks, which would override the per-operation
      // choices below.
      `[checks]`,
      `enabled = false`,
      ...CHECKS.flatMap((name) => [
        `[checks.${name}]`,
        'enabled = true',
        ...(name === 'positive_data_acceptance' ? [`expected-statuses = [${ACCEPTED.map((s) => `"${s}"`).join(', ')}]`] : []),
      ]),
      `[parameters]`,
      ...Object.entries(run.parameters).map(([k, v]) => `${k} = "${v}"`),
      ...UNDESCRIBABLE.flatMap(([method, path]) => [
        '[[operations]]',
        `include-method = "${method}"`,
        `include-path = "${path}"`,
        'checks = { positive_data_acceptance = { enabled = false } }',
      ]),
      ...(run.extra ?? []),
      '',
    ].join('\n'),
  );
  const args = [
    '--config-file',
    config,
    'run',
    `${platform.apiUrl}/openapi.json`,
    ...(run.paths.include ? ['--include-path-regex', run.paths.include] : []),
    ...(run.paths.exclude ? ['--exclude-path-regex', run.paths.exclude] : []),
    ...(process.env.FUZZ_CHECKS ? ['--checks', process.env.FUZZ_CHECKS] : []),
    '--phases',
    run.phases ?? 'examples,coverage,fuzzing,stateful',
    '--max-examples',
    String(EXAMPLES),
    ...(MAX_TIME_S ? ['--max-time', String(MAX_TIME_S)] : []),
    '--workers',
    '1',
    '--seed',
    process.env.FUZZ_SEED ?? '20261123',
    '--suppress-health-check',
    'all',
    '--report',
    'junit',
    '--report-junit-path',
    join(dir, 'junit.xml'),
    '--no-color',
  ];
  const result = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(SCHEMATHESIS, args, { cwd: dir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` }),
    );
  });
  writeFileSync(join(tmpdir(), `chainfaas-schemathesis-last-${run.role}.txt`), result.out);
  if (result.code !== 0) throw new Error(`schemathesis as the ${run.role} exited ${result.code}:\n${result.out.slice(-20_000)}`);
  expect(result.out).not.toMatch(/Server error/);
  return readFileSync(join(dir, 'junit.xml'), 'utf8') + result.out;
}

/**
 * A stand-in for the provider agent (no Docker here): it heartbeats, and every job assigned to
 * the fuzzing provider is reported at once as failed, signed with the provider's key, so a sync
 * invocation the fuzzer sends ends in milliseconds instead of waiting its `waitS` (up to 60 s each).
 */
function failAssignedJobs(developer: Api, provider: Api, providerId: string, privateKeyPem: string): () => Promise<void> {
  let running = true;
  let beat = 0;
  const loop = (async () => {
    while (running) {
      // Heartbeats keep the provider online for the scheduler, as an agent's would.
      if (beat++ % 20 === 0) await provider.put(`/providers/${providerId}/heartbeat`, {}).catch(() => undefined);
      const page = await developer.get('/jobs?status=ASSIGNED&limit=100').catch(() => undefined);
      for (const job of (page?.body?.items ?? []) as Array<{ jobId: string; providerId?: string; attempt: number }>) {
        if (job.providerId !== providerId) continue;
        const at = new Date().toISOString();
        const report = {
          v: 1,
          jobId: job.jobId,
          providerId,
          attempt: job.attempt,
          status: 'failed',
          reason: 'runtime_error',
          exitCode: null,
          runtimeMs: 0,
          resultSha256: sha256Hex(Buffer.alloc(0)),
          resultSize: 0,
          logSize: 0,
          startedAt: at,
          finishedAt: at,
        };
        await provider.post(`/providers/${providerId}/reports`, { report, signature: signPayload(report, privateKeyPem) }).catch(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

const testcases = (out: string) => (out.match(/<testcase /g) ?? []).length;
/** The stateful phase ran scenarios along the document's links (create, then use what was created). */
const STATEFUL = /Stateful \(in [\d.]+s\)\s+Scenarios:\s+[1-9]/;

test(
  'schemathesis, as a developer, a provider and the operator, finds no server error, no status, body or Allow outside the document, no valid data refused and no invalid data accepted',
  async () => {
    const api = new Api(platform.apiUrl);
    const developer = await newUser(api, ['developer', 'peer-operator']);
    const provider = await newUser(api, ['provider']);
    const operator = await newUser(api, ['developer']);
    process.env.OPERATOR_USER_IDS = operator.userId;
    const fn = await developer.api.post('/functions', { name: 'fuzzed', image, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } });
    expect(fn.status).toBe(201);
    const victim = await developer.api.post('/functions', { name: 'deleted-by-fuzzer', image, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } });
    const providerKey = generateKeyPair();
    const registered = await provider.api.post('/providers', { name: 'fuzz', capacity: { vcpu: 64, memoryMb: 65536 }, publicKey: providerKey.publicKeyPem });
    expect(registered.status).toBe(201);
    const stopReporting = failAssignedJobs(developer.api, provider.api, registered.body.providerId, providerKey.privateKeyPem);
    // Removing the pinned provider would turn every later case into a 404: DELETE removes another.
    const spare = await provider.api.post('/providers', { name: 'removed-by-fuzzer', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: generateKeyPair().publicKeyPem });
    expect(spare.status).toBe(201);
    const job = await developer.api.post(`/functions/${fn.body.functionId}/invocations`, { input: 'x' });
    expect([200, 202]).toContain(job.status);
    const key = await developer.api.post(`/functions/${fn.body.functionId}/keys`, { name: 'k' });
    const token = await developer.api.post('/tokens', { name: 'spare' });
    const bearer = (who: { api: Api }) => (who.api as unknown as { token: string }).token;

    let asDeveloper: string, asProvider: string, asOperator: string;
    try {
      asDeveloper = await fuzz({
        role: 'developer',
        bearer: bearer(developer),
        paths: { exclude: '^/(providers|operator)' },
        parameters: {
          functionId: fn.body.functionId,
          jobId: job.body.jobId,
          keyId: key.body.tokenId ?? 'none',
          tokenId: token.body.tokenId ?? 'none',
        },
        // Deleting the pinned function would turn every later case into a 404: it deletes another.
        extra: [
          '[[operations]]',
          'include-method = "DELETE"',
          'include-path = "/functions/{functionId}"',
          `parameters = { functionId = "${victim.body.functionId}" }`,
        ],
      });
      asProvider = await fuzz({
        role: 'provider',
        bearer: bearer(provider),
        paths: { include: '^/providers' },
        parameters: { providerId: registered.body.providerId },
        extra: ['[[operations]]', 'include-method = "DELETE"', 'include-path = "/providers/{providerId}"', `parameters = { providerId = "${spare.body.providerId}" }`],
      });
      asOperator = await fuzz({
        role: 'operator',
        bearer: bearer(operator),
        paths: { include: '^/operator' },
        parameters: { accountId: developer.userId },
        phases: 'examples,coverage,fuzzing',
      });
    } finally {
      await stopReporting();
    }

    // Each run really exercised its operations (the JUnit report lists them), and the stateful
    // phase followed the document's links where the role has any.
    expect(testcases(asDeveloper)).toBeGreaterThanOrEqual(30);
    expect(testcases(asProvider)).toBeGreaterThanOrEqual(6);
    expect(testcases(asOperator)).toBeGreaterThanOrEqual(4);
    expect(asDeveloper).toMatch(STATEFUL);
    expect(asProvider).toMatch(STATEFUL);
  },
  ((MAX_TIME_S ?? 60 * Math.max(EXAMPLES, 5)) + 180) * 1000,
);
