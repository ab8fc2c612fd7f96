import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Where the CLI keeps its login: `~/.chainfaas/config.json` (directory 0700, file 0600), or the
 * file CHAINFAAS_CONFIG names. Flags win over environment variables (CHAINFAAS_API_URL,
 * CHAINFAAS_TOKEN), which win over the file: the AWS CLI's order.
 */

export interface SavedConfig {
  apiUrl?: string;
  token?: string;
  email?: string;
}

export function configPath(flag?: string): string {
  return flag ?? process.env.CHAINFAAS_CONFIG ?? join(homedir(), '.chainfaas', 'config.json');
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

export function writeConfig(path: string, config: SavedConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function removeConfig(path: string): boolean {
  if (!existsSync(path)) return false;
  rmSync(path);
  return true;
}

/** A problem with the CLI's configuration or login (exit code 3). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
