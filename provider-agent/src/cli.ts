#!/usr/bin/env node
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AgentEvent, AgentStatus, ProviderAgent } from './agent';
import {
  ConfigError,
  ensureConfigDir,
  loadProviderState,
  loadToken,
  PID_FILE,
  resolveSettings,
  RUN_DIR,
  saveProviderState,
  Settings,
  SETTINGS,
  STATE_FILE,
  STATUS_FILE,
} from './config';
import { AGENT_NODE, requireNode } from '../../contract/src/node-support';
import { ControllerClient } from './controller-client';
import { createProviderKeys, loadPrivateKey, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from './keys';
import { errorMessage, jsonLogger, Logger, LogLevel, LOG_LEVELS } from './log';
import { service } from './service';

/**
 * `chainfaas-provider`: register this machine as a compute provider, run the agent, show its
 * status, or drain it. Configuration comes from flags, then CHAINFAAS_* variables, then defaults.
 */

const USAGE = `usage: chainfaas-provider <command> [flags]

commands:
  register   create this machine's key pair and register it with the platform
  start      run the agent until SIGINT/SIGTERM (a first signal drains, a second one forces)
  status     show the running agent's status (--json for the raw status)
  drain      ask the running agent to finish its jobs and stop, and wait for it
  service install|uninstall
             run the registered agent as a systemd service (enabled and started now), or remove it

flags (each may also be set by its environment variable):
${Object.values(SETTINGS)
  .map((s) => `  --${s.flag.padEnd(22)} ${s.env.padEnd(32)} ${s.doc}`)
  .join('\n')}
  --force                  register: replace an existing key pair
  --json                   status: print the status as JSON
  --timeout-s              drain: give up waiting after this many seconds (default 900)
  --user | --system        service: the user's service manager (default) or the system's (as root)
  --memory-max-mb          service: MemoryMax of the agent process (default: the registered memory)
  --cpu-quota              service: CPUQuota of the agent process, % of one CPU (default: 100 x registered vCPUs)
  --unit-dir               service: where the unit goes (default ~/.config/systemd/user or /etc/systemd/system)
  --no-enable              service: write or remove the unit only, do not call systemctl
  --dry-run                service: print the unit and change nothing
`;

/** Runs one command with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    throw new ConfigError(`${errorMessage(err)} (see chainfaas-provider --help)`);
  }
  const { positionals, values } = parsed;
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const settings = resolveSettings(values);
  switch (command) {
    case 'register':
      return register(settings, values.force === true);
    case 'start':
      return start(settings);
    case 'status':
      return status(settings, values.json === true);
    case 'drain':
      return drain(settings, Number(values['timeout-s'] ?? 900));
    case 'service':
      return serviceCommand(settings, positionals[1], values);
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function register(settings: Settings, force: boolean): Promise<number> {
  if (!settings.apiUrl) throw new ConfigError('register needs the API URL: pass --api-url or set CHAINFAAS_API_URL');
  if (!settings.token) throw new ConfigError('register needs a provider token: pass --token or set CHAINFAAS_TOKEN');
  const dir = settings.configDir;
  ensureConfigDir(dir);
  const keys = createProviderKeys(dir, force);
  const capacity = { vcpu: settings.vcpu, memoryMb: settings.memoryMb, diskMb: settings.diskMb };
  try {
    const registration = await new ControllerClient(settings.apiUrl, settings.token).register({ name: settings.name, capacity, publicKey: keys.publicKeyPem });
    saveProviderState(dir, { apiUrl: settings.apiUrl, name: settings.name, capacity, registeredAt: new Date().toISOString(), registration }, settings.token);
    process.stdout.write(
      [
        `registered provider ${registration.providerId} ("${settings.name}", ${capacity.vcpu} vCPU, ${capacity.memoryMb} MB, ${capacity.diskMb} MB disk)`,
        `  queue            ${registration.queueUrl}`,
        `  controller key   ${registration.controllerKeyId}`,
        `  private key      ${join(dir, PRIVATE_KEY_FILE)} (mode 600)`,
        `next: chainfaas-provider start${dir === SETTINGS.configDir.schema.parse(undefined) ? '' : ` --config-dir ${dir}`}`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (err) {
    // Not registered: drop the new key so that registering again needs no --force.
    rmSync(join(dir, PRIVATE_KEY_FILE), { force: true });
    rmSync(join(dir, PUBLIC_KEY_FILE), { force: true });
    throw err;
  }
}

async function start(settings: Settings): Promise<number> {
  const dir = settings.configDir;
  const state = loadProviderState(dir);
  const pidFile = join(dir, PID_FILE);
  const running = readPid(pidFile);
  if (running !== undefined && isAlive(running)) throw new ConfigError(`an agent is already running for ${dir} (pid ${running})`);

  const line = process.stdout.isTTY ? new StatusLine() : undefined;
  const logger = line ? line.logger(settings.logLevel) : jsonLogger(settings.logLevel);
  const agent = new ProviderAgent(
    {
      apiUrl: settings.apiUrl ?? state.apiUrl,
      token: loadToken(dir, settings),
      registration: state.registration,
      privateKeyPem: loadPrivateKey(dir),
      capacity: state.capacity,
      limits: { maxResultBytes: settings.maxResultBytes, maxLogBytes: settings.maxLogBytes, tmpfsMb: settings.tmpfsMb, pidsLimit: settings.pidsLimit },
      imageCacheBytes: settings.imageCacheMb * 1024 * 1024,
      warmPool: { memoryMb: settings.warmPoolMb, idleS: settings.warmIdleS, startupTimeoutS: settings.httpStartupS },
      pollWaitS: settings.pollWaitS,
      visibilityTimeoutS: settings.visibilityTimeoutS,
      statusFile: join(dir, STATUS_FILE),
      stateDir: dir,
      runDir: join(dir, RUN_DIR),
    },
    { logger, onEvent: line ? (event) => line.show(event) : undefined },
  );
  let signals = 0;
  const onSignal = (name: string) => {
    signals++;
    logger.info(signals === 1 ? `${name}: draining (send it again to stop at once)` : `${name}: stopping at once, returning running jobs`);
    void agent.stop({ force: signals > 1 });
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  // Output nobody reads any more (`chainfaas-provider start | tee log`, tee gone): not a crash. The
  // agent drains as on a first SIGTERM, unless a signal already asked for that (issue #18 item 7).
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      if (signals > 0) return;
      signals++;
      void agent.stop({ force: false });
    });
  }

  writeFileSync(pidFile, `${process.pid}\n`);
  try {
    await agent.start();
    await agent.whenStopped();
  } finally {
    rmSync(pidFile, { force: true });
    line?.close();
  }
  return 0;
}

async function status(settings: Settings, json: boolean): Promise<number> {
  const dir = settings.configDir;
  const state = loadProviderState(dir);
  const pid = readPid(join(dir, PID_FILE));
  const alive = pid !== undefined && isAlive(pid);
  const statusPath = join(dir, STATUS_FILE);
  const last = existsSync(statusPath) ? (JSON.parse(readFileSync(statusPath, 'utf8')) as AgentStatus) : undefined;
  if (json) {
    process.stdout.write(`${JSON.stringify({ providerId: state.registration.providerId, pid: alive ? pid : null, status: last ?? null }, null, 2)}\n`);
    return 0;
  }
  const out = [
    `provider ${state.registration.providerId} ("${state.name}") at ${state.apiUrl}`,
    `  agent      ${alive ? `running (pid ${pid}), ${last?.state ?? 'starting'}` : 'not running'}`,
  ];
  if (last) {
    out.push(`  capacity   ${last.used.vcpu}/${last.capacity.vcpu} vCPU, ${last.used.memoryMb}/${last.capacity.memoryMb} MB in use`);
    out.push(
      `  jobs       ${last.totals.succeeded} succeeded, ${last.totals.failed} failed, ${last.totals.refused} refused, ${last.totals.returned} returned, ${last.totals.revoked ?? 0} revoked` +
        (last.totals.duplicates ? `, ${last.totals.duplicates} duplicate deliveries` : ''),
    );
    for (const job of last.jobs) out.push(`    ${job.jobId} (${job.functionId}, attempt ${job.attempt}): ${job.phase} since ${job.since}`);
    out.push(`  images     ${last.cachedImages.length} cached`);
    out.push(`  warm       ${last.warmFunctions?.length ? last.warmFunctions.join(', ') : 'no functions'}`);
    out.push(`  heartbeat  ${last.lastHeartbeatAt ?? 'none yet'}`);
    if (last.lastError) out.push(`  last error ${last.lastError}`);
    out.push(`  updated    ${last.updatedAt}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

async function drain(settings: Settings, timeoutS: number): Promise<number> {
  const dir = settings.configDir;
  const pid = readPid(join(dir, PID_FILE));
  if (pid === undefined || !isAlive(pid)) {
    process.stdout.write('no agent is running\n');
    return 0;
  }
  process.kill(pid, 'SIGTERM');
  process.stdout.write(`asked agent ${pid} to drain; waiting for its jobs to finish\n`);
  const until = Date.now() + timeoutS * 1000;
  while (isAlive(pid)) {
    if (Date.now() > until) {
      process.stderr.write(`the agent is still draining after ${timeoutS} s; it keeps going (run drain again to wait more)\n`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  process.stdout.write('agent stopped\n');
  return 0;
}

async function serviceCommand(settings: Settings, action: string | undefined, values: ReturnType<typeof parseCommandLine>['values']): Promise<number> {
  if (action !== 'install' && action !== 'uninstall') throw new ConfigError('service needs install or uninstall');
  if (values.user && values.system) throw new ConfigError('service: pass --user or --system, not both');
  const number = (flag: 'memory-max-mb' | 'cpu-quota', min: number) => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(`--${flag} must be an integer of at least ${min} (got ${JSON.stringify(raw)})`);
    return n;
  };
  const registered = existsSync(join(settings.configDir, STATE_FILE)) ? loadProviderState(settings.configDir).capacity : undefined;
  return service({
    action,
    scope: values.system ? 'system' : 'user',
    configDir: settings.configDir,
    capacity: registered,
    memoryMaxMb: number('memory-max-mb', 64),
    cpuQuotaPercent: number('cpu-quota', 1),
    unitDir: values['unit-dir'],
    enable: values['no-enable'] !== true,
    dryRun: values['dry-run'] === true,
    systemctl: values.systemctl,
    out: (text) => process.stdout.write(text),
  });
}

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...Object.fromEntries(Object.values(SETTINGS).map((s) => [s.flag, { type: 'string' as const }])),
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      'timeout-s': { type: 'string' },
      user: { type: 'boolean' },
      system: { type: 'boolean' },
      'memory-max-mb': { type: 'string' },
      'cpu-quota': { type: 'string' },
      'unit-dir': { type: 'string' },
      'no-enable': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      /** The systemctl to call; tests point it at a recorder (there is no systemd in CI's container). */
      systemctl: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function readPid(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const pid = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A one-line status display at the bottom of a terminal: log lines scroll above it, the line
 * itself shows capacity in use, running jobs and, during a pull, the bytes fetched so far.
 */
class StatusLine {
  private text = '';
  private readonly pulls = new Map<string, string>();

  logger(level: LogLevel): Logger {
    const threshold = LOG_LEVELS.indexOf(level);
    const at =
      (name: Exclude<LogLevel, 'silent'>) =>
      (message: string, fields: Record<string, unknown> = {}) => {
        if (LOG_LEVELS.indexOf(name) < threshold) return;
        const details = Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        this.print(`${new Date().toISOString().slice(11, 19)} ${name.padEnd(5)} ${message}${details ? `  ${details}` : ''}`);
      };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  show(event: AgentEvent): void {
    if (event.kind === 'pull') {
      const p = event.progress;
      const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
      this.pulls.set(event.jobId, `pulling ${p.image.split('@')[0]} ${p.layersDone}/${p.layersTotal} layers, ${mb(p.currentBytes)}/${mb(p.totalBytes)} MB`);
    } else {
      const s = event.status;
      for (const jobId of this.pulls.keys()) if (!s.jobs.some((j) => j.jobId === jobId && j.phase === 'pulling')) this.pulls.delete(jobId);
      const heartbeat = s.lastHeartbeatAt ? `${Math.round((Date.now() - Date.parse(s.lastHeartbeatAt)) / 1000)}s ago` : 'none yet';
      this.text =
        `[${s.state}] ${s.providerId} | ${s.jobs.length} running, ${s.used.vcpu}/${s.capacity.vcpu} vCPU, ${s.used.memoryMb}/${s.capacity.memoryMb} MB` +
        ` | ${s.totals.succeeded} ok, ${s.totals.failed} failed, ${s.totals.refused} refused | heartbeat ${heartbeat}`;
    }
    this.redraw();
  }

  close(): void {
    process.stdout.write('\r\x1b[K');
  }

  private print(line: string): void {
    process.stdout.write(`\r\x1b[K${line}\n`);
    this.redraw();
  }

  private redraw(): void {
    const pulls = [...this.pulls.values()];
    const line = pulls.length ? `${this.text} | ${pulls.join('; ')}` : this.text;
    process.stdout.write(`\r\x1b[K${line.slice(0, (process.stdout.columns || 160) - 1)}`);
  }
}

if (require.main === module) {
  requireNode('chainfaas-provider', AGENT_NODE);
  // Other commands stop quietly when their output is closed (`chainfaas-provider status | head -1`).
  if (process.argv[2] !== 'start') {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`chainfaas-provider: ${err instanceof ConfigError ? err.message : errorMessage(err)}\n`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    },
  );
}
