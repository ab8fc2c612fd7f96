import { MAX_IDLE_BEAT_S, type RunPhase } from '../../contract/src';
import type { Attempt } from './attempt';
import { sleep } from './backoff';
import { CapacityGate } from './capacity';
import { ControllerClient } from './controller-client';
import { ImageCache } from './image-cache';
import { Logger } from './log';
import { FunctionRunner } from './runners/runner';

/**
 * Heartbeats: every interval the agent tells the controller what it runs, what capacity is free,
 * which images it has cached and which functions are warm; the answer renews the leases of its
 * jobs, may ask it to drain, and names the jobs the controller no longer holds for this provider
 * (their lease was taken back: re-queued elsewhere, cancelled or failed), whose attempts are
 * revoked here. Each beat also carries what every attempt in flight is doing (`phases`, issue
 * #22: pulling, running, uploading, and since when), which the controller records with the lease's
 * renewal. Heartbeats never start, run or report an attempt and never touch a queue message.
 *
 * Cadence (issue #24): while the agent runs jobs, or ran one within `awakeMs`, it beats every
 * `intervalMs` (its leases need it). Idle longer than that, it beats every `idleIntervalMs` and
 * says so (`nextBeatS`), so the controller judges its silence against that pause: an idle
 * provider costs a heartbeat every few minutes instead of every few seconds. Whatever the
 * An idle agent beats at once when a job reaches it (so the controller renews its lease and sees
 * it awake without waiting for the slow beat), and any agent when draining begins (both checked
 * every `checkMs`); at the normal interval, jobs starting and ending wait for the next beat, as
 * before, so a busy agent costs no more than it did.
 */

export interface HeartbeatOptions {
  providerId: string;
  controller: Pick<ControllerClient, 'heartbeat'>;
  intervalMs: number;
  /** The interval once idle for `awakeMs`. @default 300_000 (at most the contract's MAX_IDLE_BEAT_S) */
  idleIntervalMs?: number;
  /** How long after its last job the agent keeps the normal interval. @default 300_000 */
  awakeMs?: number;
  /** How often the loop looks for a change to beat about at once. @default 500 */
  checkMs?: number;
  gate: CapacityGate;
  images: ImageCache;
  runners: ReadonlyMap<string, FunctionRunner>;
  /** The attempts in flight. */
  attempts(): Attempt[];
  /** True once the agent no longer takes jobs. */
  draining(): boolean;
  /** The controller asked this provider to drain. */
  onDrain(): void;
  /** A heartbeat was answered. */
  onChange(): void;
  onError(message: string, err: unknown): void;
  logger: Logger;
}

export class Heartbeat {
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private lastAt?: Date;
  /** When the agent last ran a job (or started). */
  private busyAt = Date.now();
  /** What the last heartbeat said that calls for another at once when it changes (`state`). */
  private said = '';
  /** Whether the last heartbeat announced the idle pause. */
  private isDozing = false;

  constructor(private readonly options: HeartbeatOptions) {}

  /**
   * Whether the last heartbeat announced the idle pause: the controller ranks this provider after
   * awake ones and judges its silence by the pause. Until the next beat says otherwise the agent
   * may pause between its queue's long polls too (`Delivery`'s `pauseMs`).
   */
  get dozing(): boolean {
    return this.isDozing;
  }

  /** When the controller last answered a heartbeat. */
  get lastHeartbeatAt(): Date | undefined {
    return this.lastAt;
  }

  /** Heart-beats now and then every interval, until `stop()`. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Ends the loop (a heartbeat under way finishes first). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** Sends one heartbeat and acts on the answer; a failure is reported, never thrown. */
  async beat(): Promise<void> {
    const { controller, providerId, gate, images, runners } = this.options;
    try {
      const attempts = this.options.attempts();
      const runningJobs = attempts.map((a) => a.envelope.jobId).slice(0, 1000);
      const phases = runPhases(attempts).slice(0, 1000);
      const nextBeatS = this.idle(runningJobs.length) ? Math.round(this.idleIntervalMs() / 1000) : undefined;
      this.isDozing = nextBeatS !== undefined;
      this.said = this.state();
      const { drain, revokedJobs } = await controller.heartbeat(providerId, {
        cachedImages: images.cached().slice(0, 1000),
        warmFunctions: warmFunctions(runners).slice(0, 1000),
        runningJobs,
        free: gate.free,
        draining: this.options.draining(),
        ...(nextBeatS ? { nextBeatS } : {}),
        ...(phases.length > 0 ? { phases } : {}),
      });
      this.lastAt = new Date();
      this.revoke(revokedJobs);
      if (drain && !this.options.draining()) {
        this.options.logger.info('the controller asked this provider to drain');
        this.options.onDrain();
      }
      this.options.onChange();
    } catch (err) {
      this.options.onError('heartbeat failed', err);
    }
  }

  /** The pause before the next heartbeat: the normal interval, or the idle one. */
  nextIntervalMs(): number {
    return this.idle(this.options.attempts().length) ? this.idleIntervalMs() : this.options.intervalMs;
  }

  private idleIntervalMs(): number {
    return Math.max(this.options.intervalMs, Math.min(this.options.idleIntervalMs ?? 300_000, MAX_IDLE_BEAT_S * 1000));
  }

  /** Idle: nothing running, nothing run within `awakeMs`, not draining. */
  private idle(running: number): boolean {
    if (running > 0) this.busyAt = Date.now();
    return running === 0 && !this.options.draining() && Date.now() - this.busyAt >= (this.options.awakeMs ?? 300_000);
  }

  /** What the controller must hear of at once when it changes: draining, and (while dozing) whether jobs run. */
  private state(): string {
    return `${this.options.draining()}|${this.isDozing && this.options.attempts().length > 0}`;
  }

  private async run(): Promise<void> {
    const check = this.options.checkMs ?? 500;
    while (!this.abort.signal.aborted) {
      await this.beat();
      const due = Date.now() + this.nextIntervalMs();
      while (!this.abort.signal.aborted && Date.now() < due && this.state() === this.said) {
        if (this.options.attempts().length > 0) this.busyAt = Date.now();
        await sleep(Math.min(check, due - Date.now()), this.abort.signal);
      }
    }
  }

  /** Stops the attempts of the jobs the controller no longer holds for this provider (those without an outcome yet: `Attempt.revocable`). */
  private revoke(jobIds: readonly string[]): void {
    if (jobIds.length === 0) return;
    const revoked = new Set(jobIds);
    for (const attempt of this.options.attempts()) {
      if (!revoked.has(attempt.envelope.jobId) || !attempt.revocable) continue;
      const { jobId, attempt: number } = attempt.envelope;
      this.options.logger.warn('the controller revoked a job this provider runs; stopping it', { jobId, attempt: number, phase: attempt.phase });
      attempt.revoke();
    }
  }
}

/**
 * What each attempt in flight is doing, for the controller to show (issue #22): it rides on the
 * heartbeat the leases need anyway, so it costs no request of its own. An attempt still waiting
 * for capacity says nothing (its job stays "placed"); reporting is the end of uploading.
 */
export function runPhases(attempts: readonly Attempt[]): Array<{ jobId: string; attempt: number; phase: RunPhase; since: string }> {
  return attempts.flatMap((a) =>
    a.phase === 'waiting' ? [] : [{ jobId: a.envelope.jobId, attempt: a.envelope.attempt, phase: a.phase === 'reporting' ? 'uploading' : a.phase, since: a.since.toISOString() }],
  );
}

/** Functions with a warm container in any runner. */
export function warmFunctions(runners: ReadonlyMap<string, FunctionRunner>): string[] {
  return [...new Set([...runners.values()].flatMap((r) => r.warmFunctions?.() ?? []))];
}
