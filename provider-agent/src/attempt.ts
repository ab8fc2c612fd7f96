import { compareSha256, JobEnvelope, RuntimeReport, sha256Hex, signPayload } from '../../contract/src';
import { AttemptLog, AttemptRecord } from './attempts';
import { CapacityGate } from './capacity';
import { ControllerClient, ControllerError } from './controller-client';
import type { DeliveryHandler, Disposal } from './delivery';
import { ImageCache } from './image-cache';
import { LiveLog } from './live-log';
import type { QueueMessage } from './job-queue';
import { errorMessage, Logger } from './log';
import { FailureReason, FunctionRunner, RunOutcome } from './runners/runner';
import { PullProgress } from './runtime';
import { fetchInput, put, retry } from './transfer';
import { startByPassed, TrustAnchor, verifyJobMessage } from './verify';

/**
 * One job attempt (job id + attempt number) from its envelope to its report: the delivery
 * handler of the agent. `open` verifies a message's envelope; `handle` executes the attempt
 * (capacity, image, input, runner), settles it (uploads result and log, signs the report and
 * records it in the attempt log) and posts the report, then tells delivery what becomes of the
 * attempt's messages. An attempt that already finished (the attempt log knows it) never runs
 * again: a delivery of it only completes what is left. This module never touches a queue
 * message: delivery deletes or returns them as `handle` answers.
 */

export type JobPhase = 'waiting' | 'pulling' | 'running' | 'uploading' | 'reporting';

/** One attempt in flight. Its phase is written by {@link AttemptHandler} only; `revoke` may come from anywhere. */
export class Attempt {
  phase: JobPhase = 'waiting';
  since = new Date();
  readonly abort = new AbortController();
  /** What log lines about this attempt name (the message id is the first delivery's). */
  readonly fields: { jobId: string; attempt: number; functionId: string; messageId: string };
  private revokedByController = false;

  constructor(
    readonly envelope: JobEnvelope,
    readonly firstDelivery: QueueMessage,
  ) {
    this.fields = { jobId: envelope.jobId, attempt: envelope.attempt, functionId: envelope.functionId, messageId: firstDelivery.messageId };
  }

  /** The controller no longer holds this attempt for this provider (heartbeat's `revokedJobs`). */
  get revoked(): boolean {
    return this.revokedByController;
  }

  /**
   * Whether the attempt can still be revoked: not yet revoked, and without an outcome (one already
   * uploading or reporting finishes, and the controller decides what its report is worth).
   */
  get revocable(): boolean {
    return !this.revokedByController && (this.phase === 'waiting' || this.phase === 'pulling' || this.phase === 'running');
  }

  /** Stops the attempt because the controller took it back (when {@link revocable}); its messages are then deleted, not returned. */
  revoke(): void {
    if (!this.revocable) return;
    this.revokedByController = true;
    this.abort.abort(new Error('revoked by the controller'));
  }
}

export type AttemptTotals = { succeeded: number; failed: number; refused: number; returned: number; revoked: number; duplicates: number };

export interface AttemptOptions {
  trust: TrustAnchor;
  /** Signs the reports. */
  privateKeyPem: string;
  controller: Pick<ControllerClient, 'postReport'>;
  /** One runner per protocol. */
  runners: ReadonlyMap<string, FunctionRunner>;
  images: ImageCache;
  gate: CapacityGate;
  attemptLog: AttemptLog;
  logger: Logger;
  onPull(jobId: string, progress: PullProgress): void;
  /** While a job runs, how often its log so far is uploaded when it grew (0: only at the end). @default 2000 */
  liveLogMs?: number;
  /** An attempt changed phase, or the totals changed. */
  onChange(): void;
}

/** How an attempt ended that did not produce a report. */
type Unreported = 'returned' | 'expired';

const UPLOAD_ATTEMPTS = 5;
const LIVE_LOG_MS = 2000;
const REPORT_ATTEMPTS = 8;

export class AttemptHandler implements DeliveryHandler<Attempt> {
  private readonly counts: AttemptTotals = { succeeded: 0, failed: 0, refused: 0, returned: 0, revoked: 0, duplicates: 0 };
  /** Outcomes of attempts that ran but whose report is not signed yet (an upload failed). */
  private readonly unreported = new Map<string, RunOutcome>();

  constructor(private readonly options: AttemptOptions) {}

  /** Deliveries by how they ended; `duplicates`: deliveries of an attempt that was running or had finished. */
  get totals(): AttemptTotals {
    return { ...this.counts };
  }

  /** Verifies the envelope; a refused one is counted and logged (delivery deletes its message). */
  open(message: QueueMessage): { key: string; work: Attempt; fields: Attempt['fields'] } | undefined {
    const verdict = verifyJobMessage(message.body, this.options.trust);
    if (!verdict.ok) {
      this.counts.refused++;
      this.options.logger.warn('refused a job message', {
        reason: verdict.reason,
        detail: verdict.detail,
        claimedJobId: verdict.claimedJobId,
        messageId: message.messageId,
      });
      return undefined;
    }
    const attempt = new Attempt(verdict.envelope, message);
    return { key: AttemptLog.key(verdict.envelope.jobId, verdict.envelope.attempt), work: attempt, fields: attempt.fields };
  }

  joined(attempt: Attempt, message: QueueMessage, redelivery: boolean): void {
    if (!redelivery) this.counts.duplicates++;
    this.options.logger.info(
      redelivery
        ? 'message delivered again while its attempt runs; keeping the newest receipt'
        : 'a duplicate message of an attempt that is running; it is settled with that attempt, nothing else runs',
      { ...attempt.fields, messageId: message.messageId },
    );
  }

  /** Runs the attempt (or completes a finished one) and answers what becomes of its messages; rejects to leave them for redelivery. */
  async handle(attempt: Attempt): Promise<Disposal> {
    const { envelope, fields } = attempt;
    const { attemptLog, logger } = this.options;
    const finished = attemptLog.get(envelope.jobId, envelope.attempt);
    if (finished) {
      this.counts.duplicates++;
      return this.finishAgain(attempt, finished);
    }
    logger.info('accepted a job', { ...fields, image: envelope.image, resources: envelope.resources, receiveCount: attempt.firstDelivery.receiveCount });
    // Settled once this attempt's report is posted or it ends without one (the finally below): the
    // runner's clean-up waits for it (RunRequest.reported).
    let reportDone = () => {};
    const reported = new Promise<void>((resolve) => (reportDone = resolve));
    try {
      return await this.runAndSettle(attempt, reported);
    } finally {
      reportDone();
    }
  }

  /** Runs a new attempt and settles its outcome (uploads, then the report); `reported` goes to the runner. */
  private async runAndSettle(attempt: Attempt, reported: Promise<void>): Promise<Disposal> {
    const { envelope, fields } = attempt;
    const { attemptLog, logger } = this.options;
    const outcome = await this.execute(attempt, reported);
    if (outcome === 'returned' && attempt.revoked) {
      // The controller took the job back (re-queued, cancelled or failed it): nobody wants this
      // attempt's result, so its messages are deleted rather than delivered to run again.
      this.counts.revoked++;
      logger.info('stopped a job the controller revoked; its message is deleted', fields);
      return 'delete';
    }
    if (outcome === 'returned') {
      this.counts.returned++;
      logger.info('returning the job to the queue', fields);
      return 'release';
    }
    if (outcome === 'expired') return 'delete';
    attemptLog.ran(envelope.jobId, envelope.attempt);
    this.unreported.set(AttemptLog.key(envelope.jobId, envelope.attempt), outcome);
    await this.settle(attempt, outcome);
    return 'delete';
  }

  /**
   * A delivery of an attempt that already finished: nothing runs. What is left is done: a settled
   * attempt's message is deleted; a signed report not yet accepted is posted again; an outcome not
   * yet uploaded is uploaded (or, if a restart lost it, reported as lost).
   */
  private async finishAgain(attempt: Attempt, record: AttemptRecord): Promise<Disposal> {
    const { envelope } = attempt;
    this.options.logger.info('a delivery of an attempt that already ran: it is not run again', {
      jobId: envelope.jobId,
      attempt: envelope.attempt,
      state: record.state,
    });
    if (record.state === 'settled') return 'delete';
    if (record.state === 'reported' && record.report && record.signature) {
      await this.postReport(attempt, record.report, record.signature, record.resultBase64);
      return 'delete';
    }
    const outcome =
      this.unreported.get(AttemptLog.key(envelope.jobId, envelope.attempt)) ??
      failure('runtime_error', 'this attempt ran before the provider agent restarted and its result was lost before upload; it is not run twice');
    await this.settle(attempt, outcome);
    return 'delete';
  }

  /** Waits for capacity, pulls the image, fetches the input and runs the function. */
  private async execute(attempt: Attempt, reported: Promise<void>): Promise<RunOutcome | Unreported> {
    const { envelope, abort } = attempt;
    const { gate, images, runners, logger } = this.options;
    const fields = { jobId: envelope.jobId, attempt: envelope.attempt };
    const need = { vcpu: envelope.resources.vcpu, memoryMb: envelope.resources.memoryMb };
    if (!gate.couldEverFit(need)) {
      return failure(
        'runtime_error',
        `the job needs ${need.vcpu} vCPU and ${need.memoryMb} MB; this provider offers ${gate.total.vcpu} vCPU and ${gate.total.memoryMb} MB`,
      );
    }
    const runner = runners.get(envelope.protocol);
    if (!runner) return failure('runtime_error', `this provider does not run the ${envelope.protocol} protocol`);

    let releaseCapacity: () => void;
    try {
      releaseCapacity = await gate.acquire(need, abort.signal);
    } catch {
      return 'returned';
    }
    try {
      this.setPhase(attempt, 'pulling');
      let releaseImage: () => void;
      try {
        releaseImage = await images.acquire(envelope.image, (progress) => this.options.onPull(envelope.jobId, progress));
      } catch (err) {
        return failure('image_unavailable', errorMessage(err));
      }
      try {
        if (abort.signal.aborted) return 'returned';
        const expired = startByPassed(envelope);
        if (expired) {
          this.counts.refused++;
          logger.warn('not starting a job whose start-by time passed while it waited', { ...fields, detail: expired });
          return 'expired';
        }
        let input: Buffer;
        try {
          input = await fetchInput(envelope);
        } catch (err) {
          return failure('runtime_error', `could not fetch the input: ${errorMessage(err)}`);
        }
        this.setPhase(attempt, 'running');
        const live = new LiveLog(envelope.logPutUrl, this.options.liveLogMs ?? LIVE_LOG_MS, logger, fields);
        try {
          const outcome = await runner.run({ envelope, input, signal: abort.signal, onLog: (read) => live.follow(read), reported });
          return outcome.aborted ? 'returned' : outcome;
        } catch (err) {
          if (abort.signal.aborted) return 'returned';
          logger.error('the container runtime failed', { ...fields, error: errorMessage(err) });
          return failure('runtime_error', errorMessage(err));
        } finally {
          // No upload of the log so far may land after the final one.
          await live.stop();
        }
      } finally {
        releaseImage();
      }
    } finally {
      releaseCapacity();
    }
  }

  /**
   * Uploads the result and the log at once (no log object when the log is empty: the report's
   * `logSize` 0 says so; no result object when the envelope lets a result this small travel in the
   * report), then signs, records and posts the report. Nothing here waits for the container: the
   * runner removes it off this path.
   */
  private async settle(attempt: Attempt, outcome: RunOutcome): Promise<void> {
    const { envelope, abort } = attempt;
    this.setPhase(attempt, 'uploading');
    const putLog = (log: Buffer) =>
      log.length > 0 ? retry(() => put(envelope.logPutUrl, log), UPLOAD_ATTEMPTS, 'uploading the log', abort.signal) : undefined;
    const inline = envelope.inlineResultMaxBytes !== undefined && outcome.result.length <= envelope.inlineResultMaxBytes;
    const putResult = async () => {
      if (!inline) await retry(() => put(envelope.resultPutUrl, outcome.result), UPLOAD_ATTEMPTS, 'uploading the result', abort.signal);
    };
    let log = outcome.log;
    if (outcome.finishLog) {
      // A warm container's output may trail its response: the tail is collected while the result uploads.
      const finishLog = outcome.finishLog;
      await putResult();
      log = finishLog();
      this.unreported.set(AttemptLog.key(envelope.jobId, envelope.attempt), { ...outcome, log, finishLog: undefined });
      await putLog(log);
    } else {
      await Promise.all([putResult(), putLog(log)]);
    }

    const report = RuntimeReport.parse({
      v: 1,
      jobId: envelope.jobId,
      providerId: this.options.trust.providerId,
      attempt: envelope.attempt,
      status: outcome.status,
      reason: outcome.reason,
      exitCode: outcome.exitCode,
      runtimeMs: outcome.runtimeMs,
      resultSha256: sha256Hex(outcome.result),
      // Issue #19: under a declared comparison, the hash this replica votes with, signed with the rest.
      compareSha256: envelope.compare && outcome.status === 'succeeded' ? compareSha256(envelope.compare, outcome.result) : undefined,
      resultSize: outcome.result.length,
      logSize: log.length,
      startedAt: outcome.startedAt.toISOString(),
      finishedAt: outcome.finishedAt.toISOString(),
      limits: outcome.limits?.length ? outcome.limits : undefined,
      unwatched: outcome.unwatched?.length ? outcome.unwatched : undefined,
    } satisfies RuntimeReport);
    const signature = signPayload(report, this.options.privateKeyPem);
    const resultBase64 = inline ? outcome.result.toString('base64') : undefined;
    this.options.attemptLog.reported(envelope.jobId, envelope.attempt, report, signature, resultBase64);
    this.unreported.delete(AttemptLog.key(envelope.jobId, envelope.attempt));
    await this.postReport(attempt, report, signature, resultBase64);
  }

  /** Posts a signed report (with the result when it travels inline); once the controller accepts it (or already holds one) the attempt is settled. Rejects otherwise. */
  private async postReport(attempt: Attempt, report: RuntimeReport, signature: string, resultBase64?: string): Promise<void> {
    const { controller, trust, logger, attemptLog } = this.options;
    const fields = { jobId: report.jobId, attempt: report.attempt };
    this.setPhase(attempt, 'reporting');
    try {
      const answer = await retry(() => controller.postReport(trust.providerId, report, signature, resultBase64), REPORT_ATTEMPTS, 'posting the report', attempt.abort.signal);
      logger.info('report accepted', { ...fields, status: report.status, reason: report.reason, runtimeMs: report.runtimeMs, jobStatus: answer.status });
    } catch (err) {
      if (!(err instanceof ControllerError && err.status === 409)) throw err;
      logger.info('the controller already holds a report for this job', { ...fields, detail: err.message });
    }
    attemptLog.settled(report.jobId, report.attempt);
    this.counts[report.status]++;
  }

  private setPhase(attempt: Attempt, phase: JobPhase): void {
    attempt.phase = phase;
    attempt.since = new Date();
    this.options.onChange();
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
