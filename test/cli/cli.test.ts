import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, Platform } from '../../local/platform';
import { eventually } from '../support/api';
import { buildCli, CLI_BIN, type CliRun, runCli } from './build-cli';

/**
 * The `chainfaas` CLI as a user runs it: the compiled binary (dist/cli/chainfaas.js) in a
 * subprocess, against the whole local platform, checking what it prints and its exit codes.
 */

const BIN = CLI_BIN;
const PASSWORD = 'correct horse battery';

let platform: Platform;
let home: string;
let configFile: string;

type Run = CliRun;

/** Runs the binary with this test's home and config (and `env` on top). */
const cli = (args: string[], options: { input?: string | Buffer; env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Run> =>
  runCli(args, { HOME: home, CHAINFAAS_CONFIG: configFile, ...options.env }, { input: options.input, cwd: options.cwd ?? home });

let email = '';
let images: Record<string, string>;

beforeAll(async () => {
  await buildCli();
  home = mkdtempSync(join(tmpdir(), 'chainfaas-cli-home-'));
  configFile = join(home, '.chainfaas', 'config.json');
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-cli-')), log: () => undefined });
  images = platform.images;
  email = `cli${Date.now()}@example.test`;
  const res = await fetch(`${platform.apiUrl}/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD, roles: ['developer'] }) });
  expect(res.status).toBe(201);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

test('help, version and usage errors: exit 0 for help, 2 for a bad command line, 3 when not logged in', async () => {
  const help = await cli(['--help']);
  expect(help.code).toBe(0);
  for (const c of ['login', 'functions create', 'functions list', 'functions get', 'functions update', 'functions delete', 'invoke', 'jobs list', 'jobs get', 'jobs logs', 'keys create', 'keys revoke', 'balance', 'top-up', 'bills', 'bills get', 'bills pay', 'providers']) {
    expect(help.stdout).toContain(`  ${c} `);
  }
  expect((await cli(['--version'])).stdout).toMatch(/^chainfaas \d+\.\d+\.\d+\n$/);
  const cmdHelp = await cli(['invoke', '--help']);
  expect(cmdHelp.code).toBe(0);
  expect(cmdHelp.stdout).toContain('Usage: chainfaas invoke FUNCTION');

  expect(await cli([])).toMatchObject({ code: 2, stdout: '' });
  expect(await cli(['frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringContaining('chainfaas: unknown command "frobnicate"') });
  expect(await cli(['functions'])).toMatchObject({ code: 2, stderr: expect.stringContaining('"functions" needs a command: create, list, get, update, delete') });
  const badFlag = await cli(['functions', 'list', '--colour']);
  expect(badFlag).toMatchObject({ code: 2, stderr: expect.stringContaining('chainfaas: unknown option --colour\nUsage: chainfaas functions list') });
  expect(await cli(['jobs', 'list', '--limit', 'many'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--limit must be a number, got "many"') });

  const notLoggedIn = await cli(['functions', 'list']);
  expect(notLoggedIn.code).toBe(3);
  expect(notLoggedIn.stderr).toContain('chainfaas: not logged in: run chainfaas login');
  expect(await cli(['whoami', '--api-url', 'ftp://example.com', '--token', 'cf_x'])).toMatchObject({ code: 2, stderr: expect.stringContaining('give an http(s) URL') });

  // Nothing listens on a port just closed: the API cannot be reached, exit 1, and it says so.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const down = await cli(['whoami', '--api-url', `http://127.0.0.1:${port}`, '--token', `cf_${'x'.repeat(43)}`]);
  expect(down).toMatchObject({ code: 1, stderr: `chainfaas: Cannot reach the ChainFaaS API: http://127.0.0.1:${port} did not answer (ECONNREFUSED). Check your network connection and the API address.\n` });
});

test('login: a wrong password is exit 3; --password-stdin saves the API address and a token (0600), never the password', async () => {
  const wrong = await cli(['login', '--api-url', platform.apiUrl, '--email', email, '--password-stdin'], { input: 'not the password\n' });
  expect(wrong).toMatchObject({ code: 3, stderr: 'chainfaas: Email or password is wrong.\n' });
  const noStdin = await cli(['login', '--api-url', platform.apiUrl, '--email', email]);
  expect(noStdin.code).toBe(2);

  const ok = await cli(['login', '--api-url', platform.apiUrl, '--email', email, '--password-stdin'], { input: `${PASSWORD}\n` });
  expect(ok.code).toBe(0);
  expect(ok.stdout).toBe(`Logged in to ${platform.apiUrl} as ${email} (developer). Saved to ${configFile}.\n`);
  expect(statSync(configFile).mode & 0o777).toBe(0o600);
  const saved = readFileSync(configFile, 'utf8');
  expect(saved).not.toContain(PASSWORD);
  expect(JSON.parse(saved)).toMatchObject({ apiUrl: platform.apiUrl, email, token: expect.stringMatching(/^cf_/) });

  const who = await cli(['whoami', '--json']);
  expect(who.code).toBe(0);
  expect(JSON.parse(who.stdout)).toMatchObject({ email, roles: ['developer'] });
  // A token the API does not know is refused with exit 3, and the message says to log in again.
  const forged = await cli(['whoami', '--token', `cf_${'x'.repeat(43)}`]);
  expect(forged.code).toBe(3);
  expect(forged.stderr).toMatch(/^chainfaas: You are not logged in, or your session has expired \(.+\)\. Log in again\.\n$/);
});

let functionId = '';

test('functions create|list|get: a tag is refused naming the field (exit 1, JSON problem with --json); a digest is accepted', async () => {
  const tagged = await cli(['functions', 'create', 'sha256', '--image', `${platform.registry}/chainfaas/sha256:latest`, '--memory-mb', '64']);
  expect(tagged.code).toBe(1);
  expect(tagged.stderr).toMatch(/^chainfaas: Image: must be an image reference pinned by digest/);
  const taggedJson = await cli(['functions', 'create', 'sha256', '--image', 'nope', '--json']);
  expect(taggedJson.code).toBe(1);
  expect(JSON.parse(taggedJson.stdout)).toMatchObject({ error: { status: 400, code: 'invalid_request', field: 'image' } });
  expect(await cli(['functions', 'create', 'sha256', '--memory-mb', '64'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--image is required') });
  expect(await cli(['functions', 'create', 'x', '--image', images.sha256 as string, '--max-price', 'lots'])).toMatchObject({ code: 2 });

  const created = await cli(['functions', 'create', 'sha256', '--image', images.sha256 as string, '--memory-mb', '64', '--timeout-s', '20', '--env', 'GREETING=hello', '--max-price', '0.5', '--json']);
  expect(created.code).toBe(0);
  const fn = JSON.parse(created.stdout);
  expect(fn).toMatchObject({ name: 'sha256', version: 1, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 20 }, env: { GREETING: 'hello' }, maxPrice: 500_000 });
  functionId = fn.functionId;

  const list = await cli(['functions', 'list']);
  expect(list.code).toBe(0);
  const [header, row] = list.stdout.trimEnd().split('\n');
  expect(header).toMatch(/^NAME\s+FUNCTION\s+VERSION\s+RESOURCES\s+MODE\s+PRICE CAP\s+IMAGE$/);
  expect(row).toMatch(new RegExp(`^sha256\\s+${functionId}\\s+1\\s+0.5 vCPU/64 MB/20 s\\s+sync\\s+0.500000\\s+`));

  const byName = await cli(['functions', 'get', 'sha256']);
  expect(byName.code).toBe(0);
  expect(byName.stdout).toContain(`Function:     ${functionId}`);
  expect(byName.stdout).toContain('Environment:  GREETING');
  const missing = await cli(['functions', 'get', 'fn_doesnotexist']);
  expect(missing).toMatchObject({ code: 1, stderr: 'chainfaas: Not found: function fn_doesnotexist does not exist.\n' });
});

test('#23: functions create takes a description, an input schema file and disk; functions get shows them; a mismatching input is refused naming its path', async () => {
  const schemaFile = join(home, 'adder.schema.json');
  const schema = { type: 'object', properties: { num1: { type: 'integer' }, num2: { type: 'integer' } }, required: ['num1', 'num2'] };
  writeFileSync(schemaFile, JSON.stringify(schema));
  const created = await cli(['functions', 'create', 'adder', '--image', images.sha256 as string, '--memory-mb', '64', '--disk-mb', '32', '--description', 'adds two integers', '--input-schema', schemaFile]);
  expect(created.code).toBe(0);
  const shown = await cli(['functions', 'get', 'adder']);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toContain('Description:  adds two integers');
  expect(shown.stdout).toContain('0.5 vCPU, 64 MB, 32 MB disk, 10 s');
  expect(shown.stdout).toContain(`Input schema:\n${JSON.stringify(schema, null, 2)}\n`);
  expect(JSON.parse((await cli(['functions', 'get', 'adder', '--json'])).stdout)).toMatchObject({ description: 'adds two integers', inputSchema: schema, resources: { diskMb: 32 } });
  expect(await cli(['functions', 'create', 'x', '--image', images.sha256 as string, '--input-schema', join(home, 'missing.json')])).toMatchObject({ code: 2, stderr: expect.stringContaining('--input-schema') });

  const refused = await cli(['invoke', 'adder', '--json-input', '-d', '{"num1": 1, "num2": "two"}', '--json']);
  expect(refused.code).toBe(1);
  expect(JSON.parse(refused.stdout)).toMatchObject({ error: { status: 400, field: 'input.num2' } });
  const ran = await cli(['invoke', 'adder', '--json-input', '-d', '{"num1": 1, "num2": 2}']);
  expect(ran.code).toBe(0);
  expect(JSON.parse(ran.stdout)).toMatchObject({ sha256: createHash('sha256').update('{"num1":1,"num2":2}').digest('hex') });
  expect(await cli(['functions', 'delete', 'adder'])).toMatchObject({ code: 0 });
});

test('invoke: prints the result on stdout, writes it to a file with -o, reads stdin; --json for scripts', async () => {
  const input = 'hello, volunteer computing';
  const hello = await cli(['invoke', 'sha256', '-d', input]);
  expect(hello.code).toBe(0);
  const result = JSON.parse(hello.stdout);
  expect(result).toMatchObject({ bytes: Buffer.byteLength(input), words: 3 });
  expect(hello.stderr).toMatch(/job job_\w+ SUCCEEDED in \d+ ms/);

  const out = join(home, 'result.json');
  const toFile = await cli(['invoke', functionId, '--data', input, '-o', out, '--quiet']);
  expect(toFile).toMatchObject({ code: 0, stdout: '', stderr: expect.stringMatching(/^wrote 99 B to /) });
  expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(result);

  const piped = await cli(['invoke', 'sha256', '-q'], { input });
  expect(JSON.parse(piped.stdout)).toEqual(result);
  const inputFile = join(home, 'input.bin');
  writeFileSync(inputFile, input);
  expect(JSON.parse((await cli(['invoke', 'sha256', '-q', '--data-file', inputFile])).stdout)).toEqual(result);
  expect(await cli(['invoke', 'sha256', '--data-file', join(home, 'nope.bin')])).toMatchObject({ code: 2, stderr: expect.stringContaining('no such file') });
  // Over the inline limit (256 KiB) the CLI uploads the input first (POST /functions/{id}/inputs).
  const big = Buffer.alloc(300 * 1024, 'chainfaas ');
  writeFileSync(join(home, 'big.txt'), big);
  const uploaded = await cli(['invoke', 'sha256', '-q', '--data-file', join(home, 'big.txt')]);
  expect(uploaded.code).toBe(0);
  expect(JSON.parse(uploaded.stdout)).toMatchObject({ sha256: createHash('sha256').update(big).digest('hex'), bytes: big.length });

  const json = await cli(['invoke', 'sha256', '-d', input, '--json']);
  const job = JSON.parse(json.stdout);
  expect(job).toMatchObject({ status: 'SUCCEEDED', functionId, providerId: platform.provider?.providerId });
  expect(JSON.parse(job.output)).toEqual(result);
});

test('invoke: a failing job exits 4 with its reason and log; a job still running when --timeout passes exits 5', async () => {
  const fail = await cli(['functions', 'create', 'fail', '--image', images.fail as string, '--memory-mb', '64', '--json']);
  expect(fail.code).toBe(0);
  const failed = await cli(['invoke', 'fail', '-d', 'x']);
  expect(failed.code).toBe(4);
  expect(failed.stdout).toBe('');
  expect(failed.stderr).toMatch(/chainfaas: job (job_\w+) FAILED: the function exited with code 3/);
  expect(failed.stderr).toContain('--- log (stderr) ---\nfail: this function always fails (exit status 3)');
  const failedJob = /job (job_\w+) FAILED/.exec(failed.stderr)?.[1] as string;

  const logs = await cli(['jobs', 'logs', failedJob]);
  expect(logs).toMatchObject({ code: 0, stdout: 'fail: this function always fails (exit status 3)\n' });

  expect((await cli(['functions', 'create', 'sleep', '--image', images.sleep as string, '--memory-mb', '64', '--timeout-s', '30'])).code).toBe(0);
  const slow = await cli(['invoke', 'sleep', '-d', '25', '--timeout', '1']);
  expect(slow.code).toBe(5);
  const running = /job (job_\w+) is still (QUEUED|ASSIGNED)/.exec(slow.stderr);
  expect(running).not.toBeNull();
  const stillRunning = await cli(['jobs', 'logs', running?.[1] as string]);
  expect(stillRunning.code).toBe(1);
  expect(stillRunning.stderr).toContain('no log yet: its provider uploads it every few seconds');
  expect((await cli(['jobs', 'result', running?.[1] as string])).code).toBe(5);

  const started = await cli(['invoke', 'sleep', '-d', '1', '--async']);
  expect(started.code).toBe(0);
  const asyncId = started.stdout.trim();
  expect(asyncId).toMatch(/^job_\w+$/);
  await eventually('the async job to finish', async () => {
    const r = await cli(['jobs', 'get', asyncId, '--json']);
    return JSON.parse(r.stdout).status === 'SUCCEEDED' ? true : undefined;
  }, 60_000);
  const res = await cli(['jobs', 'result', asyncId]);
  expect(res).toMatchObject({ code: 0, stdout: '{"sleptS":1}\n' });
}, 120_000);

test('invoke on a terminal draws a spinner on stderr while it waits', async () => {
  // `script` gives the CLI a pseudo-terminal, as a person's shell would.
  const command = [process.execPath, BIN, 'invoke', 'sleep', '-d', '2'].map((a) => `'${a}'`).join(' ');
  const tty = await new Promise<Run>((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { PATH: process.env.PATH, HOME: home, CHAINFAAS_CONFIG: configFile, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: '' }));
    child.stdin.end();
  });
  expect(tty.code).toBe(0);
  expect(tty.stdout).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] (invoking sleep…|job job_\w+ (QUEUED|ASSIGNED)…) \(\d+\.\d s\)/);
  expect(tty.stdout).toMatch(/job job_\w+ SUCCEEDED in 2\.\d+ s/);
  expect(tty.stdout).toContain('{"sleptS":2}');
}, 60_000);

test('jobs list filters by function, status and time; jobs get shows the ledger record', async () => {
  const all = await cli(['jobs', 'list', '--all', '--json']);
  expect(all.code).toBe(0);
  const items = JSON.parse(all.stdout).items as any[];
  expect(items.length).toBeGreaterThanOrEqual(8);

  const sha = JSON.parse((await cli(['jobs', 'list', '--function', 'sha256', '--status', 'succeeded', '--json'])).stdout).items as any[];
  expect(sha.length).toBe(6);
  expect(sha.every((j) => j.functionId === functionId && j.status === 'SUCCEEDED')).toBe(true);
  expect(JSON.parse((await cli(['jobs', 'list', '--status', 'FAILED', '--json'])).stdout).items).toHaveLength(1);
  expect(JSON.parse((await cli(['jobs', 'list', '--until', '2000-01-01T00:00:00Z', '--json'])).stdout).items).toHaveLength(0);
  expect(JSON.parse((await cli(['jobs', 'list', '--since', '1h', '--limit', '100', '--json'])).stdout).items).toHaveLength(items.length);
  expect(await cli(['jobs', 'list', '--status', 'DONE'])).toMatchObject({ code: 1, stderr: expect.stringContaining('chainfaas: Status: must be one or more of QUEUED, ASSIGNED, SUCCEEDED, FAILED, CANCELLED, comma-separated.') });
  expect(await cli(['jobs', 'list', '--since', 'yesterday'])).toMatchObject({ code: 2 });

  const table = await cli(['jobs', 'list', '--function', functionId, '--limit', '2']);
  expect(table.stdout.split('\n')[0]).toMatch(/^JOB\s+FUNCTION\s+STATUS\s+CREATED\s+RUN TIME\s+COST$/);
  expect(table.stdout.trimEnd().split('\n')).toHaveLength(3);
  expect(table.stderr).toContain('more jobs: add --all');

  const jobId = sha[0].jobId as string;
  await eventually('the job to be settled', async () => {
    await platform.flushLedger();
    const j = JSON.parse((await cli(['jobs', 'get', jobId, '--json'])).stdout);
    return j.paid ? j : undefined;
  });
  const shown = await cli(['jobs', 'get', jobId, '--ledger']);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(new RegExp(`^Job:\\s+${jobId}\n`));
  expect(shown.stdout).toMatch(new RegExp(`\nProvider:\\s+${platform.provider?.providerId}\n`));
  expect(shown.stdout).toMatch(/Cost:\s+0\.\d{6} credits/);
  expect(shown.stdout).toContain('Ledger record:');
  expect(shown.stdout).toMatch(/Run time:\s+\d+ ms \(signed by the provider\)/);
  expect(shown.stdout).toMatch(/Paid:\s+yes at/);
  // CreateJob, run time and receipt may land in one ledger batch (one version) or several.
  expect(shown.stdout).toMatch(/History: [1-9]\d* versions?/);
  const withLedger = JSON.parse((await cli(['jobs', 'get', jobId, '--ledger', '--json'])).stdout);
  expect(withLedger.ledger.record).toMatchObject({ jobId, paid: true, cost: withLedger.cost });
  expect(await cli(['jobs', 'get', 'job_nope'])).toMatchObject({ code: 1, stderr: 'chainfaas: Not found: job job_nope does not exist.\n' });
});

test('keys create|list|revoke: the key invokes without a login until it is revoked', async () => {
  const created = await cli(['keys', 'create', 'sha256', '--name', 'website']);
  expect(created.code).toBe(0);
  const key = created.stdout.trim();
  expect(key).toMatch(/^ik_/);
  expect(created.stderr).toContain('It is shown once');
  const listed = JSON.parse((await cli(['keys', 'list', 'sha256', '--json'])).stdout).items as any[];
  expect(listed).toHaveLength(1);
  expect(JSON.stringify(listed)).not.toContain(key);
  const keyId = listed[0].tokenId as string;

  // Someone with only the key and the API address: no config file at all.
  const stranger = { CHAINFAAS_CONFIG: join(home, 'none.json'), CHAINFAAS_API_URL: platform.apiUrl };
  const byKey = await cli(['invoke', functionId, '-d', 'by key', '-q', '--key', key], { env: stranger });
  expect(byKey.code).toBe(0);
  expect(JSON.parse(byKey.stdout)).toMatchObject({ bytes: 6 });
  expect((await cli(['functions', 'list'], { env: stranger })).code).toBe(3);

  expect(await cli(['keys', 'revoke', 'sha256', keyId])).toMatchObject({ code: 0, stdout: `Revoked invoke key ${keyId} of ${functionId}.\n` });
  const refused = await cli(['invoke', functionId, '-d', 'x', '--key', key], { env: stranger });
  expect(refused.code).toBe(3);
  expect(await cli(['keys', 'revoke', 'sha256', keyId])).toMatchObject({ code: 1, stderr: expect.stringContaining('Not found: invoke key') });
});

test('functions update writes a new version; delete stops invocations', async () => {
  const updated = await cli(['functions', 'update', 'sha256', '--memory-mb', '128']);
  expect(updated.code).toBe(0);
  expect(updated.stdout).toContain(`Updated sha256 (${functionId}) to version 2.`);
  expect(updated.stdout).toContain('0.5 vCPU, 128 MB, 64 MB disk, 20 s');
  expect(updated.stdout).toContain('Environment:  GREETING');
  expect(await cli(['functions', 'update', 'sha256'])).toMatchObject({ code: 2, stderr: expect.stringContaining('nothing to change') });

  expect(await cli(['functions', 'delete', functionId])).toMatchObject({ code: 0, stdout: expect.stringContaining(`Deleted sha256 (${functionId})`) });
  const gone = await cli(['invoke', functionId, '-d', 'x']);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/chainfaas: Function fn_\w+ was deleted at .+: it can no longer be invoked\./);
});

test('balance and history agree with what the jobs cost', async () => {
  const jobs = await eventually('every job to be settled', async () => {
    await platform.flushLedger();
    const list = JSON.parse((await cli(['jobs', 'list', '--all', '--json'])).stdout).items as any[];
    const ran = list.filter((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED');
    return ran.every((j) => j.cost !== undefined) ? ran : undefined;
  }, 60_000);
  const spent = jobs.reduce((s, j) => s + (j.paid ? j.cost : 0), 0);
  const account = await eventually('the balance to follow the ledger', async () => {
    const a = JSON.parse((await cli(['balance', '--json'])).stdout);
    return a.balance === 100_000_000 - spent ? a : undefined;
  });
  expect(account.ledgerBalance).toBe(account.balance);
  const text = await cli(['balance']);
  const left = `${Math.floor(account.balance / 1e6)}.${String(account.balance % 1e6).padStart(6, '0')}`;
  expect(text.stdout).toBe(`Balance:        ${left} credits\nOn the ledger:  ${left} credits\n`);
  const history = await cli(['history']);
  expect(history.code).toBe(0);
  expect(history.stdout).toContain('topup');
  expect(history.stdout).toContain('+100.000000');
  const settled = history.stdout.split('\n').filter((l) => l.includes('settlement')).map((l) => /(job_\w+)/.exec(l)?.[1]);
  expect(settled.sort()).toEqual(jobs.filter((j) => j.paid && j.cost > 0).map((j) => j.jobId).sort());
});

test('top-up credits once per reference; bills list, get (CSV as the API writes it, to a file) and pay; exit codes', async () => {
  const token = JSON.parse(readFileSync(configFile, 'utf8')).token as string;
  const before = JSON.parse((await cli(['balance', '--json'])).stdout).balance as number;
  const reference = `cli-test-${Date.now()}`;
  const first = await cli(['top-up', '2.5', '--reference', reference]);
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(new RegExp(`^Topped up 2\\.500000 credits \\(reference ${reference}, payment \\S+\\)\\.`));
  // The same reference again charges nothing more (exit 0, says so); with another amount it is refused.
  expect(await cli(['top-up', '2.5', '--reference', reference])).toMatchObject({ code: 0, stdout: `Top-up ${reference} of 2.500000 credits was already approved: nothing more was charged.\n` });
  const clash = await cli(['top-up', '3', '--reference', reference, '--json']);
  expect(clash.code).toBe(1);
  expect(clash.stderr).toMatch(/^chainfaas: Conflict \(409\): reference .+ was already used/);
  expect(JSON.parse(clash.stdout)).toMatchObject({ error: { status: 409, code: 'conflict' } });
  expect(await cli(['top-up', 'lots'])).toMatchObject({ code: 2, stderr: expect.stringContaining('AMOUNT lots: write credits') });
  expect(await cli(['top-up', '1', '--reference', 'no spaces'])).toMatchObject({ code: 2 });
  // Without --reference the CLI makes one and prints it on stderr, for a retry.
  const generated = await cli(['top-up', '0.5', '--json']);
  expect(generated.code).toBe(0);
  const made = JSON.parse(generated.stdout);
  expect(generated.stderr).toContain(`top-up reference ${made.reference}`);
  expect(made).toMatchObject({ amount: 500_000, status: 'approved', replayed: false });
  await eventually('both top-ups to reach the balance', async () => {
    await platform.flushLedger();
    const a = JSON.parse((await cli(['balance', '--json'])).stdout);
    return a.balance === before + 3_000_000 ? a : undefined;
  });

  const listed = await cli(['bills']);
  expect(listed.code).toBe(0);
  const month = new Date().toISOString().slice(0, 7);
  expect(listed.stdout.split('\n')[0]).toMatch(/^MONTH\s+STATUS\s+TERMS\s+JOBS\s+RUN TIME\s+TOTAL\s+DUE\s+PAYABLE$/);
  expect(listed.stdout).toMatch(new RegExp(`\n${month}\\s+open\\s+\\w+\\s+\\d+\\s+`));
  const asJson = JSON.parse((await cli(['bills', 'list', '--json'])).stdout);
  expect(asJson.items[0]).toMatchObject({ month, accountId: expect.any(String) });

  const api = await (await fetch(`${platform.apiUrl}/account/bills/${month}?format=csv`, { headers: { authorization: `Bearer ${token}` } })).text();
  expect(api).toMatch(/^month,functionId,function,jobs,runtimeMs,cost_micro_credits,diskMbMs\r\n/);
  expect(await cli(['bills', 'get', month, '--csv'])).toMatchObject({ code: 0, stdout: api });
  const file = join(home, `bill-${month}.csv`);
  const saved = await cli(['bills', 'get', month, '--csv', '-o', file]);
  expect(saved).toMatchObject({ code: 0, stdout: '', stderr: expect.stringMatching(/^wrote \d+ B to /) });
  expect(readFileSync(file, 'utf8')).toBe(api);
  const shown = await cli(['bills', 'get', month]);
  expect(shown.stdout).toMatch(new RegExp(`^Month:\\s+${month}\n`));
  // Functions by name (#22), the id beside it.
  expect(shown.stdout).toMatch(/\nFUNCTION\s+ID\s+JOBS\s+RUN TIME\s+COST\n/);
  expect(shown.stdout).toMatch(/\nsha256\s+fn_\w+\s+\d+\s/);
  expect(api).toMatch(/\r\n\d{4}-\d{2},fn_\w+,sha256,\d+,/);
  expect(JSON.parse((await cli(['bills', 'get', month, '--json'])).stdout)).toMatchObject({ month, total: asJson.items[0].total });
  expect(await cli(['bills', 'get', '2026-13'])).toMatchObject({ code: 2, stderr: expect.stringContaining('MONTH 2026-13: write a month as YYYY-MM') });
  expect(await cli(['bills', 'nope'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown bills command "nope"') });

  // This month is still open (and prepaid): nothing can be paid; the API's reason, exit 1.
  expect(asJson.items[0].payable).toBe(false);
  const pay = await cli(['bills', 'pay', month]);
  const refused = (await (await fetch(`${platform.apiUrl}/account/bills/${month}/pay`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).json()) as any;
  expect(pay).toMatchObject({ code: 1, stdout: '', stderr: `chainfaas: Conflict (409): ${String(refused.error.message).replace(/\.$/, '')}. Nothing was changed.\n` });
  expect(JSON.parse((await cli(['bills', 'pay', month, '--json'])).stdout)).toMatchObject({ error: { status: 409, code: 'conflict', month } });
}, 120_000);

test('providers: a developer has none; the local agent is online with its capacity', async () => {
  expect(await cli(['providers'])).toMatchObject({ code: 0, stdout: expect.stringContaining('No providers.') });
  const agent = platform.provider as { providerId: string; token: string };
  const table = await cli(['providers', '--token', agent.token]);
  expect(table.code).toBe(0);
  expect(table.stdout.split('\n')[0]).toMatch(/^PROVIDER\s+NAME\s+STATE\s+CAPACITY\s+FREE\s+RUNNING\s+LAST HEARTBEAT$/);
  expect(table.stdout).toMatch(new RegExp(`\n${agent.providerId}\\s+\\S+\\s+online\\s+\\d+(\\.\\d+)? vCPU/\\d+ MB\\s+`));
  const items = JSON.parse((await cli(['providers', '--token', agent.token, '--json'])).stdout).items as any[];
  expect(items.find((p) => p.providerId === agent.providerId)).toMatchObject({ state: 'online', online: true, capacity: { vcpu: expect.any(Number), memoryMb: expect.any(Number) } });
  expect(await cli(['providers', 'extra'])).toMatchObject({ code: 2 });
});

test('#18 item 7: a closed stdout (chainfaas … | head -1) ends the CLI quietly, with no stack trace', async () => {
  const run = await new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--help'], {
      env: { PATH: process.env.PATH, HOME: home, CHAINFAAS_CONFIG: configFile } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reader goes away before the CLI writes a byte, as head does after its first line.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: '', stderr }));
  });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
});

test('logout forgets the login; the next command exits 3', async () => {
  expect(await cli(['logout'])).toMatchObject({ code: 0, stdout: `Logged out (removed ${configFile}).\n` });
  expect((await cli(['balance'])).code).toBe(3);
  expect(await cli(['balance', '--json'])).toMatchObject({ code: 3, stdout: expect.stringContaining('"code":"config"') });
});
