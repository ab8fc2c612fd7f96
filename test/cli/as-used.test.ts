import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, Platform } from '../../local/platform';
import { Api } from '../support/api';
import { buildCli, ROOT } from './build-cli';

/**
 * Issue #22: the `chainfaas` CLI as people use it — the compiled binary in a subprocess against
 * the local platform: ambiguous names, `--timeout`, a refused `--key`, the `--json` shapes.
 */

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

function cli(args: string[], options: { input?: string; env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: home, CHAINFAAS_CONFIG: configFile, ...options.env };
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { env: env as NodeJS.ProcessEnv, cwd: options.cwd ?? home, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Runs the CLI on a pseudo-terminal (`script`), as in a person's shell, and answers each prompt
 * when it appears: `answers` maps the prompt's text to what is typed (then Enter). Answers what
 * the terminal showed: a hidden answer must not be in it.
 */
function onTerminal(args: string[], answers: [string, string][], env: Record<string, string> = {}): Promise<{ code: number; screen: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { PATH: process.env.PATH, HOME: home, CHAINFAAS_CONFIG: configFile, TERM: 'dumb', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let next = 0;
    child.stdout.on('data', (c) => {
      screen += c;
      while (next < answers.length && screen.split((answers[next] as [string, string])[0]).length - 1 > answers.slice(0, next).filter(([q]) => q === (answers[next] as [string, string])[0]).length) {
        child.stdin.write(`${(answers[next] as [string, string])[1]}\r`);
        next++;
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, screen }));
  });
}

beforeAll(async () => {
  await buildCli();
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
  expect(refused.stderr).toMatch(/\nchainfaas: The invoke key was refused \(.+\)\. Check the key, or ask the function's owner for a new one\.\n$/);
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

test('register and login on a terminal ask for the password without echo; nothing secret is on the command line', async () => {
  const email = `asked${Date.now()}@example.test`;
  const secret = 'typed on a terminal 42';
  const otherConfig = join(home, 'asked.json');
  const registered = await onTerminal(['register', '--api-url', platform.apiUrl, '--email', email], [
    ['Password: ', secret],
    ['Password again: ', secret],
  ], { CHAINFAAS_CONFIG: otherConfig });
  expect(registered.code).toBe(0);
  expect(registered.screen).toContain('Password: ');
  expect(registered.screen).toContain(`Registered ${email} (developer) at ${platform.apiUrl}; logged in.`);
  expect(registered.screen).not.toContain(secret);
  expect(JSON.parse(readFileSync(otherConfig, 'utf8'))).toMatchObject({ apiUrl: platform.apiUrl, email, token: expect.stringMatching(/^cf_/) });
  expect(readFileSync(otherConfig, 'utf8')).not.toContain(secret);
  expect(JSON.parse((await cli(['whoami', '--json'], { env: { CHAINFAAS_CONFIG: otherConfig } })).stdout)).toMatchObject({ email });

  // Two different passwords: refused, nothing created.
  const differ = await onTerminal(['register', '--api-url', platform.apiUrl, '--email', `x${email}`], [
    ['Password: ', secret],
    ['Password again: ', 'something else entirely'],
  ]);
  expect(differ.code).toBe(2);
  expect(differ.screen).toContain('the two passwords differ; nothing was changed');

  // login asks for the email and the password; a wrong one is exit 3.
  const third = join(home, 'third.json');
  const login = await onTerminal(['login', '--api-url', platform.apiUrl], [
    ['Email: ', email],
    ['Password: ', secret],
  ], { CHAINFAAS_CONFIG: third });
  expect(login.code).toBe(0);
  expect(login.screen).toContain(`Logged in to ${platform.apiUrl} as ${email}`);
  expect(login.screen).not.toContain(secret);
  const wrong = await onTerminal(['login', '--api-url', platform.apiUrl, '--email', email], [['Password: ', 'not it at all']]);
  expect(wrong.code).toBe(3);
  expect(wrong.screen).not.toContain('not it at all');
  // Not a terminal and no --password-stdin: told how, never hanging on a read.
  expect(await cli(['register', '--api-url', platform.apiUrl, '--email', `y${email}`])).toMatchObject({ code: 2, stderr: expect.stringContaining('give --password-stdin') });
}, 60_000);

test('logs -f waits for a running job and prints its log; an unknown command suggests the near one', async () => {
  const fail = await dev.post('/functions', { name: 'fail', image: platform.images.fail, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } });
  const job = (await dev.post(`/functions/${fail.body.functionId}/invocations`, { mode: 'async', input: 'x' })).body.jobId as string;
  const followed = await cli(['logs', job, '-f']);
  expect(followed).toMatchObject({ code: 0, stdout: 'fail: this function always fails (exit status 3)\n' });
  expect(followed.stderr).toContain(`job ${job} FAILED`);
  const typo = await cli(['invoek', 'x']);
  expect(typo).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "invoek"; did you mean "invoke"?') });
  expect((await cli(['fucntions', 'list'])).stderr).toContain('did you mean "functions list"?');
}, 60_000);

test('up: from an example folder, build, push to the platform’s registry, register pinned by digest, invoke; up again writes version 2', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'chainfaas-up-')), 'hasher');
  mkdirSync(dir);
  const examples = join(ROOT, 'examples');
  execFileSync('go', ['build', '-trimpath', '-buildvcs=false', '-o', join(dir, 'sha256'), './sha256'], { cwd: examples, env: { ...process.env, CGO_ENABLED: '0', GOOS: 'linux' } });
  copyFileSync(join(examples, 'sha256', 'Dockerfile'), join(dir, 'Dockerfile'));

  const first = await cli(['up', '--memory-mb', '64', '--json'], { cwd: dir });
  expect(first.code).toBe(0);
  const fn = JSON.parse(first.stdout);
  expect(fn).toMatchObject({ name: 'hasher', version: 1, resources: { memoryMb: 64 } });
  expect(fn.image).toMatch(new RegExp(`^${platform.registry.replace(/[.]/g, '\\.')}/hasher@sha256:[0-9a-f]{64}$`));
  const invoked = await cli(['invoke', 'hasher', '-d', 'hello', '-q']);
  expect(invoked.code).toBe(0);
  expect(JSON.parse(invoked.stdout)).toMatchObject({ bytes: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' });

  const again = await cli(['up', '--timeout-s', '15'], { cwd: dir });
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/^Updated function hasher \(fn_\w+\), version 2, image \S+@sha256:[0-9a-f]{64}\. Run it: chainfaas invoke hasher\n$/);
  expect(again.stderr).toContain('pushing');
  expect((await dev.get(`/functions/${fn.functionId}`)).body).toMatchObject({ version: 2, resources: { memoryMb: 64, timeoutS: 15 } });
  expect(await cli(['up'], { cwd: home })).toMatchObject({ code: 2, stderr: expect.stringContaining('has no Dockerfile') });
}, 180_000);

test('--output yaml|json|table; the price before a run; -o FILE and --output FILE still write a file', async () => {
  const yaml = await cli(['functions', 'get', 'sleep', '--output', 'yaml']);
  expect(yaml.code).toBe(0);
  // The same data as the JSON, as YAML: scalars plain where they read back as themselves.
  const asJson = JSON.parse((await cli(['functions', 'get', 'sleep', '--json'])).stdout);
  expect(yaml.stdout).toMatch(new RegExp(`^functionId: ${asJson.functionId}$`, 'm'));
  expect(yaml.stdout).toMatch(/^name: sleep$/m);
  expect(yaml.stdout).toMatch(new RegExp(`^image: "${asJson.image.replace(/[.]/g, '\\.')}"$`, 'm'));
  expect(yaml.stdout).toMatch(/^resources:\n( {2}(vcpu: 0\.5|memoryMb: 64|diskMb: 64|timeoutS: 30)\n){4}/m);
  expect(yaml.stdout).toMatch(/^env: \{\}$/m);
  expect(yaml.stdout).toMatch(new RegExp(`^maxPrice: ${asJson.maxPrice}$`, 'm'));
  const list = await cli(['functions', 'list', '--output=yaml']);
  expect(list.stdout).toMatch(/^items:\n {2}- \w+: /);
  expect(list.stdout).toMatch(/^ {4}functionId: fn_\w+$/m);
  expect(JSON.parse((await cli(['functions', 'get', 'sleep', '--output', 'json'])).stdout)).toMatchObject({ name: 'sleep' });
  expect(await cli(['functions', 'list', '--output', 'xml'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--output xml: choose json, yaml or table') });
  // An API refusal in YAML for a script that asked for YAML.
  const missing = await cli(['jobs', 'get', 'job_nope', '--output', 'yaml']);
  expect(missing.code).toBe(1);
  expect(missing.stdout).toMatch(/^error:\n {2}code: not_found\n/);

  // The table says what a job costs before it runs: the rate at its resources and the cap.
  const shown = await cli(['functions', 'get', 'sleep']);
  expect(shown.stdout).toMatch(/\nPrice: {2}about \d+\.\d{6} credits per second of run time \(0\.5 vCPU and 64 MB at price list v\d+\), at most \d+\.\d{6} credits per job \(its price cap; a job that runs to its 30 s timeout costs no more\)\. Failed and cancelled jobs cost nothing\.\n/);

  const sha = (await dev.post('/functions', { name: 'sha', image: platform.images.sha256, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })).body.functionId as string;
  const short = join(home, 'short.json');
  const long = join(home, 'long.json');
  expect((await cli(['invoke', sha, '-d', 'abc', '-q', '-o', short])).code).toBe(0);
  expect((await cli(['invoke', sha, '-d', 'abc', '-q', '--output', long])).code).toBe(0);
  expect(JSON.parse(readFileSync(long, 'utf8'))).toEqual(JSON.parse(readFileSync(short, 'utf8')));
}, 60_000);

test('completion bash: a script bash loads, completing commands, subcommands and options', async () => {
  const script = await cli(['completion', 'bash']);
  expect(script.code).toBe(0);
  const file = join(home, 'chainfaas.bash');
  writeFileSync(file, script.stdout);
  // Ask bash itself what it would complete.
  const complete = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const words = line.split(' ');
      const program = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _chainfaas; echo "\${COMPREPLY[*]}"`;
      const child = spawn('bash', ['-c', program]);
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.on('error', reject);
      child.on('close', () => resolve(out.trim()));
    });
  expect((await complete('chainfaas fu')).split(' ')).toEqual(['functions']);
  expect((await complete('chainfaas functions d')).split(' ')).toEqual(['delete']);
  expect((await complete('chainfaas invoke --ti')).split(' ')).toEqual(['--timeout']);
  expect((await complete('chainfaas u')).split(' ')).toEqual(['up']);
  expect(await cli(['completion', 'tcsh'])).toMatchObject({ code: 2, stderr: expect.stringContaining('give one of bash, zsh, fish') });
});

/** Runs a shell program and answers its stdout (the shells come from local/setup.sh). */
function shell(program: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: { PATH: process.env.PATH, HOME: home } });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

test('completion fish: fish itself completes commands, subcommands and options (with their help)', async () => {
  const file = join(home, 'chainfaas.fish');
  writeFileSync(file, (await cli(['completion', 'fish'])).stdout);
  const complete = async (line: string) => (await shell('fish', ['--no-config', '-c', `source ${file}; complete -C '${line}'`])).out.trim().split('\n');
  expect(await complete('chainfaas fu')).toEqual(['functions\tfunctions: create, list, get, update, delete']);
  expect((await complete('chainfaas jobs ')).map((l) => l.split('\t')[0])).toEqual(['cancel', 'get', 'list', 'logs', 'result']);
  expect(await complete('chainfaas invoke --ti')).toEqual(['--timeout\thow long to wait for the result (default: the function’s timeout + 120 s)']);
  expect((await complete('chainfaas whoami --pro')).map((l) => l.split('\t')[0])).toEqual(['--profile']);
});

test('completion zsh: a script zsh loads; its function offers commands, subcommands and options', async () => {
  const file = join(home, '_chainfaas');
  writeFileSync(file, (await cli(['completion', 'zsh'])).stdout);
  expect(await shell('zsh', ['-n', file])).toEqual({ code: 0, out: '' });
  // Under zsh's completion system for real: compinit loads the file from fpath, then the
  // function runs with compadd recording what it would offer.
  const complete = async (words: string[]) => {
    const program = [
      `fpath=(${home} $fpath); autoload -U compinit; compinit -u -d ${join(home, '.zcompdump')}`,
      'autoload -U _chainfaas',
      'compadd() { shift; print -r -- "$@" }; _files() { print FILES }',
      `words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}; PREFIX='${words[words.length - 1]}'`,
      '_chainfaas',
    ].join('; ');
    return (await shell('zsh', ['-f', '-c', program])).out.trim();
  };
  expect(await complete(['chainfaas', 'fu'])).toContain('functions');
  expect(await complete(['chainfaas', 'keys', ''])).toBe('create list revoke');
  expect((await complete(['chainfaas', 'invoke', '--'])).split(' ')).toEqual(expect.arrayContaining(['--timeout', '--data-file', '--profile']));
  expect(await complete(['chainfaas', 'invoke', 'sha'])).toBe('FILES');
});

test('named profiles: login writes into one; --profile and CHAINFAAS_PROFILE choose; profiles lists them; logout removes one', async () => {
  const email = `profile${Date.now()}@example.test`;
  const other = await new Api(platform.apiUrl).post('/users', { email, password: PASSWORD, roles: ['developer'] });
  expect(other.status).toBe(201);
  const login = await cli(['login', '--profile', 'staging', '--api-url', platform.apiUrl, '--token', other.body.token]);
  expect(login).toMatchObject({ code: 0, stdout: `Logged in to ${platform.apiUrl} as ${email} (developer). Saved to ${configFile} (profile staging).\n` });
  // The default login is untouched; each profile acts as its own user.
  const me = async (env: Record<string, string> = {}, args: string[] = []) => JSON.parse((await cli(['whoami', '--json', ...args], { env })).stdout).email as string;
  expect(await me()).not.toBe(email);
  expect(await me({}, ['--profile', 'staging'])).toBe(email);
  expect(await me({ CHAINFAAS_PROFILE: 'staging' })).toBe(email);
  const saved = JSON.parse(readFileSync(configFile, 'utf8'));
  expect(saved.profiles.staging).toMatchObject({ apiUrl: platform.apiUrl, email });
  expect(saved.token).toBeDefined();
  const listed = await cli(['profiles', '--profile', 'staging']);
  expect(listed.code).toBe(0);
  expect(listed.stdout).toMatch(new RegExp(`^ +PROFILE +API +EMAIL\n +default +${platform.apiUrl.replace(/[.]/g, '\\.')} +people\\d+@example\\.test\n\\* +staging +\\S+ +${email.replace(/[.]/g, '\\.')}\n$`));
  // An unknown profile: not logged in, and told how to log in to it.
  expect(await cli(['whoami', '--profile', 'nope'])).toMatchObject({ code: 3, stderr: expect.stringContaining('not logged in (profile nope): run chainfaas login --profile nope') });
  expect(await cli(['whoami', '--profile', 'no/pe'])).toMatchObject({ code: 3, stderr: expect.stringContaining('a profile name is 1-64 characters') });
  expect(await cli(['logout', '--profile', 'staging'])).toMatchObject({ code: 0, stdout: `Logged out (removed profile staging from ${configFile}).\n` });
  expect(JSON.parse(readFileSync(configFile, 'utf8')).profiles).toBeUndefined();
  expect(await me()).not.toBe(email);
});
