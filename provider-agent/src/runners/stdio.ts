import { JobEnvelope } from '../../../contract/src';
import { errorMessage, Logger } from '../log';
import { ContainerRuntime, ContainerSpec } from '../runtime';
import { LimitWatch } from '../limit-watch';
import {
  CappedBuffer,
  ContainerLimits,
  elapsedMs,
  FailureReason,
  finalLog,
  FunctionRunner,
  limitNotices,
  limitsReached,
  scratchMb,
  RunOutcome,
  RunRequest,
} from './runner';

/**
 * Labels every container of the agent carries, so that orphans can be found and reaped. `role` is
 * `function` for a function's container and `relay` for the relay of an http function.
 */
export const LABELS = {
  job: 'chainfaas.job',
  attempt: 'chainfaas.attempt',
  agent: 'chainfaas.agent',
  function: 'chainfaas.function',
  role: 'chainfaas.role',
} as const;

/** The unprivileged user (nobody) every function runs as. */
export const FUNCTION_USER = '65534:65534';

const MiB = 1024 * 1024;
/** How long to wait for a killed container to be reported gone, and for its output to drain. */
const SETTLE_MS = 10_000;
const DRAIN_MS = 2_000;
/** The longest an exited container waits for its attempt's report before it is removed anyway. */
const REMOVAL_WAIT_MS = 5_000;

/** The isolated container for one job: limits from the envelope, hardening from the agent. */
export function containerSpec(envelope: JobEnvelope, agentId: string, limits: ContainerLimits): ContainerSpec {
  return {
    image: envelope.image,
    user: FUNCTION_USER,
    env: envelope.env,
    labels: {
      [LABELS.job]: envelope.jobId,
      [LABELS.attempt]: String(envelope.attempt),
      [LABELS.agent]: agentId,
      [LABELS.function]: envelope.functionId,
      [LABELS.role]: 'function',
    },
    memoryBytes: envelope.resources.memoryMb * MiB,
    nanoCpus: Math.round(envelope.resources.vcpu * 1e9),
    pidsLimit: limits.pidsLimit,
    tmpfsBytes: scratchMb(envelope, limits) * MiB,
    network: envelope.network,
    openStdin: true,
  };
}

/** Dependencies and limits of a {@link StdioRunner}. */
export interface StdioRunnerOptions {
  runtime: ContainerRuntime;
  /** Written on every container's `chainfaas.agent` label. */
  agentId: string;
  limits: ContainerLimits;
  logger: Logger;
}

/**
 * The `stdio` protocol: one container per job; the input goes to stdin, stdout is the result and
 * stderr the log, both capped. The container is killed at the job's deadline (counted from its
 * start), when its result outgrows the cap, or when the run is aborted; it is always removed —
 * after the outcome is returned, and once the attempt's report is posted (`RunRequest.reported`,
 * at most REMOVAL_WAIT_MS later): the container has exited and holds no CPU or memory, so its
 * removal (tens of ms in the engine) is kept off the report's path. `close` waits for removals
 * still under way; the agent's start reaps what a crash left.
 */
export class StdioRunner implements FunctionRunner {
  readonly protocol = 'stdio' as const;
  /** Removals of exited containers still under way. */
  private readonly removing = new Set<Promise<void>>();

  constructor(private readonly options: StdioRunnerOptions) {}

  /** Resolves once every container this runner started is removed. */
  async close(): Promise<void> {
    while (this.removing.size > 0) await Promise.allSettled([...this.removing]);
  }

  /** Containers started and not yet removed (for tests: the report does not wait for them). */
  get pendingRemovals(): number {
    return this.removing.size;
  }

  async run({ envelope, input, signal, onLog, reported }: RunRequest): Promise<RunOutcome> {
    const { runtime, limits, agentId, logger } = this.options;
    const result = new CappedBuffer(limits.maxResultBytes);
    const stderr = new CappedBuffer(limits.maxLogBytes);
    let stoppedFor: 'timeout' | 'output_too_large' | 'aborted' | undefined;

    const id = await runtime.create(containerSpec(envelope, agentId, limits));
    const fields = { jobId: envelope.jobId, containerId: id };
    const kill = (why: NonNullable<typeof stoppedFor>) => {
      stoppedFor ??= why;
      logger.info('killing container', { ...fields, why });
      runtime.kill(id).catch((err) => logger.warn('kill failed', { ...fields, error: errorMessage(err) }));
    };
    const onAbort = () => kill('aborted');
    let watching: Promise<LimitWatch> | undefined;
    try {
      const attachment = await runtime.attach(
        id,
        {
          stdout: (chunk) => {
            if (!result.push(chunk) && !stoppedFor) kill('output_too_large');
          },
          stderr: (chunk) => stderr.push(chunk),
        },
        true,
      );
      const localStart = new Date();
      await runtime.start(id);
      attachment.stdin?.end(input);
      onLog?.(() => stderr.toBuffer());
      // Watching starts while the function runs: the wait below does not wait for it.
      watching = runtime.watchLimits(id, true);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();

      if (!(await runtime.wait(id, envelope.resources.timeoutS * 1000))) {
        kill('timeout');
        if (!(await runtime.wait(id, SETTLE_MS))) throw new Error(`container ${id.slice(0, 12)} did not stop after SIGKILL`);
      }
      const localEnd = new Date();
      // None of these waits for another: the limits' last counters, the output's end (or DRAIN_MS)
      // and the engine's record of the exit, read at once on the way to the report.
      const watch = await watching;
      const [counted, , exit] = await Promise.all([watch.stop(), Promise.race([attachment.closed, delay(DRAIN_MS)]), runtime.inspectExit(id)]);
      const engineTimes = validSpan(exit.startedAt, exit.finishedAt);
      const startedAt = engineTimes ? exit.startedAt : localStart;
      const finishedAt = engineTimes ? exit.finishedAt : localEnd;

      // Docker sets OOMKilled when any process of the container was killed for memory: the
      // function itself was only when it did not exit 0 (one that went on is told by its limits).
      const oomKilled = exit.oomKilled && exit.exitCode !== 0;
      // An aborted run is never reported; it still carries a reason so that every failure has one.
      const reason: FailureReason | undefined =
        stoppedFor === 'aborted' ? 'runtime_error' : (stoppedFor ?? (oomKilled ? 'oom' : exit.exitCode === 0 ? undefined : 'exit'));
      const limitsHit = limitsReached({
        envelope,
        limits,
        counted,
        deadline: stoppedFor === 'timeout',
        resultCapped: stoppedFor === 'output_too_large',
        oomKilled,
        logDropped: stderr.dropped,
      });
      logger.info('container finished', {
        ...fields,
        exitCode: exit.exitCode,
        oomKilled: exit.oomKilled,
        stoppedFor,
        runtimeMs: elapsedMs(startedAt, finishedAt),
        limits: limitsHit.map((l) => l.limit),
      });
      return {
        status: reason ? 'failed' : 'succeeded',
        reason,
        exitCode: exit.exitCode,
        runtimeMs: elapsedMs(startedAt, finishedAt),
        startedAt,
        finishedAt,
        result: result.toBuffer(),
        log: finalLog(stderr, [...notices(reason, envelope, limits), ...limitNotices(limitsHit)]),
        aborted: stoppedFor === 'aborted',
        limits: limitsHit,
        unwatched: watch.unwatched,
      };
    } finally {
      signal?.removeEventListener('abort', onAbort);
      void watching?.then((w) => w.stop());
      // The engine's work of removing it (tens of ms of its CPU) starts once the report is posted.
      const removal: Promise<void> = settledOrAfter(reported, REMOVAL_WAIT_MS)
        .then(() => runtime.remove(id))
        .catch((err) => logger.warn('could not remove container', { ...fields, error: errorMessage(err) }))
        .finally(() => this.removing.delete(removal));
      this.removing.add(removal);
    }
  }
}

/** What the agent did to the container, for the log: nothing to say for a success or a plain exit. */
function notices(reason: FailureReason | undefined, envelope: JobEnvelope, limits: ContainerLimits): string[] {
  switch (reason) {
    case 'timeout':
      return [`killed: the function ran past its deadline of ${envelope.resources.timeoutS} s`];
    case 'oom':
      return [`killed: the function ran out of memory (limit ${envelope.resources.memoryMb} MB)`];
    case 'output_too_large':
      return [`killed: the result exceeded ${limits.maxResultBytes} bytes`];
    default:
      return [];
  }
}

/** Docker reports 0001-01-01 for a container that never ran; such a span is not usable. */
function validSpan(startedAt: Date, finishedAt: Date): boolean {
  return startedAt.getUTCFullYear() > 2000 && finishedAt.getTime() >= startedAt.getTime();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Resolves when `signal` settles (either way), or after `ms`, whichever comes first; at once without a signal. */
function settledOrAfter(signal: Promise<void> | undefined, ms: number): Promise<void> {
  if (!signal) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.then(done, done);
  });
}
