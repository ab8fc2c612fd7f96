import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { JobEnvelope, RuntimeReport, sha256Hex, signPayload } from '../../contract/src';
import { AttemptLog, AttemptRecord } from './attempts';
import { Backoff, sleep } from './backoff';
import { CapacityGate } from './capacity';
import { AgentConfig, AgentConfigInput, parseAgentConfig } from './config';
import { ControllerClient, ControllerError } from './controller-client';
import { ImageCache } from './image-cache';
import { JobQueue, QueueMessage, SqsJobQueue } from './job-queue';
import { refreshingCredentials } from './queue-credentials';
import { errorMessage, jsonLogger, Logger } from './log';
import { HttpRunner } from './runners/http';
import { FailureReason, FunctionRunner, RunOutcome } from './runners/runner';
import { LABELS, StdioRunner } from './runners/stdio';
import { ContainerRuntime, DockerRuntime, PullProgress } from './runtime';
import { startByPassed, TrustAnchor, verifyJobMessage } from './verify';

/**
 * The provider agent: long-polls the provider's own queue, verifies each job envelope, runs the
 * job in an isolated container within the declared capacity, uploads the result and log, and
 * posts a run-time report signed with the provider's key. A message is deleted only once its
 * report was accepted (or the envelope was refused for good); until then the agent keeps it
 * hidden, so a job whose agent dies is delivered again. Each attempt (job id + attempt number)
 * runs in at most one container: duplicate deliveries join the running attempt or are settled
 * from the attempt log without running again. Heartbeats tell the controller the agent's running
 * jobs, free capacity, cached images and warm functions; `stop()` drains.
 */

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

export type JobPhase = 'waiting' | 'pulling' | 'running' | 'uploading' | 'reporting';

/** A snapshot of the agent, for `status()`, the status file and the status line. */
export interface AgentStatus {
  state: 'created' | 'running' | 'draining' | 'stopped';
  providerId: string;
  agentId: string;
  capacity: { vcpu: number; memoryMb: number };
  used: { vcpu: number; memoryMb: number };
  jobs: Array<{ jobId: string; functionId: string; attempt: number; phase: JobPhase; since: string }>;
  /** `duplicates`: deliveries of an attempt that was running or had finished; none started a container. */
  totals: { succeeded: number; failed: number; refused: number; returned: number; revoked: number; duplicates: number };
  cachedImages: string[];
  /** Functions with a warm (http) container on this machine. */
  warmFunctions: string[];
  lastHeartbeatAt?: string;
  lastError?: string;
  updatedAt: string;
}

interface RunningJob {
  envelope: JobEnvelope;
  /**
   * The newest receipt of every message carrying this attempt, by message id: a redelivery of
   * the same message replaces its receipt, a duplicate message adds one. All are extended while
   * the attempt runs and deleted (or returned) together.
   */
  receipts: Map<string, string>;
  phase: JobPhase;
  since: Date;
  abort: AbortController;
  /** The controller no longer holds this attempt for this provider (heartbeat's `revokedJobs`). */
  revoked?: boolean;
}

/** How the agent settles a job that did not produce a report. */
type Unreported = 'returned' | 'expired';

const UPLOAD_ATTEMPTS = 5;
/** The attempt log's file in the state directory. */
export const ATTEMPTS_FILE = 'attempts.jsonl';
const REPORT_ATTEMPTS = 8;

export class ProviderAgent {
  private readonly config: AgentConfig;
  private readonly agentId: string;
  private readonly logger: Logger;
  private readonly runtime: ContainerRuntime;
  private readonly queue: JobQueue;
  private readonly controller: AgentController;
  private readonly runners: Map<string, FunctionRunner>;
  private readonly images: ImageCache;
  private readonly gate: CapacityGate;
  private readonly trust: TrustAnchor;
  private readonly attempts: AttemptLog;
  /** Outcomes of attempts that ran but whose report is not signed yet (an upload failed). */
  private readonly unreported = new Map<string, RunOutcome>();
  private readonly runDir: string;
  private readonly onEvent: (event: AgentEvent) => void;

  private state: AgentStatus['state'] = 'created';
  private readonly jobs = new Map<string, RunningJob>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly totals = { succeeded: 0, failed: 0, refused: 0, returned: 0, revoked: 0, duplicates: 0 };
  private lastHeartbeatAt?: Date;
  private lastError?: string;
  private readonly pollAbort = new AbortController();
  private readonly heartbeatAbort = new AbortController();
  private pollLoop?: Promise<void>;
  private heartbeatLoop?: Promise<void>;
  private stopping?: Promise<void>;
  private readonly stoppedSignal: Promise<void>;
  private markStopped!: () => void;

  /** Validates `config` (throws a ConfigError naming every bad field) and builds the collaborators. */
  constructor(config: AgentConfigInput, deps: AgentDeps = {}) {
    this.config = parseAgentConfig(config);
    const { registration } = this.config;
    this.agentId = this.config.agentId ?? registration.providerId;
    this.logger = deps.logger ?? jsonLogger();
    this.runtime = deps.runtime ?? new DockerRuntime(this.logger);
    const client = new ControllerClient(this.config.apiUrl, this.config.token);
    this.controller = deps.controller ?? client;
    const fetchCredentials = (this.controller.queueCredentials ?? client.queueCredentials).bind(this.controller.queueCredentials ? this.controller : client);
    this.queue =
      deps.queue ??
      new SqsJobQueue({
        queueUrl: registration.queueUrl,
        region: registration.region,
        endpoint: registration.sqsEndpoint,
        credentials: registration.credentialsMode === 'sts' ? refreshingCredentials(() => fetchCredentials(registration.providerId)) : undefined,
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
    this.trust = { controllerPublicKey: registration.controllerPublicKey, controllerKeyId: registration.controllerKeyId, providerId: registration.providerId };
    const stateDir = this.config.stateDir ?? (this.config.statusFile ? dirname(this.config.statusFile) : undefined);
    this.attempts = new AttemptLog(stateDir ? join(stateDir, ATTEMPTS_FILE) : undefined, this.logger);
    this.onEvent = deps.onEvent ?? (() => undefined);
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
    this.logger.info('provider agent started', { providerId: this.trust.providerId, agentId: this.agentId, capacity: this.config.capacity });
    this.pollLoop = this.poll();
    this.heartbeatLoop = this.heartbeats();
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
    if (options.force) for (const job of this.jobs.values()) job.abort.abort(new Error('forced stop'));
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
      providerId: this.trust.providerId,
      agentId: this.agentId,
      capacity: this.config.capacity,
      used: this.gate.used,
      jobs: [...this.jobs.values()].map((j) => ({
        jobId: j.envelope.jobId,
        functionId: j.envelope.functionId,
        attempt: j.envelope.attempt,
        phase: j.phase,
        since: j.since.toISOString(),
      })),
      totals: { ...this.totals },
      cachedImages: this.images.cached(),
      warmFunctions: this.warmFunctions(),
      lastHeartbeatAt: this.lastHeartbeatAt?.toISOString(),
      lastError: this.lastError,
      updatedAt: new Date().toISOString(),
    };
  }

  private async drain(): Promise<void> {
    this.state = 'draining';
    this.logger.info('draining: no new jobs; waiting for running ones', { running: this.jobs.size });
    this.changed();
    this.pollAbort.abort();
    await this.pollLoop;
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    for (const runner of this.runners.values()) await runner.close?.().catch((err) => this.fail('could not stop a runner', err));
    rmSync(this.runDir, { recursive: true, force: true });
    this.heartbeatAbort.abort();
    await this.heartbeatLoop;
    await this.heartbeat();
    if (this.queue instanceof SqsJobQueue) this.queue.close();
    this.state = 'stopped';
    this.logger.info('provider agent stopped', { totals: this.totals });
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

  private async poll(): Promise<void> {
    const backoff = new Backoff();
    const signal = this.pollAbort.signal;
    while (!signal.aborted) {
      try {
        await this.gate.whenRoom(signal);
        const messages = await this.queue.receive(1, this.config.pollWaitS, this.config.visibilityTimeoutS, signal);
        backoff.reset();
        for (const message of messages) this.track(this.handle(message));
      } catch (err) {
        if (signal.aborted) break;
        const delay = backoff.next();
        this.fail('receiving from the job queue failed', err, { retryInMs: delay });
        await sleep(delay, signal);
      }
    }
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  private async handle(message: QueueMessage): Promise<void> {
    const verdict = verifyJobMessage(message.body, this.trust);
    if (!verdict.ok) {
      this.totals.refused++;
      this.logger.warn('refused a job message', {
        reason: verdict.reason,
        detail: verdict.detail,
        claimedJobId: verdict.claimedJobId,
        messageId: message.messageId,
      });
      await this.deleteMessage(message.receiptHandle, { messageId: message.messageId });
      this.changed();
      return;
    }
    const { envelope } = verdict;
    const key = AttemptLog.key(envelope.jobId, envelope.attempt);
    const fields = { jobId: envelope.jobId, attempt: envelope.attempt, functionId: envelope.functionId, messageId: message.messageId };
    const running = this.jobs.get(key);
    if (running) {
      // Only the newest receipt of a message can extend or delete it; a second message joins the first.
      const redelivery = running.receipts.has(message.messageId);
      running.receipts.set(message.messageId, message.receiptHandle);
      if (!redelivery) this.totals.duplicates++;
      this.logger.info(
        redelivery
          ? 'message delivered again while its attempt runs; keeping the newest receipt'
          : 'a duplicate message of an attempt that is running; it is settled with that attempt, nothing else runs',
        fields,
      );
      this.changed();
      return;
    }
    const job: RunningJob = {
      envelope,
      receipts: new Map([[message.messageId, message.receiptHandle]]),
      phase: 'waiting',
      since: new Date(),
      abort: new AbortController(),
    };
    this.jobs.set(key, job);
    const finished = this.attempts.get(envelope.jobId, envelope.attempt);
    if (!finished) this.logger.info('accepted a job', { ...fields, image: envelope.image, resources: envelope.resources, receiveCount: message.receiveCount });
    this.changed();
    const visibilityMs = this.config.visibilityTimeoutS * 1000;
    const keepHidden = setInterval(() => void this.extendVisibility(job), visibilityMs / 3);
    try {
      if (finished) {
        this.totals.duplicates++;
        await this.finishAgain(job, finished);
        return;
      }
      const outcome = await this.execute(job);
      if (outcome === 'returned' && job.revoked) {
        // The controller took the job back (re-queued, cancelled or failed it): nobody wants this
        // attempt's result, so its messages are deleted rather than delivered to run again.
        this.totals.revoked++;
        this.logger.info('stopped a job the controller revoked; its message is deleted', fields);
        await this.forEachReceipt(job, (receipt) => this.deleteMessage(receipt, fields));
      } else if (outcome === 'returned') {
        this.totals.returned++;
        this.logger.info('returning the job to the queue', fields);
        await this.forEachReceipt(job, (receipt) => this.queue.release(receipt).catch((err) => this.fail('could not return a job to the queue', err, fields)));
      } else if (outcome === 'expired') {
        await this.forEachReceipt(job, (receipt) => this.deleteMessage(receipt, fields));
      } else {
        this.attempts.ran(envelope.jobId, envelope.attempt);
        this.unreported.set(key, outcome);
        await this.settle(job, outcome);
      }
    } catch (err) {
      this.fail('job could not be settled; its message will be delivered again', err, fields);
    } finally {
      clearInterval(keepHidden);
      this.jobs.delete(key);
      this.changed();
    }
  }

  /**
   * A delivery of an attempt that already finished: nothing runs. What is left is done: a settled
   * attempt's message is deleted; a signed report not yet accepted is posted again; an outcome not
   * yet uploaded is uploaded (or, if a restart lost it, reported as lost).
   */
  private async finishAgain(job: RunningJob, record: AttemptRecord): Promise<void> {
    const { envelope } = job;
    const fields = { jobId: envelope.jobId, attempt: envelope.attempt, state: record.state };
    this.logger.info('a delivery of an attempt that already ran: it is not run again', fields);
    if (record.state === 'settled') {
      await this.forEachReceipt(job, (receipt) => this.deleteMessage(receipt, fields));
    } else if (record.state === 'reported' && record.report && record.signature) {
      await this.postReport(job, record.report, record.signature);
    } else {
      const key = AttemptLog.key(envelope.jobId, envelope.attempt);
      const outcome =
        this.unreported.get(key) ??
        failure('runtime_error', 'this attempt ran before the provider agent restarted and its result was lost before upload; it is not run twice');
      await this.settle(job, outcome);
    }
  }

  /** Waits for capacity, pulls the image, fetches the input and runs the function. */
  private async execute(job: RunningJob): Promise<RunOutcome | Unreported> {
    const { envelope } = job;
    const fields = { jobId: envelope.jobId, attempt: envelope.attempt };
    const need = { vcpu: envelope.resources.vcpu, memoryMb: envelope.resources.memoryMb };
    if (!this.gate.couldEverFit(need)) {
      return failure(
        'runtime_error',
        `the job needs ${need.vcpu} vCPU and ${need.memoryMb} MB; this provider offers ${this.config.capacity.vcpu} vCPU and ${this.config.capacity.memoryMb} MB`,
      );
    }
    const runner = this.runners.get(envelope.protocol);
    if (!runner) return failure('runtime_error', `this provider does not run the ${envelope.protocol} protocol`);

    let releaseCapacity: () => void;
    try {
      releaseCapacity = await this.gate.acquire(need, job.abort.signal);
    } catch {
      return 'returned';
    }
    try {
      this.setPhase(job, 'pulling');
      let releaseImage: () => void;
      try {
        releaseImage = await this.images.acquire(envelope.image, (progress) => this.onEvent({ kind: 'pull', jobId: envelope.jobId, progress }));
      } catch (err) {
        return failure('image_unavailable', errorMessage(err));
      }
      try {
        if (job.abort.signal.aborted) return 'returned';
        const expired = startByPassed(envelope);
        if (expired) {
          this.totals.refused++;
          this.logger.warn('not starting a job whose start-by time passed while it waited', { ...fields, detail: expired });
          return 'expired';
        }
        let input: Buffer;
        try {
          input = await fetchInput(envelope);
        } catch (err) {
          return failure('runtime_error', `could not fetch the input: ${errorMessage(err)}`);
        }
        this.setPhase(job, 'running');
        try {
          const outcome = await runner.run({ envelope, input, signal: job.abort.signal });
          return outcome.aborted ? 'returned' : outcome;
        } catch (err) {
          if (job.abort.signal.aborted) return 'returned';
          this.logger.error('the container runtime failed', { ...fields, error: errorMessage(err) });
          return failure('runtime_error', errorMessage(err));
        }
      } finally {
        releaseImage();
      }
    } finally {
      releaseCapacity();
    }
  }

  /** Uploads the result and log, then signs and posts the report; deletes the messages once accepted. */
  private async settle(job: RunningJob, outcome: RunOutcome): Promise<void> {
    const { envelope } = job;
    this.setPhase(job, 'uploading');
    await retry(() => put(envelope.resultPutUrl, outcome.result), UPLOAD_ATTEMPTS, 'uploading the result', job.abort.signal);
    await retry(() => put(envelope.logPutUrl, outcome.log), UPLOAD_ATTEMPTS, 'uploading the log', job.abort.signal);

    const report = RuntimeReport.parse({
      v: 1,
      jobId: envelope.jobId,
      providerId: this.trust.providerId,
      attempt: envelope.attempt,
      status: outcome.status,
      reason: outcome.reason,
      exitCode: outcome.exitCode,
      runtimeMs: outcome.runtimeMs,
      resultSha256: sha256Hex(outcome.result),
      resultSize: outcome.result.length,
      logSize: outcome.log.length,
      startedAt: outcome.startedAt.toISOString(),
      finishedAt: outcome.finishedAt.toISOString(),
    } satisfies RuntimeReport);
    const signature = signPayload(report, this.config.privateKeyPem);
    this.attempts.reported(envelope.jobId, envelope.attempt, report, signature);
    this.unreported.delete(AttemptLog.key(envelope.jobId, envelope.attempt));
    await this.postReport(job, report, signature);
  }

  /** Posts a signed report; once the controller accepts it (or already holds one) the attempt is settled and its messages deleted. */
  private async postReport(job: RunningJob, report: RuntimeReport, signature: string): Promise<void> {
    const fields = { jobId: report.jobId, attempt: report.attempt };
    this.setPhase(job, 'reporting');
    try {
      const answer = await retry(
        () => this.controller.postReport(this.trust.providerId, report, signature),
        REPORT_ATTEMPTS,
        'posting the report',
        job.abort.signal,
      );
      this.logger.info('report accepted', { ...fields, status: report.status, reason: report.reason, runtimeMs: report.runtimeMs, jobStatus: answer.status });
    } catch (err) {
      if (!(err instanceof ControllerError && err.status === 409)) throw err;
      this.logger.info('the controller already holds a report for this job', { ...fields, detail: err.message });
    }
    this.attempts.settled(report.jobId, report.attempt);
    this.totals[report.status]++;
    await this.forEachReceipt(job, (receipt) => this.deleteMessage(receipt, fields));
  }

  /** Applies `action` to every receipt of the job, including receipts that arrive meanwhile, and forgets them. */
  private async forEachReceipt(job: RunningJob, action: (receipt: string) => Promise<void>): Promise<void> {
    for (let next = job.receipts.entries().next(); !next.done; next = job.receipts.entries().next()) {
      const [messageId, receipt] = next.value;
      job.receipts.delete(messageId);
      await action(receipt);
    }
  }

  private async extendVisibility(job: RunningJob): Promise<void> {
    for (const receipt of job.receipts.values()) {
      try {
        await this.queue.extend(receipt, this.config.visibilityTimeoutS);
      } catch (err) {
        this.fail('could not extend the visibility of a running job', err, { jobId: job.envelope.jobId });
      }
    }
  }

  private async deleteMessage(receiptHandle: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.queue.delete(receiptHandle);
    } catch (err) {
      this.fail('could not delete a settled message; it will be delivered again', err, fields);
    }
  }

  private async heartbeats(): Promise<void> {
    const intervalMs = this.config.registration.heartbeatIntervalS * 1000;
    while (!this.heartbeatAbort.signal.aborted) {
      await this.heartbeat();
      await sleep(intervalMs, this.heartbeatAbort.signal);
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      const { drain, revokedJobs } = await this.controller.heartbeat(this.trust.providerId, {
        cachedImages: this.images.cached().slice(0, 1000),
        warmFunctions: this.warmFunctions().slice(0, 1000),
        runningJobs: [...this.jobs.values()].map((j) => j.envelope.jobId).slice(0, 1000),
        free: this.gate.free,
        draining: this.state !== 'running',
      });
      this.lastHeartbeatAt = new Date();
      this.revoke(revokedJobs);
      if (drain && this.state === 'running') {
        this.logger.info('the controller asked this provider to drain');
        void this.stop();
      }
      this.changed();
    } catch (err) {
      this.fail('heartbeat failed', err);
    }
  }

  /**
   * Stops the jobs the controller no longer holds for this provider (their lease was taken back:
   * re-queued elsewhere, cancelled or failed). Only jobs that have not produced an outcome yet are
   * stopped: one already uploading or reporting finishes, and the controller decides what its
   * report is worth.
   */
  private revoke(jobIds: readonly string[]): void {
    if (jobIds.length === 0) return;
    const revoked = new Set(jobIds);
    for (const job of this.jobs.values()) {
      if (!revoked.has(job.envelope.jobId) || job.revoked) continue;
      if (job.phase !== 'waiting' && job.phase !== 'pulling' && job.phase !== 'running') continue;
      job.revoked = true;
      this.logger.warn('the controller revoked a job this provider runs; stopping it', { jobId: job.envelope.jobId, attempt: job.envelope.attempt, phase: job.phase });
      job.abort.abort(new Error('revoked by the controller'));
    }
  }

  /** Functions with a warm container in any runner. */
  private warmFunctions(): string[] {
    return [...new Set([...this.runners.values()].flatMap((r) => r.warmFunctions?.() ?? []))];
  }

  private setPhase(job: RunningJob, phase: JobPhase): void {
    job.phase = phase;
    job.since = new Date();
    this.changed();
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

/** An outcome for a job that failed before (or instead of) running its container. */
function failure(reason: FailureReason, message: string): RunOutcome {
  const now = new Date();
  return {
    status: 'failed',
    reason,
    exitCode: null,
    runtimeMs: 0,
    startedAt: now,
    finishedAt: now,
    result: Buffer.alloc(0),
    log: Buffer.from(`chainfaas-provider: ${message}\n`),
    aborted: false,
  };
}

/** The job's input: decoded inline, or fetched from its URL and checked against the declared size. */
async function fetchInput(envelope: JobEnvelope): Promise<Buffer> {
  if (envelope.input.kind === 'inline') return Buffer.from(envelope.input.base64, 'base64');
  const response = await fetch(envelope.input.url, { signal: AbortSignal.timeout(60_000) });
  if (!response.ok) throw new Error(`GET of the input answered ${response.status}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length !== envelope.input.size) throw new Error(`the input has ${bytes.length} bytes; the envelope declares ${envelope.input.size}`);
  return bytes;
}

/** Uploads bytes to a presigned S3 PUT URL. */
async function put(url: string, body: Buffer): Promise<void> {
  const response = await fetch(url, { method: 'PUT', body, headers: { 'Content-Type': 'application/octet-stream' }, signal: AbortSignal.timeout(120_000) });
  if (!response.ok) {
    const detail = (await response.text().catch(() => '')).slice(0, 200);
    throw new ControllerError(`PUT to the presigned URL answered ${response.status}: ${detail}`, response.status);
  }
}

/**
 * Calls `fn` up to `attempts` times with back-off. A definitive refusal is rethrown as it is (the
 * caller may act on its status); running out of attempts or an abort throws with `what` named.
 */
async function retry<T>(fn: () => Promise<T>, attempts: number, what: string, signal: AbortSignal): Promise<T> {
  const backoff = new Backoff();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ControllerError && err.definitive) throw err;
      if (attempt >= attempts || signal.aborted) throw new Error(`${what} failed after ${attempt} attempt(s): ${errorMessage(err)}`, { cause: err });
      await sleep(backoff.next(), signal);
    }
  }
}
