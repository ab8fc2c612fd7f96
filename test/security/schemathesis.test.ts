import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../contract/src';
import { Platform, startPlatform } from '../../local/platform';
import { Api, newUser } from '../support/api';

/**
 * The OpenAPI document fuzzed by schemathesis against the running local platform: every
 * operation, with generated valid and invalid parameters and bodies, must answer without a 5xx,
 * with a status code the document declares and a body that matches the document's schema.
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

afterAll(async () => {
  await platform?.stop();
}, 60_000);

test(
  'schemathesis finds no server error, no undeclared status code and no response outside the schema',
  async () => {
    const api = new Api(platform.apiUrl);
    const user = await newUser(api, ['developer', 'provider', 'peer-operator']);
    const fn = await user.api.post('/functions', { name: 'fuzzed', image, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } });
    expect(fn.status).toBe(201);
    const victim = await user.api.post('/functions', { name: 'deleted-by-fuzzer', image, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } });
    const job = await user.api.post(`/functions/${fn.body.functionId}/invocations`, { input: 'x' });
    expect([200, 202]).toContain(job.status);
    const provider = await user.api.post('/providers', { name: 'fuzz', capacity: { vcpu: 1, memoryMb: 256 }, publicKey: generateKeyPair().publicKeyPem });
    expect(provider.status).toBe(201);
    const key = await user.api.post(`/functions/${fn.body.functionId}/keys`, { name: 'k' });
    const token = await user.api.post('/tokens', { name: 'spare' });
    const bearer = (user.api as unknown as { token: string }).token;

    const config = join(dataDir, 'schemathesis.toml');
    writeFileSync(
      config,
      [
        `base-url = "${platform.apiUrl}"`,
        `headers = { Authorization = "Bearer ${bearer}" }`,
        `request-timeout = 30.0`,
        `[parameters]`,
        `functionId = "${fn.body.functionId}"`,
        `jobId = "${job.body.jobId}"`,
        `providerId = "${provider.body.providerId}"`,
        `keyId = "${key.body.tokenId ?? 'none'}"`,
        `tokenId = "${token.body.tokenId ?? 'none'}"`,
        // Deleting the pinned function would turn every later case into a 404: it deletes another.
        `[[operations]]`,
        `include-method = "DELETE"`,
        `include-path = "/functions/{functionId}"`,
        `parameters = { functionId = "${victim.body.functionId}" }`,
        '',
      ].join('\n'),
    );
    const args = [
      '--config-file',
      config,
      'run',
      `${platform.apiUrl}/openapi.json`,
      '--checks',
      process.env.FUZZ_CHECKS ??
        'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,ignored_auth',
      '--phases',
      'examples,coverage,fuzzing,stateful',
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
      join(dataDir, 'junit.xml'),
      '--no-color',
    ];
    const run = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(SCHEMATHESIS, args, { cwd: dataDir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` }),
      );
    });
    writeFileSync(join(tmpdir(), 'chainfaas-schemathesis-last.txt'), run.out);
    if (run.code !== 0) throw new Error(`schemathesis exited ${run.code}:\n${run.out.slice(-20_000)}`);
    // It really exercised the API: the JUnit report lists the operations it ran.
    const junit = readFileSync(join(dataDir, 'junit.xml'), 'utf8');
    expect((junit.match(/<testcase /g) ?? []).length).toBeGreaterThanOrEqual(30);
    expect(run.out).not.toMatch(/Server error/);
    // The stateful phase ran scenarios along the document's links (create, then use what was created).
    expect(run.out).toMatch(/Stateful \(in [\d.]+s\)\s+Scenarios:\s+[1-9]/);
  },
  ((MAX_TIME_S ?? 60 * Math.max(EXAMPLES, 5)) + 120) * 1000,
);
