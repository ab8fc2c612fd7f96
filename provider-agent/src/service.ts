import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from './config';

/**
 * `chainfaas-provider service install|uninstall`: the agent as a systemd service, so that it
 * starts at boot (or login), restarts after a crash and runs sandboxed. The unit runs
 * `chainfaas-provider start` with this Node and this package's cli.js (absolute paths: systemd's
 * PATH does not hold a Node installed with nvm or under a prefix).
 */

const run = promisify(execFile);
export const UNIT_NAME = 'chainfaas-provider.service';

export interface UnitOptions {
  /** `user`: a unit of the user's own service manager (systemctl --user); `system`: /etc/systemd/system, run as `user`. */
  scope: 'user' | 'system';
  /** Absolute path of the Node binary and of cli.js. */
  node: string;
  cli: string;
  configDir: string;
  /** The account the agent runs as (system scope only). */
  user: string;
  /** The group owning the Docker socket, added as a supplementary group (system scope, when not root's). */
  dockerGroup?: string;
  /** MemoryMax= in MB and CPUQuota= in percent of one CPU, bounding the agent process itself. */
  memoryMaxMb: number;
  cpuQuotaPercent: number;
  /** Passed on to the agent when set (rootless Docker, a remote engine). */
  dockerHost?: string;
}

/** The unit file's text. */
export function renderUnit(o: UnitOptions): string {
  const system = o.scope === 'system';
  const lines = [
    '# Written by `chainfaas-provider service install`; `chainfaas-provider service uninstall` removes it.',
    '[Unit]',
    'Description=ChainFaaS provider agent (runs volunteer jobs in Docker)',
    'After=network-online.target docker.service',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    `ExecStart=${quote(o.node)} ${quote(o.cli)} start --config-dir ${quote(o.configDir)}`,
    // The agent drains on SIGTERM (running jobs finish and report); give it time, then a second signal forces.
    'KillSignal=SIGTERM',
    'TimeoutStopSec=15min',
    'Restart=on-failure',
    'RestartSec=10s',
    // Exit code 2 is a configuration error: restarting would not help.
    'RestartPreventExitStatus=2',
    `EnvironmentFile=-${quote(join(o.configDir, 'service.env'))}`,
    ...(o.dockerHost ? [`Environment=${quote(`DOCKER_HOST=${o.dockerHost}`)}`] : []),
    'UMask=0077',
    // Jobs are bounded per container by Docker (containers live in dockerd's cgroups); these bound the agent.
    `MemoryMax=${o.memoryMaxMb}M`,
    `CPUQuota=${o.cpuQuotaPercent}%`,
    'TasksMax=512',
    'NoNewPrivileges=yes',
  ];
  if (system) {
    lines.push(
      `User=${o.user}`,
      ...(o.dockerGroup ? [`SupplementaryGroups=${o.dockerGroup}`] : []),
      'ProtectSystem=strict',
      'ProtectHome=read-only',
      `ReadWritePaths=${quote(o.configDir)}`,
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'ProtectKernelTunables=yes',
      'ProtectKernelModules=yes',
      'ProtectKernelLogs=yes',
      'ProtectControlGroups=yes',
      'ProtectClock=yes',
      'ProtectHostname=yes',
      'RestrictNamespaces=yes',
      'RestrictRealtime=yes',
      'RestrictSUIDSGID=yes',
      'LockPersonality=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
      'SystemCallArchitectures=native',
      'CapabilityBoundingSet=',
    );
  }
  lines.push('', '[Install]', `WantedBy=${system ? 'multi-user.target' : 'default.target'}`, '');
  return lines.join('\n');
}

/** A path or word for a unit file: quoted when it holds spaces, `%` escaped; refuses what systemd would misread. */
function quote(value: string): string {
  if (/["\\\n\r]/.test(value)) throw new ConfigError(`cannot write ${JSON.stringify(value)} into a systemd unit (quotes, backslashes or newlines)`);
  const escaped = value.replace(/%/g, '%%');
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}

export interface ServiceCommand {
  action: 'install' | 'uninstall';
  scope: 'user' | 'system';
  configDir: string;
  /** The registered capacity, the default of the agent's limits. */
  capacity?: { vcpu: number; memoryMb: number };
  memoryMaxMb?: number;
  cpuQuotaPercent?: number;
  /** @default ~/.config/systemd/user (user) or /etc/systemd/system (system) */
  unitDir?: string;
  /** Write (or remove) the unit but do not call systemctl. */
  enable: boolean;
  /** Print the unit and do nothing. */
  dryRun: boolean;
  /** @default systemctl */
  systemctl?: string;
  out: (text: string) => void;
}

/** Installs or removes the unit; resolves to the exit code. */
export async function service(c: ServiceCommand): Promise<number> {
  const unitDir = resolve(
    c.unitDir ?? (c.scope === 'user' ? join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'systemd', 'user') : '/etc/systemd/system'),
  );
  const unitFile = join(unitDir, UNIT_NAME);
  const systemctl = async (...args: string[]) => {
    const full = c.scope === 'user' ? ['--user', ...args] : args;
    try {
      await run(c.systemctl ?? 'systemctl', full);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`systemctl ${full.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
    }
  };

  if (c.action === 'uninstall') {
    if (c.dryRun) {
      c.out(`would stop and disable ${UNIT_NAME} and remove ${unitFile}\n`);
      return 0;
    }
    if (c.enable && existsSync(unitFile)) await systemctl('disable', '--now', UNIT_NAME);
    rmSync(unitFile, { force: true });
    if (c.enable) await systemctl('daemon-reload');
    c.out(`removed ${unitFile}\n`);
    return 0;
  }

  const capacity = c.capacity;
  const memoryMaxMb = c.memoryMaxMb ?? capacity?.memoryMb;
  const cpuQuotaPercent = c.cpuQuotaPercent ?? (capacity ? Math.ceil(capacity.vcpu * 100) : undefined);
  if (memoryMaxMb === undefined || cpuQuotaPercent === undefined) {
    throw new ConfigError(`no registration in ${c.configDir}: run chainfaas-provider register first (or pass --memory-max-mb and --cpu-quota)`);
  }
  const cli = realpathSync(process.argv[1] ?? __filename);
  const user = process.env.SUDO_USER || userInfo().username;
  const socket = dockerSocket();
  const unit = renderUnit({
    scope: c.scope,
    node: process.execPath,
    cli,
    configDir: resolve(c.configDir),
    user,
    dockerGroup: c.scope === 'system' && socket ? socketGroup(socket) : undefined,
    memoryMaxMb,
    cpuQuotaPercent,
    dockerHost: process.env.DOCKER_HOST,
  });
  if (c.dryRun) {
    c.out(unit);
    return 0;
  }
  // The agent runs as this user: without the Docker socket it would only restart in a loop.
  if (c.scope === 'user' && socket) {
    try {
      accessSync(socket, constants.R_OK | constants.W_OK);
    } catch {
      throw new ConfigError(
        `${userInfo().username} cannot use the Docker socket ${socket}: join its group (usermod -aG docker ${userInfo().username}) or use rootless Docker`,
      );
    }
  }
  mkdirSync(unitDir, { recursive: true });
  writeFileSync(unitFile, unit, { mode: 0o644 });
  c.out(`wrote ${unitFile}\n`);
  if (!c.enable) return 0;
  await systemctl('daemon-reload');
  await systemctl('enable', '--now', UNIT_NAME);
  c.out(
    `enabled and started ${UNIT_NAME}; logs: journalctl ${c.scope === 'user' ? '--user ' : ''}-u ${UNIT_NAME}\n` +
      (c.scope === 'user' ? `to keep it running while you are logged out: loginctl enable-linger ${userInfo().username}\n` : ''),
  );
  return 0;
}

/** The Docker engine's Unix socket: DOCKER_HOST's when it names one, else the default; undefined for a TCP engine. */
function dockerSocket(): string | undefined {
  const host = process.env.DOCKER_HOST;
  if (host && !host.startsWith('unix://')) return undefined;
  return host ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

/** The name of the group owning `socket` when it is not root's (usually `docker`). */
function socketGroup(socket: string): string | undefined {
  try {
    const gid = statSync(socket).gid;
    if (gid === 0) return undefined;
    const line = readFileSync('/etc/group', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(gid));
    return line?.split(':')[0];
  } catch {
    return undefined;
  }
}
