import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { RuntimeReport } from '../../contract/src';
import { errorMessage, Logger } from './log';

/**
 * The attempts this agent has finished, so that a job attempt (job id + attempt number) runs in at
 * most one container: SQS delivers at least once, and the same signed envelope may arrive again
 * while its container runs, after it finished, or after the agent restarted. A finished attempt
 * is never run again; a delivery of it only completes what is left (post the saved report) and
 * deletes the message.
 *
 * Kept in memory and, when a file is given, in an append-only JSON-lines file in the agent's
 * config directory (one line per change, compacted when loaded), so a restarted agent knows too.
 * An attempt whose container was stopped by the agent (drain with force, crash) did not finish:
 * its message went back to the queue and it may run again, never alongside the first container
 * (the agent reaps its old containers before it polls).
 */

/**
 * `ran`: the outcome is known; the result and log may not be uploaded yet.
 * `reported`: uploaded (or a small result kept here to travel in the report) and signed; the report
 *   may not be accepted yet (kept, to post again).
 * `settled`: the controller accepted the report (or already had one).
 */
export type AttemptState = 'ran' | 'reported' | 'settled';

export interface AttemptRecord {
  jobId: string;
  attempt: number;
  state: AttemptState;
  /** When the record last changed (ISO). */
  at: string;
  /** The signed report, while it is `reported`. */
  report?: RuntimeReport;
  signature?: string;
  /** The result itself, while `reported`, when it travels in the report instead of an upload (`inlineResultMaxBytes`). */
  resultBase64?: string;
}

/** How long finished attempts are remembered: SQS keeps a message at most 14 days. */
const RETENTION_MS = 15 * 24 * 3600 * 1000;
/** At most this many attempts are remembered (the oldest are forgotten first). */
const MAX_RECORDS = 100_000;

export class AttemptLog {
  private readonly records = new Map<string, AttemptRecord>();

  /** Loads `file` when given (creating it if missing) and rewrites it compacted. */
  constructor(
    private readonly file: string | undefined,
    private readonly logger: Logger,
  ) {
    if (file) this.load(file);
  }

  static key(jobId: string, attempt: number): string {
    return `${jobId}#${attempt}`;
  }

  get(jobId: string, attempt: number): AttemptRecord | undefined {
    return this.records.get(AttemptLog.key(jobId, attempt));
  }

  ran(jobId: string, attempt: number): void {
    this.set({ jobId, attempt, state: 'ran', at: new Date().toISOString() });
  }

  reported(jobId: string, attempt: number, report: RuntimeReport, signature: string, resultBase64?: string): void {
    this.set({ jobId, attempt, state: 'reported', at: new Date().toISOString(), report, signature, resultBase64 });
  }

  settled(jobId: string, attempt: number): void {
    this.set({ jobId, attempt, state: 'settled', at: new Date().toISOString() });
  }

  get size(): number {
    return this.records.size;
  }

  private set(record: AttemptRecord): void {
    const key = AttemptLog.key(record.jobId, record.attempt);
    this.records.delete(key); // re-inserted last: the map stays in order of change
    this.records.set(key, record);
    if (this.records.size > MAX_RECORDS) this.records.delete(this.records.keys().next().value as string);
    if (!this.file) return;
    try {
      appendFileSync(this.file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    } catch (err) {
      // The attempt still counts as finished in memory; only a restart would forget it.
      this.logger.warn('could not record a finished attempt', { path: this.file, jobId: record.jobId, error: errorMessage(err) });
    }
  }

  private load(file: string): void {
    if (existsSync(file)) {
      const cutoff = Date.now() - RETENTION_MS;
      let damaged = 0;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const record = JSON.parse(line) as AttemptRecord;
          if (typeof record.jobId !== 'string' || typeof record.attempt !== 'number' || !['ran', 'reported', 'settled'].includes(record.state))
            throw new Error();
          if (Date.parse(record.at) < cutoff) continue;
          const key = AttemptLog.key(record.jobId, record.attempt);
          this.records.delete(key);
          this.records.set(key, record);
        } catch {
          damaged++; // a line cut short by a crash
        }
      }
      if (damaged) this.logger.warn('skipped damaged lines of the attempts file', { path: file, damaged });
      while (this.records.size > MAX_RECORDS) this.records.delete(this.records.keys().next().value as string);
    }
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, [...this.records.values()].map((r) => `${JSON.stringify(r)}\n`).join(''), { mode: 0o600 });
    renameSync(temporary, file);
  }
}
