import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Attempt, AttemptHandler, AttemptTotals, JobPhase } from './attempt';
import { AttemptLog } from './attempts';
import { CapacityGate } from './capacity';
import { AgentConfig, AgentConfigInput, parseAgentConfig } from './config';
import { ControllerClient } from './controller-client';
import { Delivery } from './delivery';
import { Heartbeat, warmFunctions } from './heartbeat';
import { ImageCache } from './image-cache';
import { JobQueue, SqsJobQueue } from './job-queue';
import { refreshingCredentials } from './queue-credentials';
import { errorMessage, jsonLogger, Logger } from './log';
import { HttpRunner } from './runners/http';
import { FunctionRunner } from './runners/runner';
import { LABELS, StdioRunner } from './runners/stdio';
import { ContainerRuntime, DockerRuntime, PullProgress } from './runtime';

/**
 * The provider agent: long-polls the provider's own queue, verifies each job envelope, runs the
 * job in an isolated container within the declared capacity, uploads the result and log, and
 * posts a run-time report signed with the provider's key. A message is deleted only once its
 * report was accepted (or the envelope was refused for good); until then the agent keeps it
 * hidden, so a job whose agent dies is delivered again. Each attempt (job id + attempt number)
 * runs in at most one container: duplicate deliveries join the running attempt or are settled
 * from the attempt log without running again. Heartbeats tell the controller the agent's running
 * jobs, free capacity, cached images and warm functions; `stop()` drains.
 *
 * This class composes three parts and owns only the agent's life cycle (start, drain, stop), the
 * shared collaborators it builds from the config, and its status:
 * - `delivery.ts` polls the queue, keeps the receipts of every attempt in flight, keeps their
 *   messages hidden and deletes or returns them;
 * - `attempt.ts` is delivery's handler: verify, execute, settle and report one attempt;
 * - `heartbeat.ts` heart-beats and revokes the attempts the controller no longer holds.
 */

export type { JobPhase } from './attempt';

/** The controller calls the agent makes while running. */
export type AgentController = Pick<ControllerClient, 'heartbeat' | 'postReport'> & Partial<Pick<ControllerClient, 'queueCredentials'>>;

/** Replaceable collaborators; each defaults to the real thing built from the config. */
export interface AgentDeps {
  runtime?: ContainerRuntime;
  queue?: JobQueue;
  controller?: AgentController;
  logger?: Logger;
  /** One runner per protocol. @default the stdio and http runners */
  runners?: FunctionRunner[];
  /** Sees image pull progress and every status change (the CLI draws its status line from them). */
  onEvent?: (event: AgentEvent) => void;
}

export type AgentEvent = { kind: 'pull'; jobId: string; progress: PullProgress } | { kind: 'status'; status: AgentStatus };

/** A snapshot of the agent, for `status()`, the status file and the status line. */
export interface AgentStatus {
  state: 'created' | 'running' | 'draining' | 'stopped';
  providerId: string;
  agentId: string;
  capacity: { vcpu: number; memoryMb: number };
  used: { vcpu: number; memoryMb: number };
  jobs: Array<{ jobId: string; functionId: string; attempt: number; phase: JobPhase; since: string }>;
  /** `duplicates`: deliveries of an attempt that was running or had finished; none started a container. */
  totals: AttemptTotals;
  cachedImages: string[];
  /** Functions with a warm (http) container on this machine. */
  warmFunctions: string[];
  lastHeartbeatAt?: string;
  lastError?: string;
  updatedAt: string;
}

/** The attempt log's file in the state directory. */
export const ATTEMPTS_FILE = 'attempts.jsonl';

export class ProviderAgent {
  private readonly config: AgentConfig;
  private readonly agentId: string;
  private readonly providerId: string;
  private readonly logger: Logger;
  private readonly runtime: ContainerRuntime;
  private readonly queue: JobQueue;
  private readonly runners: Map<string, FunctionRunner>;
  private readonly images: ImageCache;
  private readonly gate: CapacityGate;
  private readonly runDir: string;
  private readonly onEvent: (event: AgentEvent) => void;
  private readonly attempts: AttemptHandler;
  private readonly delivery: Delivery<Attempt>;
  private readonly heartbeat: Heartbeat;

  private state: AgentStatus['state'] = 'created';
  private lastError?: string;
  private stopping?: Promise<void>;
  private readonly stoppedSignal: Promise<void>;
  private markStopped!: () => void;

  /** Validates `config` (throws a ConfigError naming every bad field) and builds the collaborators. */
  constructor(config: AgentConfigInput, deps: AgentDeps = {}) {
    this.config = parseAgentConfig(config);
    const { registration } = this.config;
    this.providerId = registration.providerId;
    this.agentId = this.config.agentId ?? registration.providerId;
    this.logger = deps.logger ?? jsonLogger();
    this.runtime = deps.runtime ?? new DockerRuntime(this.logger);
    const client = new ControllerClient(this.config.apiUrl, this.config.token);
    const controller = deps.controller ?? client;
    const fetchCredentials = (controller.queueCredentials ?? client.queueCredentials).bind(controller.queueCredentials ? controller : client);
    this.queue =
      deps.queue ??
      new SqsJobQueue({
        queueUrl: registration.queueUrl,
        region: registration.region,
        endpoint: registration.sqsEndpoint,
        credentials:
          registration.credentialsMode === 'sts'
            ? refreshingCredentials(() => fetchCredentials(registration.providerId))
            : emulatorCredentials(registration.sqsEndpoint, process.env),
      });
    this.images = new ImageCache(this.runtime, this.config.imageCacheBytes, this.logger);
    this.runDir = this.config.runDir ?? join(tmpdir(), `chainfaas-provider-${this.agentId}`);
    const runners = deps.runners ?? [
      new StdioRunner({ runtime: this.runtime, agentId: this.agentId, limits: this.config.limits, logger: this.logger }),
      new HttpRunner({
        runtime: this.runtime,
        agentId: this.agentId,
        limits: this.config.limits,
        logger: this.logger,
        runDir: this.runDir,
        warmPoolMb: this.config.warmPool.memoryMb,
        warmIdleMs: this.config.warmPool.idleS * 1000,
        startupTimeoutMs: this.config.warmPool.startupTimeoutS * 1000,
        retainImage: (image) => this.images.retain(image),
        onChange: () => this.changed(),
      }),
    ];
    this.runners = new Map(runners.map((r) => [r.protocol, r]));
    this.gate = new CapacityGate(this.config.capacity);
    this.onEvent = deps.onEvent ?? (() => undefined);
    const stateDir = this.config.stateDir ?? (this.config.statusFile ? dirname(this.config.statusFile) : undefined);

    const onChange = () => this.changed();
    const onError = (message: string, err: unknown, fields?: Record<string, unknown>) => this.fail(message, err, fields);
    this.attempts = new AttemptHandler({
      trust: { controllerPublicKey: registration.controllerPublicKey, controllerKeyId: registration.controllerKeyId, providerId: this.providerId },
      privateKeyPem: this.config.privateKeyPem,
      controller,
      runners: this.runners,
      images: this.images,
      gate: this.gate,
      attemptLog: new AttemptLog(stateDir ? join(stateDir, ATTEMPTS_FILE) : undefined, this.logger),
      logger: this.logger,
      onPull: (jobId, progress) => this.onEvent({ kind: 'pull', jobId, progress }),
      onChange,
    });
    this.delivery = new Delivery({
      queue: this.queue,
      handler: this.attempts,
      pollWaitS: this.config.pollWaitS,
      visibilityTimeoutS: this.config.visibilityTimeoutS,
      whenReady: (signal) => this.gate.whenRoom(signal),
      // Dozing (the last beat announced the idle pause): a pause between empty long polls.
      pauseMs: () => (this.heartbeat.dozing ? this.config.idlePollPauseS * 1000 : 0),
      onError,
      onChange,
    });
    this.heartbeat = new Heartbeat({
      providerId: this.providerId,
      controller,
      intervalMs: registration.heartbeatIntervalS * 1000,
      gate: this.gate,
      images: this.images,
      runners: this.runners,
      attempts: () => this.delivery.works(),
      draining: () => this.state !== 'running',
      onDrain: () => void this.stop(),
      onChange,
      onError,
      logger: this.logger,
    });
    this.stoppedSignal = new Promise((resolve) => (this.markStopped = resolve));
  }

  /**
   * Reaps containers this agent left behind, then starts polling and heart-beating. Resolves once
   * running; rejects if Docker cannot be reached. Aborting `signal` drains the agent like `stop()`.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.state !== 'created') throw new Error(`the agent was already started (state ${this.state})`);
    this.state = 'running';
    try {
      await this.reapOrphans();
    } catch (err) {
      this.state = 'stopped';
      this.markStopped();
      throw new Error(`cannot start the provider agent: ${errorMessage(err)}`, { cause: err });
    }
    this.logger.info('provider agent started', { providerId: this.providerId, agentId: this.agentId, capacity: this.config.capacity });
    this.delivery.start();
    this.heartbeat.start();
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    if (signal?.aborted) void this.stop();
    this.changed();
  }

  /**
   * Drains: stops polling, lets running jobs finish and report, sends a last heartbeat, and
   * resolves when the agent has stopped. With `force`, running jobs are killed instead and their
   * messages made visible again at once for another provider.
   */
  async stop(options: { force?: boolean } = {}): Promise<void> {
    if (this.state === 'created') {
      this.state = 'stopped';
      this.markStopped();
    }
    if (options.force) for (const attempt of this.delivery.works()) attempt.abort.abort(new Error('forced stop'));
    if (!this.stopping && this.state !== 'stopped') {
      this.stopping = this.drain();
    }
    await this.stoppedSignal;
  }

  /** Resolves when the agent has stopped (after `stop()`, a drain requested by the controller, or `signal`). */
  whenStopped(): Promise<void> {
    return this.stoppedSignal;
  }

  status(): AgentStatus {
    return {
      state: this.state,
      providerId: this.providerId,
      agentId: this.agentId,
      capacity: this.config.capacity,
      used: this.gate.used,
      jobs: this.delivery.works().map((a) => ({
        jobId: a.envelope.jobId,
        functionId: a.envelope.functionId,
        attempt: a.envelope.attempt,
        phase: a.phase,
        since: a.since.toISOString(),
      })),
      totals: this.attempts.totals,
      cachedImages: this.images.cached(),
      warmFunctions: warmFunctions(this.runners),
      lastHeartbeatAt: this.heartbeat.lastHeartbeatAt?.toISOString(),
      lastError: this.lastError,
      updatedAt: new Date().toISOString(),
    };
  }

  private async drain(): Promise<void> {
    this.state = 'draining';
    this.logger.info('draining: no new jobs; waiting for running ones', { running: this.delivery.works().length });
    this.changed();
    await this.delivery.stop();
    for (const runner of this.runners.values()) await runner.close?.().catch((err) => this.fail('could not stop a runner', err));
    rmSync(this.runDir, { recursive: true, force: true });
    await this.heartbeat.stop();
    await this.heartbeat.beat();
    if (this.queue instanceof SqsJobQueue) this.queue.close();
    this.state = 'stopped';
    this.logger.info('provider agent stopped', { totals: this.attempts.totals });
    this.changed();
    this.markStopped();
  }

  /** Removes every container labelled with this agent's id (leftovers of a crash or a kill) and stale relay sockets. */
  private async reapOrphans(): Promise<void> {
    rmSync(this.runDir, { recursive: true, force: true });
    mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
    const orphans = await this.runtime.listByLabel({ [LABELS.agent]: this.agentId });
    for (const orphan of orphans) {
      this.logger.warn('removing a container left by an earlier run', { containerId: orphan.id, jobId: orphan.labels[LABELS.job], state: orphan.state });
      await this.runtime.remove(orphan.id);
    }
  }

  private fail(message: string, err: unknown, fields: Record<string, unknown> = {}): void {
    this.lastError = `${message}: ${errorMessage(err)}`;
    this.logger.warn(message, { ...fields, error: errorMessage(err) });
    this.changed();
  }

  /** Publishes the new status to the event listener and the status file. */
  private changed(): void {
    const status = this.status();
    this.onEvent({ kind: 'status', status });
    if (this.config.statusFile) {
      try {
        const temporary = `${this.config.statusFile}.${process.pid}.tmp`;
        writeFileSync(temporary, `${JSON.stringify(status, null, 2)}\n`);
        renameSync(temporary, this.config.statusFile);
      } catch (err) {
        this.logger.warn('could not write the status file', { path: this.config.statusFile, error: errorMessage(err) });
      }
    }
  }
}

/**
 * Local mode: the registration names the queue emulator's endpoint and issues no credentials.
 * The emulator accepts any, but the AWS SDK signs every call and refuses to start without a pair;
 * so the agent signs with a placeholder unless the environment gives credentials of its own. The
 * commands the portal shows then work as shown, with no AWS variable to set. In AWS the
 * controller's STS credentials are used (and no endpoint is named).
 */
export function emulatorCredentials(endpoint: string | undefined, env: NodeJS.ProcessEnv): (() => Promise<{ accessKeyId: string; secretAccessKey: string }>) | undefined {
  if (!endpoint || env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE) return undefined;
  return async () => ({ accessKeyId: 'local', secretAccessKey: 'local' });
}
