import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, Platform } from '../../local/platform';
import { Api } from '../support/api';

/**
 * Issue #22: the `chainfaas` CLI as people use it — the compiled binary in a subprocess against
 * the local platform: ambiguous names, `--timeout`, a refused `--key`, the `--json` shapes.
 */

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'cli', 'chainfaas.js');
const PASSWORD = 'correct horse battery';

let platform: Platform;
let home: string;
let configFile: string;
let dev: Api;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(args: string[], options: { input?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: home, CHAINFAAS_CONFIG: configFile, ...options.env };
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { env: env as NodeJS.ProcessEnv, cwd: home, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
    child.stdin.end(options.input ?? '');
  });
}

function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'cli', 'tsconfig.json')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tsc -p cli failed:\n${out}`))));
  });
}

beforeAll(async () => {
  await build();
  home = mkdtempSync(join(tmpdir(), 'chainfaas-cli-as-used-'));
  configFile = join(home, '.chainfaas', 'config.json');
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-cli-as-used-data-')), log: () => undefined });
  const email = `people${Date.now()}@example.test`;
  const registered = await new Api(platform.apiUrl).post('/users', { email, password: PASSWORD, roles: ['developer'] });
  expect(registered.status).toBe(201);
  dev = new Api(platform.apiUrl, registered.body.token);
  const login = await cli(['login', '--api-url', platform.apiUrl, '--email', email, '--password-stdin'], { input: `${PASSWORD}\n` });
  expect(login.code).toBe(0);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

test('a name two functions share is refused with both candidates (exit 2): invoke and delete never pick one silently', async () => {
  const first = (await dev.post('/functions', { name: 'twin', image: platform.images.sha256, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })).body;
  const second = (await dev.post('/functions', { name: 'twin', image: platform.images.sha256, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })).body;
  const invoked = await cli(['invoke', 'twin', '-d', 'x', '-q']);
  expect(invoked.code).toBe(2);
  expect(invoked.stdout).toBe('');
  expect(invoked.stderr).toContain('chainfaas: 2 of your functions are named twin; give the id of the one you mean:');
  expect(invoked.stderr).toContain(first.functionId);
  expect(invoked.stderr).toContain(second.functionId);
  expect((await dev.get('/jobs')).body.items).toHaveLength(0);

  const deleted = await cli(['functions', 'delete', 'twin', '--json']);
  expect(deleted.code).toBe(2);
  expect(JSON.parse(deleted.stdout)).toMatchObject({
    error: { code: 'ambiguous_name', candidates: expect.arrayContaining([expect.objectContaining({ functionId: first.functionId }), expect.objectContaining({ functionId: second.functionId })]) },
  });
  expect((await dev.get(`/functions/${first.functionId}`)).body.deletedAt).toBeUndefined();
  expect((await dev.get(`/functions/${second.functionId}`)).body.deletedAt).toBeUndefined();

  // By id, each one is reached.
  expect((await cli(['functions', 'delete', second.functionId])).code).toBe(0);
  // One left with the name: the name works again.
  expect((await cli(['functions', 'get', 'twin', '--json'])).stdout).toContain(first.functionId);
}, 60_000);

test('invoke --timeout 2 on a 15 s job gives up at 2 s with exit 5 and the job id', async () => {
  const created = await dev.post('/functions', { name: 'sleep', image: platform.images.sleep, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 30 } });
  expect(created.status).toBe(201);
  const slow = await cli(['invoke', 'sleep', '-d', '15', '--timeout', '2']);
  expect(slow.code).toBe(5);
  expect(slow.stderr).toMatch(/chainfaas: job job_\w+ is still (QUEUED|ASSIGNED) after 2 s; follow it with: chainfaas jobs get job_\w+/);
  // Node's start and the login's config read come on top of the 2 s; the job itself takes 15.
  expect(slow.ms).toBeLessThan(4_500);
  expect(slow.ms).toBeGreaterThanOrEqual(2_000);
}, 60_000);

test('a refused --key is said as a refused key (exit 3), not as a lost login', async () => {
  const fn = (await dev.get('/functions')).body.items[0].functionId as string;
  const refused = await cli(['invoke', fn, '-d', 'x', '--key', `ik_${'b'.repeat(30)}`]);
  expect(refused.code).toBe(3);
  expect(refused.stderr).toMatch(/^chainfaas: The invoke key was refused \(.+\): it is mistyped, revoked or expired\. Ask the function's owner for a valid key\.\n$/);
  expect(refused.stderr).not.toContain('Log in again');
});

test('list commands answer --json as {items}, like jobs list', async () => {
  const fn = (await dev.get('/functions')).body.items[0].functionId as string;
  expect((await cli(['keys', 'create', fn, '--name', 'site'])).code).toBe(0);
  const keys = JSON.parse((await cli(['keys', 'list', fn, '--json'])).stdout);
  expect(keys).toEqual({ items: [expect.objectContaining({ name: 'site', tokenId: expect.any(String) })] });
  expect(JSON.parse((await cli(['functions', 'list', '--json'])).stdout)).toEqual({ items: expect.any(Array) });
  expect(JSON.parse((await cli(['jobs', 'list', '--json'])).stdout)).toMatchObject({ items: expect.any(Array) });
  expect(JSON.parse((await cli(['history', '--json'])).stdout)).toEqual({ items: expect.any(Array) });
  expect(JSON.parse((await cli(['providers', '--json'])).stdout)).toEqual({ items: [] });
});
