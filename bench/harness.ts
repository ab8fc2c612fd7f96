import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildExampleImages } from '../examples/images';
import { Platform, startPlatform } from '../local/platform';
import type { WireCounter } from '../local/wire-count';
import { AgentEvent, ProviderAgent } from '../provider-agent/src/agent';
import { ControllerClient } from '../provider-agent/src/controller-client';
import { createProviderKeys } from '../provider-agent/src/keys';
import { jsonLogger } from '../provider-agent/src/log';
import { Api } from '../test/support/api';
import { note, parseBenchArgs, Profile, publish, runWithInput, sleep, summarize, Summary } from './support';

/**
 * The local platform as the end-to-end benchmarks use it: the real handlers behind the local API
 * server, DynamoDB Local, fauxqs, the registry and the embedded ledger (local/platform.ts), with
 *
 * - only the two example images the benchmarks run (sha256: stdio; echo-http: http);
 * - provider agents started here, in this process, from the agent's public pieces (as
 *   local/provider.ts does), each traced: the agent's status events give when it received a
 *   job and when each phase began, and its controller client notes when a report was accepted;
 * - the ledger writer driven from here at the platform's period (250 ms), each run timed, and
 *   the jobs it settled (paid on the read model) noted as it goes.
 *
 * All clocks are this machine's, so the job's timings (controller), the agent's phases, the
 * engine's container start and end, and the client's send and receive times line up.
 */

export interface Harness {
  platform: Platform;
  apiUrl: string;
  /** A developer's client (SIGNUP_CREDIT pays for the jobs). */
  dev: Api;
  images: { sha256: string; echoHttp: string };
  agents: BenchAgent[];
  tracer: Tracer;
  ledger: LedgerDriver;
  /** Starts agents until `count` are online. */
  ensureAgents(count: number, capacity?: Capacity): Promise<void>;
  /** Registers a function; returns its id. */
  createFunction(body: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

export interface Capacity {
  vcpu: number;
  memoryMb: number;
}

/** What each bench agent offers: one vCPU (half this 2-core machine, local/provider.ts's default) and 1 GiB. */
export const AGENT_CAPACITY: Capacity = { vcpu: 1, memoryMb: 1024 };

export interface BenchAgent {
  providerId: string;
  agent: ProviderAgent;
  /** Where the agent's http relays put their sockets. */
  runDir: string;
  stop(): Promise<void>;
}

/** What one agent saw of one job, epoch ms. */
export interface AgentTrace {
  providerId: string;
  /** The envelope was verified and the job accepted (phase `waiting`). */
  receivedAt?: number;
  pullingAt?: number;
  runningAt?: number;
  uploadingAt?: number;
  reportingAt?: number;
  /** The controller answered the signed report (it holds the job's final state). */
  reportAcceptedAt?: number;
}

export class Tracer {
  readonly jobs = new Map<string, AgentTrace>();

  onEvent(providerId: string, event: AgentEvent): void {
    if (event.kind !== 'status') return;
    for (const job of event.status.jobs) {
      let trace = this.jobs.get(job.jobId);
      if (!trace) this.jobs.set(job.jobId, (trace = { providerId }));
      const since = Date.parse(job.since);
      const key = `${job.phase === 'waiting' ? 'received' : job.phase}At` as keyof AgentTrace;
      if (trace[key] === undefined) (trace as unknown as Record<string, number>)[key] = since;
    }
  }

  reported(jobId: string, at: number): void {
    const trace = this.jobs.get(jobId);
    if (trace) trace.reportAcceptedAt = at;
  }
}

/** Runs the ledger writer every `periodMs`, one run at a time, timing each; notes when each watched job is paid. */
export class LedgerDriver {
  readonly runs: Array<{ startedAt: number; ms: number; committed: number; movements: number }> = [];
  readonly paidAt = new Map<string, number>();
  private readonly watching = new Map<string, string>();
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly platform: Platform,
    private readonly dev: Api,
    private readonly periodMs = 250,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const startedAt = Date.now();
        try {
          const out = await this.platform.flushLedger();
          const ms = Date.now() - startedAt;
          if (out.committed > 0 || out.movements > 0) this.runs.push({ startedAt, ms, committed: out.committed, movements: out.movements });
          if (this.watching.size > 0) await this.checkPaid(Date.now());
        } catch (err) {
          note(`ledger writer: ${(err as Error).message}`);
        }
        await sleep(Math.max(0, this.periodMs - (Date.now() - startedAt)));
      }
    })();
  }

  /** From now on, notes when `jobId` (created at `createdAt`) is paid. */
  watch(jobId: string, createdAt: string): void {
    if (!this.paidAt.has(jobId)) this.watching.set(jobId, createdAt);
  }

  /** Waits until every watched job is paid (or `timeoutMs` passes); returns how many are still unpaid. */
  async settle(timeoutMs = 30_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (this.watching.size > 0 && Date.now() < until) await sleep(100);
    return this.watching.size;
  }

  /** Ledger writer runs that committed something since `since`: duration and events per run. */
  runsSince(since: number): { runs: number; ms: Summary; eventsPerRun: Summary } {
    const runs = this.runs.filter((r) => r.startedAt >= since);
    return { runs: runs.length, ms: summarize(runs.map((r) => r.ms)), eventsPerRun: summarize(runs.map((r) => r.committed)) };
  }

  /** One search page per 100 watched jobs, from the oldest watched: the job summaries carry `paid`. */
  private async checkPaid(at: number): Promise<void> {
    const from = [...this.watching.values()].sort()[0] as string;
    let cursor: string | undefined;
    do {
      const res = await this.dev.get<{ items: Array<{ jobId: string; paid?: boolean }>; next?: string }>(
        `/jobs?limit=100&from=${encodeURIComponent(from)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      if (res.status !== 200) throw new Error(`GET /jobs answered ${res.status}: ${JSON.stringify(res.body)}`);
      for (const job of res.body.items) {
        if (job.paid && this.watching.delete(job.jobId)) this.paidAt.set(job.jobId, at);
      }
      cursor = res.body.next;
    } while (cursor && this.watching.size > 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

export async function startHarness(options: { agents?: number; wire?: WireCounter } = {}): Promise<Harness> {
  // stdout carries the benchmarks' JSON only: the handlers' own log lines (console.log) go to stderr.
  console.log = (...args: unknown[]) => console.error(...args);
  console.info = console.log;
  const dataDir = mkdtempSync(join(tmpdir(), 'chainfaas-bench-'));
  const platform = await startPlatform({
    dataDir,
    port: 0,
    provider: false,
    images: false,
    // The bench drives the ledger writer itself (LedgerDriver), at the same period, to time it.
    ledgerIntervalMs: 24 * 3600 * 1000,
    log: (line) => note(line),
    agentLogLevel: 'error',
    wire: options.wire,
  });
  const stops: Array<() => Promise<void>> = [() => platform.stop(), async () => rmSync(dataDir, { recursive: true, force: true })];
  try {
    note('building the sha256 and echo-http images');
    const refs = await buildExampleImages(platform.registry, { only: ['sha256', 'echo-http'] });
    const images = { sha256: refs.sha256 as string, echoHttp: refs['echo-http'] as string };
    const dev = new Api(platform.apiUrl, await registerUser(platform.apiUrl, ['developer']));
    const tracer = new Tracer();
    const ledger = new LedgerDriver(platform, dev);
    ledger.start();
    stops.unshift(() => ledger.stop());
    const agents: BenchAgent[] = [];
    stops.unshift(async () => {
      for (const a of agents.reverse()) await a.stop().catch((err) => note(`agent stop: ${(err as Error).message}`));
    });
    const harness: Harness = {
      platform,
      apiUrl: platform.apiUrl,
      dev,
      images,
      agents,
      tracer,
      ledger,
      async ensureAgents(count, capacity = AGENT_CAPACITY) {
        while (agents.length < count) {
          const agent = await startBenchAgent(platform.apiUrl, join(dataDir, `agent-${agents.length}`), capacity, tracer);
          agents.push(agent);
          note(`agent ${agents.length} online: ${agent.providerId}`);
        }
      },
      async createFunction(body) {
        const res = await dev.post('/functions', body);
        if (res.status !== 201) throw new Error(`POST /functions answered ${res.status}: ${JSON.stringify(res.body)}`);
        return res.body.functionId as string;
      },
      async stop() {
        for (const stop of stops) await stop().catch((err) => note(`stop: ${(err as Error).message}`));
      },
    };
    await harness.ensureAgents(options.agents ?? 1);
    return harness;
  } catch (err) {
    for (const stop of stops) await stop().catch(() => undefined);
    throw err;
  }
}

let users = 0;
/** Registers a user with `roles` through the public API; returns its API token. */
async function registerUser(apiUrl: string, roles: string[]): Promise<string> {
  const email = `bench-${process.pid}-${Date.now()}-${users++}@example.test`;
  const res = await new Api(apiUrl).post<{ token?: string }>('/users', { email, password: 'correct horse battery staple', roles });
  if (res.status !== 201 || !res.body.token) throw new Error(`POST /users answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.token;
}

/**
 * One provider agent in this process, registered through the public API as a volunteer would
 * (local/provider.ts's steps), with its status events and report answers traced.
 */
async function startBenchAgent(apiUrl: string, dir: string, capacity: Capacity, tracer: Tracer): Promise<BenchAgent> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = await registerUser(apiUrl, ['provider']);
  const keys = createProviderKeys(dir, true);
  const client = new ControllerClient(apiUrl, token);
  const registration = await client.register({ name: 'bench-provider', capacity, publicKey: keys.publicKeyPem });
  const providerId = registration.providerId;
  // Relay socket paths must stay short (sockaddr_un): a short directory of its own.
  const runDir = mkdtempSync(join(tmpdir(), 'cfb-'));
  const agent = new ProviderAgent(
    { apiUrl, token, registration, privateKeyPem: keys.privateKeyPem, capacity, pollWaitS: 2, stateDir: dir, runDir },
    {
      logger: jsonLogger('error'),
      onEvent: (event) => tracer.onEvent(providerId, event),
      controller: {
        heartbeat: (id, body) => client.heartbeat(id, body),
        postReport: async (id, report, signature, resultBase64) => {
          const answer = await client.postReport(id, report, signature, resultBase64);
          tracer.reported(report.jobId, Date.now());
          return answer;
        },
      },
    },
  );
  await agent.start();
  return {
    providerId,
    agent,
    runDir,
    stop: async () => {
      await agent.stop();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/** A job as `POST /functions/{id}/invocations` (sync) and `GET /jobs/{id}` answer it. */
export interface JobView {
  jobId: string;
  status: string;
  providerId?: string;
  timings: { createdAt: string; assignedAt?: string; startedAt?: string; finishedAt?: string };
  resultUrl?: string;
  reason?: string;
}

/** One end-to-end invocation as the client saw it. */
export interface Invocation {
  /** From sending the request to having the answer with the result link, ms. */
  ms: number;
  sentAt: number;
  answeredAt: number;
  job: JobView;
}

/** A sync invocation; throws unless it answers 200 SUCCEEDED with a result link. */
export async function invoke(dev: Api, functionId: string, input: string): Promise<Invocation> {
  const sentAt = Date.now();
  const t0 = performance.now();
  const res = await dev.post<JobView>(`/functions/${functionId}/invocations`, { input, waitS: 60 });
  const ms = performance.now() - t0;
  const answeredAt = Date.now();
  if (res.status !== 200 || res.body.status !== 'SUCCEEDED' || !res.body.resultUrl) {
    throw new Error(`invocation answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
  }
  return { ms, sentAt, answeredAt, job: res.body };
}

/** Fetches a result through its presigned link (outside any timed span). */
export async function fetchResult(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET of the result answered ${res.status}`);
  return res.text();
}

/**
 * Where one job's time went, ms, on the critical path from the client's request to its answer,
 * then the ledger (off that path):
 *
 * | phase | from → to | group |
 * |---|---|---|
 * | api | request sent → job written (createdAt) | controller |
 * | placement | createdAt → assignedAt: ranking, reserving, assigning; plus any wait for a free slot | queue |
 * | delivery | assignedAt → agent accepted the envelope (sign, SQS send, long poll, verify) | queue |
 * | agentPrepare | accepted → container about to be created (capacity gate, image check, input) | agent |
 * | containerStart | → the engine's start time (create, attach, start; for http: take a warm one) | agent |
 * | container | engine start → engine finish (for http: the request's span) | container |
 * | agentFinish | finish → report being sent (exit, drain, remove, upload result and log) | agent |
 * | report | report sent → the controller accepted it, or the client had its answer if that came first | controller |
 * | answer | → client has the answer (sync wait poll, presign, HTTP) | controller |
 * | ledger | report accepted → the job is paid on the read model (writer run + catch-up), off the critical path | ledger |
 *
 * The report's answer can reach the agent after the client had its own: the controller answers
 * the agent only after it has offered the freed capacity to waiting jobs.
 */
export const PHASES = ['api', 'placement', 'delivery', 'agentPrepare', 'containerStart', 'container', 'agentFinish', 'report', 'answer'] as const;
export type Phase = (typeof PHASES)[number];
export const GROUPS: Record<'controller' | 'queue' | 'agent' | 'container', readonly Phase[]> = {
  controller: ['api', 'report', 'answer'],
  queue: ['placement', 'delivery'],
  agent: ['agentPrepare', 'containerStart', 'agentFinish'],
  container: ['container'],
};

export type Breakdown = Record<Phase, number> & { ledger?: number };

export function breakdown(inv: Invocation, trace: AgentTrace | undefined, paidAt: number | undefined): Breakdown | undefined {
  const t = inv.job.timings;
  const created = Date.parse(t.createdAt);
  const assigned = Date.parse(t.assignedAt ?? '');
  const started = Date.parse(t.startedAt ?? '');
  const finished = Date.parse(t.finishedAt ?? '');
  const { receivedAt, runningAt, reportingAt, reportAcceptedAt } = trace ?? {};
  if (receivedAt === undefined || runningAt === undefined || reportingAt === undefined || reportAcceptedAt === undefined) return undefined;
  if ([created, assigned, started, finished].some(Number.isNaN)) return undefined;
  const reportEnd = Math.min(reportAcceptedAt, inv.answeredAt);
  return {
    api: created - inv.sentAt,
    placement: assigned - created,
    delivery: receivedAt - assigned,
    agentPrepare: runningAt - receivedAt,
    containerStart: started - runningAt,
    container: finished - started,
    agentFinish: reportingAt - finished,
    report: reportEnd - reportingAt,
    answer: inv.answeredAt - reportEnd,
    ledger: paidAt === undefined ? undefined : paidAt - reportAcceptedAt,
  };
}

/** Mean and p50 of each phase over jobs, each group's share of the mean end-to-end time, and the ledger's delay. */
export function summarizeBreakdowns(items: Array<Breakdown | undefined>, endToEndMs: number[]) {
  const known = items.filter((b): b is Breakdown => b !== undefined);
  const phases = Object.fromEntries(PHASES.map((p) => [p, summarize(known.map((b) => b[p]))])) as Record<Phase, Summary>;
  const meanEndToEnd = endToEndMs.reduce((a, b) => a + b, 0) / Math.max(1, endToEndMs.length);
  const groups = Object.fromEntries(
    Object.entries(GROUPS).map(([group, members]) => {
      const mean = members.reduce((sum, p) => sum + phases[p].mean, 0);
      return [group, { meanMs: Math.round(mean * 10) / 10, share: Math.round((mean / meanEndToEnd) * 1000) / 1000 }];
    }),
  );
  const ledger = known.map((b) => b.ledger).filter((x): x is number => x !== undefined);
  return {
    jobsTraced: known.length,
    phasesMs: phases,
    groups,
    ledgerAfterReportMs: summarize(ledger),
    ledgerNote: 'off the critical path: from the accepted report to the job paid on the read model (ledger writer run + balance catch-up)',
  };
}

/** `docker run` of a function image with the limits and hardening the agent applies (runners/stdio.ts). */
export function dockerRunArgs(image: string, resources: { vcpu: number; memoryMb: number }): string[] {
  return [
    'run',
    '--rm',
    '-i',
    '--network',
    'none',
    '--user',
    '65534:65534',
    '--memory',
    `${resources.memoryMb}m`,
    '--memory-swap',
    `${resources.memoryMb}m`,
    '--cpus',
    String(resources.vcpu),
    '--pids-limit',
    '256',
    '--read-only',
    '--tmpfs',
    '/tmp:size=64m',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    image,
  ];
}

/** One direct `docker run` with `input` on stdin; returns its wall time (ms) and stdout. */
export async function dockerRun(image: string, resources: { vcpu: number; memoryMb: number }, input: string): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  const stdout = await runWithInput('docker', dockerRunArgs(image, resources), input);
  return { ms: performance.now() - t0, stdout };
}

/**
 * `node dist/bench/<name>.js [--quick]`: one benchmark on a platform of its own; prints its JSON
 * and writes bench/results/<name>.json. A wire counter given in `options` is put in front of the
 * platform's services and stopped after it.
 */
export function standalone(name: string, run: (h: Harness, profile: Profile) => Promise<object>, options: { wire?: WireCounter } = {}): void {
  const main = async () => {
    const { profile } = parseBenchArgs(process.argv.slice(2));
    const harness = await startHarness({ wire: options.wire });
    try {
      publish(name, await run(harness, profile));
    } finally {
      await harness.stop();
      await options.wire?.stop();
    }
  };
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
