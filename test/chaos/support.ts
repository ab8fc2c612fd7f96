import Docker from 'dockerode';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { Api, ApiResponse, eventually, newUser } from '../support/api';
import type { Platform } from '../../local/platform';

/**
 * Helpers of the chaos suite: profile sizes from the environment, an HTTP client loop that honours
 * back-pressure, Docker's event log of function containers, and memory samples.
 */

/** A positive integer from the environment, or `fallback` (the CI profile). */
export function profile(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What one invocation went through before it was accepted. */
export interface Submitted {
  res: ApiResponse;
  /** 429/503 answers (each with Retry-After, honoured). */
  backPressure: number;
  /** 5xx answers (injected controller faults), retried with the same idempotency key. */
  serverErrors: number;
  /** Other answers, each one a failure of the run. */
  unexpected: { status: number; body: unknown }[];
}

/**
 * POSTs an invocation until it is accepted (200/202): a 429 or 503 must carry Retry-After, which
 * is honoured; a 5xx (an injected fault, the emulator restarting) and a 409 of an idempotency key
 * whose job is not readable yet are retried with the same key. Anything else is recorded as
 * unexpected and ends the loop.
 */
export async function invokeUntilAccepted(api: Api, functionId: string, body: unknown, idempotencyKey: string, maxTries = 60): Promise<Submitted> {
  const out: Submitted = { res: undefined as unknown as ApiResponse, backPressure: 0, serverErrors: 0, unexpected: [] };
  for (let i = 0; i < maxTries; i++) {
    let res: ApiResponse;
    try {
      res = await api.call('POST', `/functions/${functionId}/invocations`, body, { headers: { 'idempotency-key': idempotencyKey } });
    } catch {
      out.serverErrors++; // the connection itself failed
      await sleep(250);
      continue;
    }
    out.res = res;
    if (res.status === 200 || res.status === 202) return out;
    if (res.status === 429 || res.status === 503) {
      const retryAfter = Number(res.headers.get('retry-after'));
      if (!(retryAfter > 0)) {
        out.unexpected.push({ status: res.status, body: { missing: 'Retry-After', body: res.body } });
        return out;
      }
      out.backPressure++;
      await sleep(retryAfter * 1000);
      continue;
    }
    if (res.status >= 500 || (res.status === 409 && /not readable yet/.test(JSON.stringify(res.body)))) {
      out.serverErrors++;
      await sleep(200);
      continue;
    }
    out.unexpected.push({ status: res.status, body: res.body });
    return out;
  }
  out.unexpected.push({ status: out.res?.status ?? 0, body: `not accepted after ${maxTries} tries` });
  return out;
}

/** A function container's event on the Docker engine. */
export interface ContainerEvent {
  action: string;
  containerId: string;
  /** Milliseconds since the epoch. */
  atMs: number;
  jobId: string;
  attempt: number;
  agent: string;
  exitCode?: number;
  time: number;
}

/**
 * Follows the Docker engine's `create`, `start` and `die` events of function containers (label
 * chainfaas.role=function) from now until `stop()`. Live, because the engine keeps only its last
 * 256 events for `since` queries, and other suites share this engine.
 */
export async function watchFunctionContainers(docker: Docker): Promise<{ events: ContainerEvent[]; stop(): Promise<ContainerEvent[]> }> {
  const events: ContainerEvent[] = [];
  const stream = (await docker.getEvents({
    filters: { type: ['container'], event: ['create', 'start', 'die'], label: ['chainfaas.role=function'] },
  })) as NodeJS.ReadableStream & {
    destroy(): void;
  };
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      const e = JSON.parse(line) as { Action: string; id: string; time: number; timeNano: number; Actor: { Attributes: Record<string, string> } };
      events.push({
        action: e.Action,
        containerId: e.id,
        atMs: Math.floor(e.timeNano / 1e6),
        jobId: e.Actor.Attributes['chainfaas.job'] ?? '',
        attempt: Number(e.Actor.Attributes['chainfaas.attempt']),
        agent: e.Actor.Attributes['chainfaas.agent'] ?? '',
        exitCode: e.Actor.Attributes.exitCode === undefined ? undefined : Number(e.Actor.Attributes.exitCode),
        time: e.time,
      });
    }
  });
  stream.on('error', () => undefined);
  return {
    events,
    stop: async () => {
      await sleep(1000); // the engine's last events
      stream.destroy();
      return events;
    },
  };
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** `stat` of each quarter of `samples` (in order). */
export function quarters(samples: number[], stat: (values: number[]) => number): number[] {
  const q = Math.max(1, Math.floor(samples.length / 4));
  return [0, 1, 2, 3].map((i) => stat(samples.slice(i * q, i === 3 ? samples.length : (i + 1) * q)));
}

/** The median of each quarter of `samples` (in order). */
export const quarterMedians = (samples: number[]): number[] => quarters(samples, median);

/** Runs `worker(i)` for i in [0, n) with at most `concurrency` at a time. */
export async function pool(n: number, concurrency: number, worker: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await worker(next++);
    }),
  );
}

/**
 * `count` developers, each with one sync `sha256` function named `name`, once their signup credit
 * has reached the balances read model through the ledger (holds need it there).
 */
export async function developersWithFunctions(api: Api, platform: Platform, count: number, name: string) {
  const developers = await Promise.all(Array.from({ length: count }, () => newUser(api, ['developer'])));
  await Promise.all(
    developers.map((d) =>
      eventually(`the signup credit of ${d.userId}`, async () => {
        await platform.flushLedger();
        return (await d.api.get('/account')).body.available > 0 ? true : undefined;
      }),
    ),
  );
  const functions = await Promise.all(
    developers.map(async (d) => {
      const res = await d.api.post('/functions', { name, image: platform.images.sha256, mode: 'sync', resources: { vcpu: 0.25, memoryMb: 64, timeoutS: 10 } });
      if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.functionId as string;
    }),
  );
  return { developers, functions };
}

/** After an agent process stopped: its containers (a SIGKILLed agent leaves some) and its config directory. */
export async function removeAgentLeftovers(docker: Docker, agent: { providerId: string; configDir: string }): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: [`chainfaas.agent=${agent.providerId}`] } })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
  rmSync(dirname(agent.configDir), { recursive: true, force: true });
}
