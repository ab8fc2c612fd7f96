import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Where the CLI keeps its logins: `~/.chainfaas/config.json` (directory 0700, file 0600), or the
 * file CHAINFAAS_CONFIG names. Flags win over environment variables (CHAINFAAS_API_URL,
 * CHAINFAAS_TOKEN), which win over the file: the AWS CLI's order.
 *
 * Named profiles (issue #22), as the AWS CLI's: the file's top-level login is the `default`
 * profile (the file of one login is unchanged), the others are under `profiles`. `--profile NAME`
 * or CHAINFAAS_PROFILE chooses one; `login` and `register` write into it, `logout` removes it.
 */

export interface ProfileConfig {
  apiUrl?: string;
  token?: string;
  email?: string;
}

export interface SavedConfig extends ProfileConfig {
  profiles?: Record<string, ProfileConfig>;
}

export const DEFAULT_PROFILE = 'default';
const PROFILE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function configPath(flag?: string): string {
  return flag ?? process.env.CHAINFAAS_CONFIG ?? join(homedir(), '.chainfaas', 'config.json');
}

/** The profile in use: --profile, else CHAINFAAS_PROFILE, else `default`. */
export function profileName(flag?: string): string {
  const name = flag ?? process.env.CHAINFAAS_PROFILE ?? DEFAULT_PROFILE;
  if (!PROFILE_NAME.test(name)) throw new ConfigError(`profile "${name}": a profile name is 1-64 characters of A-Z, a-z, 0-9, _ or -`);
  return name;
}

export function readConfig(path: string): SavedConfig {
  if (!existsSync(path)) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as SavedConfig;
    return typeof parsed === 'object' && parsed ? parsed : {};
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON (${(err as Error).message}): fix it or run chainfaas login again`);
  }
}

/** One profile's login (empty when the file or the profile does not exist). */
export function readProfile(path: string, profile: string): ProfileConfig {
  const config = readConfig(path);
  if (profile === DEFAULT_PROFILE) return { apiUrl: config.apiUrl, token: config.token, email: config.email };
  return config.profiles?.[profile] ?? {};
}

/** Every profile of the file that holds a login, the default first. */
export function listProfiles(path: string): Array<ProfileConfig & { name: string }> {
  const config = readConfig(path);
  const all: Array<ProfileConfig & { name: string }> = [];
  if (config.apiUrl || config.token) all.push({ name: DEFAULT_PROFILE, apiUrl: config.apiUrl, email: config.email, token: config.token });
  for (const [name, p] of Object.entries(config.profiles ?? {}).sort(([a], [b]) => a.localeCompare(b))) all.push({ name, ...p });
  return all;
}

/** Writes one profile's login, keeping the others. */
export function writeProfile(path: string, profile: string, login: ProfileConfig): void {
  const config = readConfig(path);
  if (profile === DEFAULT_PROFILE) writeConfig(path, { ...login, ...(config.profiles ? { profiles: config.profiles } : {}) });
  else writeConfig(path, { apiUrl: config.apiUrl, token: config.token, email: config.email, profiles: { ...config.profiles, [profile]: login } });
}

/** Removes one profile's login; the file goes when nothing is left in it. Returns whether there was one. */
export function removeProfile(path: string, profile: string): boolean {
  if (!existsSync(path)) return false;
  const config = readConfig(path);
  const others = { ...config.profiles };
  let removed: boolean;
  let rest: SavedConfig;
  if (profile === DEFAULT_PROFILE) {
    removed = Boolean(config.apiUrl || config.token);
    rest = { profiles: others };
  } else {
    removed = profile in others;
    delete others[profile];
    rest = { apiUrl: config.apiUrl, token: config.token, email: config.email, profiles: others };
  }
  if (!rest.apiUrl && !rest.token && Object.keys(others).length === 0) rmSync(path);
  else writeConfig(path, Object.keys(others).length ? rest : { apiUrl: rest.apiUrl, token: rest.token, email: rest.email });
  return removed;
}

function writeConfig(path: string, config: SavedConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** A problem with the CLI's configuration or login (exit code 3). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
