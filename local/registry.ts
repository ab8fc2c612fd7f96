import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, ownService, stopChild, waitUntil } from './services';

/**
 * A local Docker registry: Debian's `docker-registry` (distribution 2.x) run with its own config,
 * because the packaged /etc/docker/registry/config.yml demands htpasswd auth. Storage is the
 * filesystem under `dataDir`; it listens on 127.0.0.1 only, which the Docker engine treats as an
 * insecure (plain HTTP) registry without further configuration.
 */

/** Where {@link startRegistry} listens and keeps its blobs. */
export interface RegistryOptions {
  /** TCP port on 127.0.0.1; 0 or absent picks a free port. @default a free port */
  port?: number;
  /** Directory for the registry's blobs and its generated config; created if missing. */
  dataDir: string;
  /** The registry executable. @default `docker-registry` on PATH */
  binary?: string;
}

/** A running registry; `address` is `127.0.0.1:<port>`, the form image references use. */
export interface RunningRegistry {
  address: string;
  stop(): Promise<void>;
}

/** Starts the registry and resolves once `GET /v2/` answers 200. */
export async function startRegistry(options: RegistryOptions): Promise<RunningRegistry> {
  const port = options.port || (await freePort());
  const address = `127.0.0.1:${port}`;
  const storage = join(options.dataDir, 'storage');
  mkdirSync(storage, { recursive: true });
  const configPath = join(options.dataDir, 'config.yml');
  writeFileSync(configPath, registryConfig(address, storage));

  const binary = options.binary ?? 'docker-registry';
  const child = ownService(spawn(binary, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot start ${binary} (install Debian's docker-registry package): ${err.message}`))),
  );
  try {
    await Promise.race([
      spawnError,
      waitUntil(
        'docker-registry',
        async () => (await fetch(`http://${address}/v2/`)).status === 200,
        30_000,
        child,
        () => output,
      ),
    ]);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { address, stop: () => stopChild(child) };
}

function registryConfig(address: string, storage: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${address}`,
    '',
  ].join('\n');
}
