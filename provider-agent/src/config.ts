import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, homedir, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ProviderRegistration as Registration } from '../../contract/src/answers';
import { LOG_LEVELS } from './log';

/**
 * The agent's configuration, in three layers:
 * - {@link Settings}: what the operator chooses, from flags, then environment variables, then
 *   defaults; validated with zod so a bad value stops the CLI with the flag and variable named.
 * - {@link ProviderState}: what registration returned, saved in the config directory.
 * - {@link AgentConfig}: everything one {@link ProviderAgent} needs, built from both (or given
 *   directly by a program that runs the agent in-process).
 */

const MiB = 1024 * 1024;

const positiveInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Every setting with its flag, its environment variable and what it means. */
export const SETTINGS = {
  apiUrl: { flag: 'api-url', env: 'CHAINFAAS_API_URL', doc: 'base URL of the ChainFaaS HTTP API', schema: z.string().url().optional() },
  token: { flag: 'token', env: 'CHAINFAAS_TOKEN', doc: 'API token of a user with the provider role', schema: z.string().min(1).optional() },
  configDir: {
    flag: 'config-dir',
    env: 'CHAINFAAS_PROVIDER_DIR',
    doc: 'directory for the key pair, registration and status',
    schema: z.string().min(1).default(join(homedir(), '.chainfaas-provider')),
  },
  name: {
    flag: 'name',
    env: 'CHAINFAAS_PROVIDER_NAME',
    doc: 'provider name shown to the platform',
    schema: z.string().min(1).max(64).default(hostname().slice(0, 64)),
  },
  vcpu: { flag: 'vcpu', env: 'CHAINFAAS_VCPU', doc: 'vCPUs offered to functions', schema: z.coerce.number().positive().max(256).default(cpus().length) },
  memoryMb: {
    flag: 'memory-mb',
    env: 'CHAINFAAS_MEMORY_MB',
    doc: 'memory offered to functions, MB',
    schema: positiveInt(64, 1024 * 1024).default(Math.floor(totalmem() / MiB / 2)),
  },
  diskMb: {
    flag: 'disk-mb',
    env: 'CHAINFAAS_DISK_MB',
    doc: "scratch space offered to functions, MB (each container's /tmp is what its function requested)",
    schema: positiveInt(1, 1024 * 1024 * 1024).default(10 * 1024),
  },
  maxResultBytes: {
    flag: 'max-result-bytes',
    env: 'CHAINFAAS_MAX_RESULT_BYTES',
    doc: 'largest result a function may return',
    schema: positiveInt(1, 1024 * MiB).default(6 * MiB),
  },
  maxLogBytes: { flag: 'max-log-bytes', env: 'CHAINFAAS_MAX_LOG_BYTES', doc: 'stderr kept per job', schema: positiveInt(1, 64 * MiB).default(64 * 1024) },
  tmpfsMb: { flag: 'tmpfs-mb', env: 'CHAINFAAS_TMPFS_MB', doc: "size of a container's /tmp when the controller's envelope names no disk (older controllers)", schema: positiveInt(1, 64 * 1024).default(64) },
  pidsLimit: { flag: 'pids-limit', env: 'CHAINFAAS_PIDS_LIMIT', doc: 'processes per container', schema: positiveInt(8, 65536).default(256) },
  imageCacheMb: {
    flag: 'image-cache-mb',
    env: 'CHAINFAAS_IMAGE_CACHE_MB',
    doc: 'disk budget for function images',
    schema: positiveInt(1, 1024 * 1024).default(10 * 1024),
  },
  warmPoolMb: {
    flag: 'warm-pool-mb',
    env: 'CHAINFAAS_WARM_POOL_MB',
    doc: 'memory of warm http containers kept between jobs (0: none)',
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .max(1024 * 1024)
      .default(512),
  },
  warmIdleS: {
    flag: 'warm-idle-s',
    env: 'CHAINFAAS_WARM_IDLE_S',
    doc: 'a warm http container idle this long is removed',
    schema: positiveInt(1, 86400).default(300),
  },
  httpStartupS: {
    flag: 'http-startup-s',
    env: 'CHAINFAAS_HTTP_STARTUP_S',
    doc: 'how long a new http container may take to listen (not billed)',
    schema: positiveInt(1, 600).default(30),
  },
  pollWaitS: { flag: 'poll-wait-s', env: 'CHAINFAAS_POLL_WAIT_S', doc: 'long-poll wait on the job queue', schema: positiveInt(0, 20).default(20) },
  visibilityTimeoutS: {
    flag: 'visibility-timeout-s',
    env: 'CHAINFAAS_VISIBILITY_TIMEOUT_S',
    doc: 'how long a received job stays hidden; extended while it runs',
    schema: positiveInt(10, 43200).default(60),
  },
  logLevel: { flag: 'log-level', env: 'CHAINFAAS_LOG_LEVEL', doc: 'debug, info, warn, error or silent', schema: z.enum(LOG_LEVELS).default('info') },
} as const;

type SettingName = keyof typeof SETTINGS;
/** The operator's validated settings. */
export type Settings = { [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']> };

/** A configuration problem, with every offending setting named. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Settings from flags (as parsed by `util.parseArgs`, keyed by flag name), then `env`, then defaults. */
export function resolveSettings(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): Settings {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(SETTINGS) as Array<[SettingName, (typeof SETTINGS)[SettingName]]>) {
    const raw = flags[setting.flag] ?? env[setting.env];
    const parsed = (setting.schema as z.ZodTypeAny).safeParse(raw === '' ? undefined : raw);
    if (parsed.success) out[name] = parsed.data;
    else problems.push(`  --${setting.flag} / ${setting.env} (${setting.doc}): ${parsed.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(raw)})`);
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return out as Settings;
}

/** What `POST /providers` answers (201). */
/** What `POST /providers` answered, saved with the provider's state: the contract's answer schema. */
export { Registration };

/** The registration saved in the config directory by `register`, read by `start`. */
export const ProviderState = z.object({
  apiUrl: z.string().url(),
  name: z.string(),
  capacity: z.object({ vcpu: z.number().positive(), memoryMb: z.number().int().positive() }),
  registeredAt: z.string().datetime(),
  registration: Registration,
});
export type ProviderState = z.infer<typeof ProviderState>;

export const STATE_FILE = 'provider.json';
export const TOKEN_FILE = 'token';
export const STATUS_FILE = 'status.json';
export const PID_FILE = 'agent.pid';
export const RUN_DIR = 'run';

/** Creates the config directory, readable by its owner only. */
export function ensureConfigDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function saveProviderState(dir: string, state: ProviderState, token: string): void {
  writeFileSync(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  writeFileSync(join(dir, TOKEN_FILE), `${token}\n`, { mode: 0o600 });
}

/** Reads the saved registration; explains what to do when there is none or it is damaged. */
export function loadProviderState(dir: string): ProviderState {
  const path = join(dir, STATE_FILE);
  if (!existsSync(path)) throw new ConfigError(`${path} not found: run \`chainfaas-provider register\` first`);
  const parsed = ProviderState.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success)
    throw new ConfigError(`${path} is damaged (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}); register again`);
  return parsed.data;
}

/** The token given in the settings, else the one saved at registration. */
export function loadToken(dir: string, settings: Pick<Settings, 'token'>): string {
  if (settings.token) return settings.token;
  const path = join(dir, TOKEN_FILE);
  if (!existsSync(path)) throw new ConfigError(`no API token: pass --token or set CHAINFAAS_TOKEN`);
  return readFileSync(path, 'utf8').trim();
}

/** Everything a {@link ProviderAgent} needs. Build it with {@link AgentConfig.parse} to get the defaults. */
export const AgentConfig = z.object({
  apiUrl: z.string().url(),
  token: z.string().min(1),
  registration: Registration,
  /** The provider's Ed25519 private key (PKCS#8 PEM) that signs run-time reports. */
  privateKeyPem: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
  /** What the agent runs at once; the registered capacity. */
  capacity: z.object({ vcpu: z.number().positive(), memoryMb: z.number().int().positive() }),
  limits: z
    .object({
      maxResultBytes: z.number().int().positive().default(SETTINGS.maxResultBytes.schema.parse(undefined)),
      maxLogBytes: z.number().int().positive().default(SETTINGS.maxLogBytes.schema.parse(undefined)),
      tmpfsMb: z.number().int().positive().default(SETTINGS.tmpfsMb.schema.parse(undefined)),
      pidsLimit: z.number().int().min(8).default(SETTINGS.pidsLimit.schema.parse(undefined)),
    })
    .prefault({}),
  warmPool: z
    .object({
      memoryMb: z.number().int().min(0).default(SETTINGS.warmPoolMb.schema.parse(undefined)),
      idleS: z.number().int().positive().default(SETTINGS.warmIdleS.schema.parse(undefined)),
      startupTimeoutS: z.number().int().positive().default(SETTINGS.httpStartupS.schema.parse(undefined)),
    })
    .prefault({}),
  imageCacheBytes: z
    .number()
    .int()
    .positive()
    .default(SETTINGS.imageCacheMb.schema.parse(undefined) * MiB),
  pollWaitS: z.number().int().min(0).max(20).default(20),
  /** Pause between empty long polls while dozing (idle past the awake window; issue #24): halves an idle queue's requests. At most 20, under the controller's 30 s lease, so a job sent meanwhile is taken (and its lease renewed by the beat it causes) before the lease lapses. */
  idlePollPauseS: z.number().int().min(0).max(20).default(20),
  visibilityTimeoutS: z.number().int().min(10).max(43200).default(60),
  /** Label value that marks this agent's containers. @default the provider id */
  agentId: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  /** Where the agent writes its status (read by `chainfaas-provider status`). @default none */
  statusFile: z.string().optional(),
  /** Where the agent remembers finished attempts across restarts. @default the status file's directory, else memory only */
  stateDir: z.string().optional(),
  /** Directory for the sockets of the http relays. @default <tmpdir>/chainfaas-provider-<agent id> */
  runDir: z.string().optional(),
});
export type AgentConfig = z.output<typeof AgentConfig>;
export type AgentConfigInput = z.input<typeof AgentConfig>;

/** Validates an agent configuration; throws a {@link ConfigError} naming every bad field. */
export function parseAgentConfig(input: AgentConfigInput): AgentConfig {
  const parsed = AgentConfig.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ConfigError(`invalid agent configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`).join('\n')}`);
}
