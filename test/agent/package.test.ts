import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { AGENT_NODE } from '../../contract/src/node-support';
import { AgentProcess } from '../../local/agent-process';
import { Platform, startPlatform } from '../../local/platform';
import { prebuiltRelayImageTag } from '../../provider-agent/src/relay-image';
import { Api, newUser } from '../support/api';
import { tokenOf } from '../scheduling/support';

/**
 * The agent as a volunteer installs it: `npm pack` in provider-agent/ (bundle + relays built for
 * two architectures, once for this file), `npm install -g` of the tarball into an empty prefix
 * with a PATH that holds Node, npm, Docker and /usr/bin but no Go and no repository, then the
 * installed `chainfaas-provider` registers with the local platform and runs a stdio and an http
 * job; and its `service` command writes, checks and removes the systemd unit.
 */

const run = promisify(execFile);
const repo = resolve(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'chainfaas-package-'));
const prefix = join(work, 'prefix');
const pathDir = join(work, 'path');
let tarball: string;
let installedBin: string;
let installedDir: string;
let env: NodeJS.ProcessEnv;
let platform: Platform;
let agent: AgentProcess | undefined;

/** This environment without the repository's traces and with a PATH of Node, npm, Docker and /usr/bin. */
function volunteerEnv(): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|NODE_PATH$|INIT_CWD$|GO)/i.test(k)));
  return { ...clean, PATH: `${pathDir}:/usr/bin:/bin`, HOME: join(work, 'home') };
}

beforeAll(async () => {
  mkdirSync(pathDir);
  mkdirSync(join(work, 'home'));
  for (const tool of ['node', 'npm', 'docker']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(realpathSync(found), join(pathDir, tool));
  }
  env = volunteerEnv();
  const starting = startPlatform({ port: 0, provider: false, dataDir: join(work, 'platform'), log: () => undefined });
  try {
    // npm pack runs prepack (pack.mjs): esbuild, then go build for amd64 and arm64 (Go's cache makes repeats quick).
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: join(repo, 'provider-agent'), maxBuffer: 16 * 1024 * 1024 });
    tarball = join(work, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
    // HOME is the volunteer's, but the packages come from this machine's npm cache when it has them.
    const cache = spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
    await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--cache', cache, tarball], { env, cwd: work });
  } finally {
    platform = await starting;
  }
  installedBin = join(prefix, 'bin', 'chainfaas-provider');
  installedDir = join(prefix, 'lib', 'node_modules', 'chainfaas-provider');
}, 600_000);

afterAll(async () => {
  await agent?.stop();
  await platform?.stop();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

test('the volunteer PATH has no Go, and the installed package holds the bundle and the relays, not the repository', () => {
  expect(spawnSync('sh', ['-c', 'command -v go'], { env }).status).not.toBe(0);
  expect(spawnSync('sh', ['-c', 'command -v chainfaas-provider'], { env }).status).not.toBe(0);

  const listed = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
  expect(listed).toEqual(
    [
      'README.md',
      'dist/cli.js',
      'dist/relay/manifest.json',
      'dist/relay/relay-linux-amd64',
      'dist/relay/relay-linux-arm64',
      'package.json',
      'relay/go.mod',
      'relay/main.go',
    ].map((f) => `package/${f}`),
  );

  const pkg = JSON.parse(readFileSync(join(installedDir, 'package.json'), 'utf8'));
  const root = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  expect(pkg.engines.node).toBe(`>=${AGENT_NODE.replace(/\.0$/, '')}`);
  // Runtime dependencies: the Docker and SQS clients and zod, at the root's versions.
  expect(Object.keys(pkg.dependencies).sort()).toEqual(['@aws-sdk/client-sqs', 'dockerode', 'zod']);
  for (const [name, version] of Object.entries(pkg.dependencies)) expect(`${name}@${version}`).toBe(`${name}@${root.dependencies[name]}`);
  expect(readdirSync(join(installedDir, 'node_modules'))).not.toContain('@aws-sdk/client-dynamodb');

  // The bundle inlines what it takes from the repository and loads nothing else from it.
  const cli = readFileSync(join(installedDir, 'dist', 'cli.js'), 'utf8');
  expect(cli.startsWith('#!/usr/bin/env node\n')).toBe(true);
  expect(cli).not.toMatch(/require\("\.\.?\//);
  const manifest = JSON.parse(readFileSync(join(installedDir, 'dist', 'relay', 'manifest.json'), 'utf8'));
  for (const arch of ['amd64', 'arm64']) {
    const binary = readFileSync(join(installedDir, 'dist', 'relay', `relay-linux-${arch}`));
    expect(createHash('sha256').update(binary).digest('hex')).toBe(manifest.binaries[arch].sha256);
    expect(binary.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(binary[18]).toBe(arch === 'amd64' ? 62 : 183); // e_machine: EM_X86_64, EM_AARCH64
  }
});

test('the installed agent registers with the local platform and runs a stdio and an http job, with no Go', async () => {
  const docker = new Docker();
  const arch = { x86_64: 'amd64', aarch64: 'arm64' }[(await docker.info()).Architecture as string] ?? 'unknown';
  const relayTag = prebuiltRelayImageTag(readFileSync(join(installedDir, 'dist', 'relay', `relay-linux-${arch}`)));
  await docker
    .getImage(relayTag)
    .remove({ force: true })
    .catch(() => undefined);

  const api = new Api(platform.apiUrl);
  const owner = await newUser(api, ['provider']);
  agent = await AgentProcess.register({
    cli: installedBin,
    installed: true,
    env,
    apiUrl: platform.apiUrl,
    token: tokenOf(owner.api),
    name: 'installed',
    capacity: { vcpu: 2, memoryMb: 1024 },
    configDir: join(work, 'home', '.chainfaas-provider'),
  });
  await agent.start();

  const dev = await newUser(api, ['developer']);
  const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 20 };
  const stdio = await dev.api.post('/functions', { name: 'sha256', image: platform.images.sha256, resources });
  const http = await dev.api.post('/functions', { name: 'echo', image: platform.images['echo-http'], resources, protocol: 'http' });
  expect([stdio.status, http.status]).toEqual([201, 201]);

  const input = 'installed with npm, no Go';
  const hashed = await dev.api.post(`/functions/${stdio.body.functionId}/invocations`, { input });
  expect(hashed.body).toMatchObject({ status: 'SUCCEEDED', providerId: agent.providerId });
  expect(JSON.parse(await (await fetch(hashed.body.resultUrl)).text()).sha256).toBe(createHash('sha256').update(input).digest('hex'));

  const echoed = await dev.api.post(`/functions/${http.body.functionId}/invocations`, { input: 'through the prebuilt relay' });
  expect(echoed.body).toMatchObject({ status: 'SUCCEEDED', providerId: agent.providerId });
  expect(await (await fetch(echoed.body.resultUrl)).text()).toBe('through the prebuilt relay');
  // The relay image was built from the packaged binary (its tag is the binary's hash), not from source.
  expect((await docker.getImage(relayTag).inspect()).Architecture).toBe(arch);

  await agent.stop();
  expect(agent.alive).toBe(false);
}, 300_000);

/**
 * `systemd-analyze verify`: the syntax, every directive known (an unknown one is only a warning on
 * stderr, hence the empty stderr), ExecStart's binary executable. Needs no running systemd.
 */
function verifyUnit(file: string): { status: number | null; stderr: string } {
  const verified = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
  return { status: verified.status, stderr: verified.stderr };
}

describe('service', () => {
  const configDir = () => join(work, 'home', '.chainfaas-provider');
  async function provider(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(installedBin, args, { env: { ...env, CHAINFAAS_PROVIDER_DIR: configDir(), ...extra } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  test('--dry-run prints a hardened unit running the installed agent with the registered capacity, and changes nothing', async () => {
    const unitDir = join(work, 'units-dry');
    const dry = await provider(['service', 'install', '--dry-run', '--unit-dir', unitDir]);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    const unit = dry.stdout;
    const node = realpathSync(join(pathDir, 'node'));
    expect(unit).toContain(`ExecStart=${node} ${realpathSync(join(installedDir, 'dist', 'cli.js'))} start --config-dir ${configDir()}\n`);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    // The capacity registered in the previous test (2 vCPU, 1024 MB).
    expect(unit).toMatch(/^MemoryMax=1024M$/m);
    expect(unit).toMatch(/^CPUQuota=200%$/m);
    expect(unit).toMatch(/^WantedBy=default\.target$/m);
    expect(unit).not.toMatch(/^User=/m);
    expect(existsSync(unitDir)).toBe(false);

    const system = await provider(['service', 'install', '--system', '--dry-run', '--memory-max-mb', '300', '--cpu-quota', '50']);
    expect(system.code).toBe(0);
    for (const line of [
      'ProtectSystem=strict',
      'ProtectHome=read-only',
      `ReadWritePaths=${configDir()}`,
      'PrivateTmp=yes',
      'CapabilityBoundingSet=',
      'MemoryMax=300M',
      'CPUQuota=50%',
      'WantedBy=multi-user.target',
    ]) {
      expect(system.stdout.split('\n')).toContain(line);
    }
    expect(system.stdout).toMatch(/^User=\S+$/m);
    if (spawnSync('systemd-analyze', ['--version']).status === 0) {
      mkdirSync(unitDir);
      writeFileSync(join(unitDir, 'chainfaas-provider.service'), system.stdout);
      expect(verifyUnit(join(unitDir, 'chainfaas-provider.service'))).toEqual({ status: 0, stderr: '' });
    }
  });

  test('install writes the unit and enables it with systemctl; uninstall disables and removes it', async () => {
    const unitDir = join(work, 'units');
    // No systemd in this container: a stand-in systemctl records its arguments.
    const calls = join(work, 'systemctl.calls');
    const systemctl = join(work, 'systemctl');
    writeFileSync(systemctl, `#!/bin/sh\necho "$*" >> ${calls}\n`);
    chmodSync(systemctl, 0o755);

    const installed = await provider(['service', 'install', '--unit-dir', unitDir, '--systemctl', systemctl]);
    expect(installed).toMatchObject({ code: 0, stderr: '' });
    const unitFile = join(unitDir, 'chainfaas-provider.service');
    const unit = readFileSync(unitFile, 'utf8');
    expect(unit).toMatch(/^ExecStart=\S+ \S+ start --config-dir /m);
    expect(readFileSync(calls, 'utf8')).toBe('--user daemon-reload\n--user enable --now chainfaas-provider.service\n');

    if (spawnSync('systemd-analyze', ['--version']).status === 0) expect(verifyUnit(unitFile)).toEqual({ status: 0, stderr: '' });

    const removed = await provider(['service', 'uninstall', '--unit-dir', unitDir, '--systemctl', systemctl]);
    expect(removed).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(unitFile)).toBe(false);
    expect(readFileSync(calls, 'utf8').split('\n').slice(2)).toEqual(['--user disable --now chainfaas-provider.service', '--user daemon-reload', '']);
  });

  test('install refuses a bad quota and a conflicting scope', async () => {
    const bad = await provider(['service', 'install', '--dry-run', '--cpu-quota', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--cpu-quota must be an integer');
    const both = await provider(['service', 'install', '--dry-run', '--user', '--system']);
    expect(both.code).toBe(2);
  });
});
