import { FAILURE_REASONS, JobEnvelope, LimitHit, UnwatchedLimit } from '../../../contract/src';
import type { LimitSnapshot } from '../limit-watch';

/**
 * One runner per invocation protocol (`stdio`, `http`), each bounded by the job's deadline. The
 * agent has already verified the envelope, fetched the input and pulled the image; the runner
 * starts the function, captures its result and log, and measures its run time.
 */
export interface FunctionRunner {
  readonly protocol: JobEnvelope['protocol'];
  run(request: RunRequest): Promise<RunOutcome>;
  /** Functions with a container kept warm between jobs (for heartbeats). @default none */
  warmFunctions?(): string[];
  /** Removes whatever the runner keeps between jobs; called when the agent stops. */
  close?(): Promise<void>;
}

export interface RunRequest {
  envelope: JobEnvelope;
  input: Buffer;
  /** Aborting stops the function at once (forced shutdown); the outcome is then `aborted`. */
  signal?: AbortSignal;
  /** Called once the function started, with a reader of its log so far (the live log, issue #22). @default not called */
  onLog?(read: () => Buffer): void;
  /**
   * Settles once the attempt's report is posted, or the attempt ended without one: what the runner
   * does after a run that can wait (removing an exited container) waits for it, so that it does not
   * take the machine's CPU from the report. @default settled: nothing waits
   */
  reported?: Promise<void>;
}

export type FailureReason = (typeof FAILURE_REASONS)[number];

/** What a run produced, ready to be uploaded and reported. */
export interface RunOutcome {
  status: 'succeeded' | 'failed';
  /** Set exactly when `status` is `failed`. */
  reason?: FailureReason;
  exitCode: number | null;
  /** stdio: from the container's start to its exit, as recorded by the engine. http: the request, sent to answered. */
  runtimeMs: number;
  startedAt: Date;
  finishedAt: Date;
  /** The function's result (stdout, or the HTTP response body), at most the configured cap. */
  result: Buffer;
  /** The function's stderr, at most the configured cap (a truncation notice is appended past it), as far as it had arrived. */
  log: Buffer;
  /**
   * When output may still be on its way (a warm container's response can overtake what the
   * function wrote just before it): the log including what arrived since, after which nothing
   * more is collected for this job. The caller calls it once it has nothing else to wait for
   * (after the result's upload), so collecting the tail costs the report no wait of its own.
   * Absent: `log` is final.
   */
  finishLog?: () => Buffer;
  /** True when the agent stopped the run itself (forced shutdown): nothing is reported. */
  aborted: boolean;
  /** Limits the container reached (absent or empty: none seen). */
  limits?: LimitHit[];
  /** Limits the agent could not watch for this run. */
  unwatched?: UnwatchedLimit[];
}

/** Limits the agent applies to every container, whatever the function asks for. */
export interface ContainerLimits {
  /** Largest result kept; a function that writes more fails with `output_too_large`. */
  maxResultBytes: number;
  /** Largest log kept; the rest of stderr is dropped. */
  maxLogBytes: number;
  /**
   * Size of the tmpfs on /tmp for an envelope that names no disk (a controller from before issue
   * #23); an envelope's `resources.diskMb` sets it exactly otherwise (`scratchMb`).
   */
  tmpfsMb: number;
  pidsLimit: number;
}

/** The job's writable scratch space (/tmp), MB: the disk its function requested (issue #23), else the agent's `tmpfsMb`. */
export function scratchMb(envelope: Pick<JobEnvelope, 'resources'>, limits: Pick<ContainerLimits, 'tmpfsMb'>): number {
  return envelope.resources.diskMb ?? limits.tmpfsMb;
}

/** Keeps the first `limit` bytes written to it and counts the rest. */
export class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  /** Bytes seen beyond the limit. */
  dropped = 0;

  constructor(private readonly limit: number) {}

  /** Appends a chunk; returns false once anything had to be dropped. */
  push(chunk: Buffer): boolean {
    const room = this.limit - this.kept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.chunks.push(part);
      this.kept += part.length;
    }
    this.dropped += Math.max(0, chunk.length - Math.max(0, room));
    return this.dropped === 0;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Run time in whole milliseconds between two instants, never negative. */
export function elapsedMs(startedAt: Date, finishedAt: Date): number {
  return Math.max(0, Math.round(finishedAt.getTime() - startedAt.getTime()));
}

/** The kept output, a notice if some was dropped, then one `[chainfaas: …]` line per notice of the agent. */
export function finalLog(log: CappedBuffer, notices: string[] = []): Buffer {
  const parts = [log.toBuffer()];
  if (log.dropped > 0) parts.push(Buffer.from(`\n[chainfaas: log truncated, ${log.dropped} more bytes dropped]\n`));
  const kept = Buffer.concat(parts);
  if (notices.length === 0) return kept;
  const lead = kept.length > 0 && kept[kept.length - 1] !== 0x0a ? '\n' : '';
  return Buffer.concat([kept, Buffer.from(`${lead}${notices.map((n) => `[chainfaas: ${n}]`).join('\n')}\n`)]);
}

/** What a run ran into, as the runner saw it and the kernel counted it (limit-watch.ts). */
export interface LimitFacts {
  envelope: JobEnvelope;
  limits: ContainerLimits;
  /** What the kernel counted during the run. */
  counted: LimitSnapshot;
  /** The runner killed the function at its deadline. */
  deadline: boolean;
  /** The runner killed the function (or cut its response) for a result over the cap. */
  resultCapped: boolean;
  /** The function's own process was killed for memory (Docker's OOMKilled with a failing exit: the flag is set for any process of the container). */
  oomKilled: boolean;
  /** Log bytes dropped past the cap. */
  logDropped: number;
}

/** The limits a run reached, each in words; in the order of {@link LIMIT_KINDS}. */
export function limitsReached(f: LimitFacts): LimitHit[] {
  const { envelope, limits, counted } = f;
  const hits: LimitHit[] = [];
  const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  if (f.deadline) hits.push({ limit: 'deadline', detail: `the function ran past its deadline of ${envelope.resources.timeoutS} s and was killed` });
  if (f.oomKilled) hits.push({ limit: 'memory', detail: `the function ran out of memory (limit ${envelope.resources.memoryMb} MB) and was killed` });
  else if (counted.oomKills > 0)
    hits.push({
      limit: 'memory',
      detail: `the kernel killed ${plural(counted.oomKills, 'process', 'processes')} of the function for memory (limit ${envelope.resources.memoryMb} MB); the function went on`,
    });
  if (counted.processesRefused > 0)
    hits.push({
      limit: 'processes',
      detail: `the function tried to run more than ${limits.pidsLimit} processes and threads at once: the kernel refused ${plural(counted.processesRefused, 'new one')}`,
    });
  if (counted.scratchFullSamples > 0)
    hits.push({
      limit: 'scratch',
      detail: `disk full: the scratch space /tmp (${scratchMb(envelope, limits)} MB of disk) was full: writes to it failed with "no space left on device"`,
    });
  if (f.resultCapped) hits.push({ limit: 'result', detail: `the result exceeded ${limits.maxResultBytes} bytes` });
  if (f.logDropped > 0) hits.push({ limit: 'log', detail: `the log exceeded ${limits.maxLogBytes} bytes: ${plural(f.logDropped, 'more byte')} dropped` });
  return hits;
}

/**
 * The log lines for the limits the log does not already state (a kill and a truncation have their
 * own line). Limits that could not be watched are said on the job (the report's `unwatched`), not
 * in its log: a log is stored only when there is something to read in it.
 */
export function limitNotices(hits: LimitHit[]): string[] {
  const said = new Set(['deadline', 'result', 'log']);
  return hits.filter((h) => !said.has(h.limit) && !h.detail.endsWith('and was killed')).map((h) => `limit reached (${h.limit}): ${h.detail}`);
}
