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
 * revoked here. Heartbeats never start, run or report an attempt and never touch a queue message.
 */

export interface HeartbeatOptions {
  providerId: string;
  controller: Pick<ControllerClient, 'heartbeat'>;
  intervalMs: number;
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

  constructor(private readonly options: HeartbeatOptions) {}

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
      const { drain, revokedJobs } = await controller.heartbeat(providerId, {
        cachedImages: images.cached().slice(0, 1000),
        warmFunctions: warmFunctions(runners).slice(0, 1000),
        runningJobs: this.options
          .attempts()
          .map((a) => a.envelope.jobId)
          .slice(0, 1000),
        free: gate.free,
        draining: this.options.draining(),
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

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await this.beat();
      await sleep(this.options.intervalMs, this.abort.signal);
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

/** Functions with a warm container in any runner. */
export function warmFunctions(runners: ReadonlyMap<string, FunctionRunner>): string[] {
  return [...new Set([...runners.values()].flatMap((r) => r.warmFunctions?.() ?? []))];
}
