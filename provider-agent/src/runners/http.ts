import { createHash } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { JobEnvelope } from '../../../contract/src';
import { errorMessage, Logger } from '../log';
import { ensureRelayImage } from '../relay-image';
import { ContainerRuntime, ContainerSpec } from '../runtime';
import { LimitWatch, NO_LIMITS, since } from '../limit-watch';
import {
  CappedBuffer,
  ContainerLimits,
  elapsedMs,
  FailureReason,
  finalLog,
  FunctionRunner,
  limitNotices,
  limitsReached,
  RunOutcome,
  RunRequest,
} from './runner';
import { containerSpec, LABELS } from './stdio';
import { WarmPool } from './warm-pool';

/**
 * The `http` protocol: the function's container serves `POST /invoke` on `$PORT` and may serve
 * many jobs. The request body is the job's input, the response body its result (2xx: succeeded;
 * any other status: failed, reason `exit`). Containers are kept warm in an LRU {@link WarmPool}
 * per function, within a memory budget, and removed after an idle time.
 *
 * The function keeps network `none` (or `egress`, if declared): the agent reaches it through a
 * relay container (provider-agent/relay) that joins the function's network namespace and
 * listens on a Unix socket in a directory bound from this machine. Nothing listens on TCP
 * outside the function's own namespace, so the function can reach neither the host nor another
 * tenant. (A per-container `--internal` bridge network was measured and rejected: the container
 * could connect to every service of the host listening on a wildcard address; see the README.)
 *
 * Deadlines: a new container must accept connections within `startupTimeoutMs` (not billed, like
 * an image pull); each request must complete within the job's `timeoutS`, else the container is
 * killed and the job reported as `timeout`. Run time is measured per request, from sending it to
 * the last byte of the response. The log is what the container wrote to stdout and stderr while
 * the job had it (for a new container, from its start) until its response ended, capped; with
 * `concurrency` N > 1 the container serves N jobs at once and each job's log holds everything the
 * container wrote during its request (output is not attributed per request).
 *
 * The hot path waits for nothing after the response: the container goes back to the pool at
 * once and the outcome is returned; output the engine delivers after the response still reaches
 * the job's log until the agent takes it (`finishLog`, once the result is uploaded). Such a tail
 * may also land in the log of the next job the same container serves (same function version).
 * A container that failed is removed off that path too; only a container that stopped (killed,
 * crashed) is waited for, briefly, so its last words reach the log.
 */

/** The port every http function is told to listen on ($PORT). */
export const HTTP_PORT = 8080;
/** Where the relay finds its socket directory inside its container. */
const RELAY_DIR = '/run/chainfaas';
const SOCKET_NAME = 'http.sock';
/** Unix socket paths longer than this do not fit in sockaddr_un on every platform. */
const MAX_SOCKET_PATH = 100;
const DRAIN_MS = 2_000;
/** Longest a job's log keeps collecting the container's output after its response, if nobody takes it sooner. */
const TAIL_MS = 2_000;
const PROBE_INTERVAL_MS = 50;
const MiB = 1024 * 1024;

export interface HttpRunnerOptions {
  runtime: ContainerRuntime;
  /** Written on every container's `chainfaas.agent` label. */
  agentId: string;
  limits: ContainerLimits;
  logger: Logger;
  /** A directory of this machine for the relay sockets (one sub-directory per warm container). */
  runDir: string;
  /** Memory limits of all warm containers together, MB (0: nothing is kept warm). */
  warmPoolMb: number;
  /** A warm container idle this long is removed. */
  warmIdleMs: number;
  /** How long a new container may take to accept connections on $PORT. @default 30 s */
  startupTimeoutMs?: number;
  /** Marks an image in use while a warm container runs it (the image cache must not evict it). */
  retainImage?: (image: string) => () => void;
  /** Told when the set of warm containers changed. */
  onChange?: () => void;
  /** The relay image; built from provider-agent/relay when absent. @default ensureRelayImage */
  relayImage?: () => Promise<string>;
}

/** One warm container: the function, its relay and the socket between the agent and the relay. */
interface WarmContainer {
  key: string;
  functionId: string;
  memoryMb: number;
  busy: boolean;
  inflight?: number;
  /** Jobs it serves at once: the function's `concurrency`. */
  slots: number;
  lastUsed: number;
  containerId: string;
  relayId?: string;
  dir: string;
  socketPath: string;
  /** Where the container's output goes now: the logs of the jobs it serves (none: nowhere). */
  sinks: Set<CappedBuffer>;
  /** Resolves when the function container's output streams close (it exited). */
  closed: Promise<void>;
  exited: boolean;
  releaseImage: () => void;
  /** Jobs served, for the log. */
  served: number;
  /** The kernel's counters of its limits (from its start until it is removed). */
  watch?: LimitWatch;
}

type Answer =
  | { kind: 'response'; status: number; body: CappedBuffer }
  | { kind: 'too_large'; body: CappedBuffer }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  | { kind: 'broken'; error: Error };

export class HttpRunner implements FunctionRunner {
  readonly protocol = 'http' as const;
  private readonly pool: WarmPool<WarmContainer>;
  private readonly sweeper: NodeJS.Timeout;
  private relay?: Promise<string>;
  private readonly relayUser: string;
  private closed = false;

  constructor(private readonly options: HttpRunnerOptions) {
    this.pool = new WarmPool<WarmContainer>({
      budgetMb: options.warmPoolMb,
      idleMs: options.warmIdleMs,
      destroy: (entry, why) => this.destroy(entry, why),
    });
    this.sweeper = setInterval(() => this.pool.sweep(), Math.max(100, Math.min(options.warmIdleMs / 2, 5000)));
    this.sweeper.unref();
    const uid = process.getuid?.() ?? 65534;
    this.relayUser = uid === 0 ? '65534:65534' : `${uid}:${process.getgid?.() ?? uid}`;
  }

  /** Function ids with a warm container here (for heartbeats). */
  warmFunctions(): string[] {
    return this.pool.warmFunctions();
  }

  /** The warm containers, for status and tests. */
  warmContainers(): Array<{ functionId: string; containerId: string; busy: boolean; inflight: number; memoryMb: number; idleMs: number; served: number }> {
    const now = Date.now();
    return this.pool.list().map((e) => ({
      functionId: e.functionId,
      containerId: e.containerId,
      busy: e.busy,
      inflight: e.inflight ?? 0,
      memoryMb: e.memoryMb,
      idleMs: e.busy ? 0 : now - e.lastUsed,
      served: e.served,
    }));
  }

  /** Resolves once no container removal is under way (they run off the jobs' path). */
  settled(): Promise<void> {
    return this.pool.settled();
  }

  /** Removes every warm container (drain). Jobs still running keep theirs until they end. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await this.pool.close();
  }

  async run({ envelope, input, signal }: RunRequest): Promise<RunOutcome> {
    const log = new CappedBuffer(this.options.limits.maxLogBytes);
    const key = poolKey(envelope);
    let warm = this.pool.take(key);
    if (warm) {
      warm.sinks.add(log);
      this.options.logger.info('using a warm container', { jobId: envelope.jobId, containerId: warm.containerId, served: warm.served });
    } else {
      const started = await this.start(envelope, log, signal);
      if (!('containerId' in started)) return started;
      warm = started;
    }
    this.options.onChange?.();
    return this.invoke(warm, envelope, input, log, signal);
  }

  /** Sends the job to a ready container and turns the answer into an outcome; keeps the container warm when it is healthy. */
  private async invoke(warm: WarmContainer, envelope: JobEnvelope, input: Buffer, log: CappedBuffer, signal?: AbortSignal): Promise<RunOutcome> {
    const { logger, limits, runtime } = this.options;
    const fields = { jobId: envelope.jobId, containerId: warm.containerId };
    const timeoutMs = envelope.resources.timeoutS * 1000;
    const before = warm.watch?.snapshot();
    const idle = warm.watch?.busy();
    const startedAt = new Date();
    const answer = await post(warm.socketPath, input, envelope.jobId, timeoutMs, limits.maxResultBytes, signal);
    const finishedAt = new Date();
    warm.served++;
    await warm.watch?.sample();
    idle?.();
    // With concurrency above 1 the container's counters are shared: a limit reached while requests overlap is told to each of them.
    const counted = before && warm.watch ? since(before, warm.watch.snapshot()) : NO_LIMITS;
    let oomKilled = false;

    const notices: string[] = [];
    let reason: FailureReason | undefined;
    let exitCode: number | null = null;
    let result: Buffer = Buffer.alloc(0);
    let keep = false;
    /** The container was killed or died: wait for the end of its output rather than a grace period. */
    let stopped = false;
    switch (answer.kind) {
      case 'response':
        result = answer.body.toBuffer();
        keep = true;
        if (answer.status < 200 || answer.status > 299) {
          reason = 'exit';
          notices.push(`the function answered HTTP ${answer.status}`);
        }
        break;
      case 'too_large':
        reason = 'output_too_large';
        result = answer.body.toBuffer();
        notices.push(`the response exceeded ${limits.maxResultBytes} bytes`);
        break;
      case 'timeout':
        reason = 'timeout';
        notices.push(`killed: the request ran past the deadline of ${envelope.resources.timeoutS} s`);
        stopped = true;
        await runtime.kill(warm.containerId).catch((err) => logger.warn('kill failed', { ...fields, error: errorMessage(err) }));
        break;
      case 'aborted':
        reason = 'runtime_error';
        stopped = true;
        await runtime.kill(warm.containerId).catch((err) => logger.warn('kill failed', { ...fields, error: errorMessage(err) }));
        break;
      case 'broken': {
        // The connection broke: usually the function died (crash, OOM kill). Ask the engine.
        stopped = warm.exited || (await runtime.wait(warm.containerId, DRAIN_MS));
        if (stopped) {
          const exit = await runtime.inspectExit(warm.containerId);
          exitCode = exit.exitCode;
          oomKilled = exit.oomKilled && exit.exitCode !== 0;
          reason = oomKilled ? 'oom' : 'exit';
          notices.push(oomKilled ? 'killed: the function ran out of memory' : `the function exited with status ${exit.exitCode} during the request`);
        } else {
          reason = 'runtime_error';
          notices.push(`the connection to the function broke: ${errorMessage(answer.error)}`);
        }
        break;
      }
    }
    // A container that stopped: its last output (all of it) is worth a short wait. Otherwise
    // nothing is waited for: the tail of the output keeps arriving in the job's log until the
    // caller takes it (finishLog, after the result's upload), or for TAIL_MS at most.
    const limitsHit = limitsReached({
      envelope,
      limits,
      counted,
      deadline: answer.kind === 'timeout',
      resultCapped: answer.kind === 'too_large',
      oomKilled,
      // What was dropped so far: a warm container's log may still grow until finishLog.
      logDropped: log.dropped,
    });
    notices.push(...limitNotices(limitsHit));
    let finishLog: (() => Buffer) | undefined;
    if (stopped) {
      await Promise.race([warm.closed, delay(DRAIN_MS)]);
      warm.sinks.delete(log);
    } else {
      const tail = setTimeout(() => warm.sinks.delete(log), TAIL_MS);
      tail.unref();
      finishLog = () => {
        clearTimeout(tail);
        warm.sinks.delete(log);
        return finalLog(log, notices);
      };
    }
    if (keep && !this.closed) this.pool.release(warm);
    else void this.pool.remove(warm, answer.kind === 'response' ? 'the agent is stopping' : `the request ended with ${answer.kind}`);
    this.options.onChange?.();

    const runtimeMs = elapsedMs(startedAt, finishedAt);
    logger.info('http request finished', { ...fields, answer: answer.kind, status: answer.kind === 'response' ? answer.status : undefined, reason, runtimeMs });
    return {
      status: reason ? 'failed' : 'succeeded',
      reason,
      exitCode,
      runtimeMs,
      startedAt,
      finishedAt,
      result,
      log: finalLog(log, notices),
      finishLog,
      aborted: answer.kind === 'aborted',
      limits: limitsHit,
      unwatched: warm.watch?.unwatched ?? [],
    };
  }

  /**
   * Starts a new container for `envelope` with its relay and waits until it accepts connections.
   * Returns the (busy) warm container, or the outcome of a start that failed; the start is not billed.
   */
  private async start(envelope: JobEnvelope, log: CappedBuffer, signal?: AbortSignal): Promise<WarmContainer | RunOutcome> {
    const { runtime, logger, agentId, limits } = this.options;
    const relayImage = await this.relayImage();
    mkdirSync(this.options.runDir, { recursive: true, mode: 0o700 });
    const dir = mkdtempSync(join(this.options.runDir, 'w-'));
    const socketPath = join(dir, SOCKET_NAME);
    if (socketPath.length > MAX_SOCKET_PATH) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`the relay socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} characters: choose a shorter run directory`);
    }
    if (this.relayUser === '65534:65534') chownSync(dir, 65534, 65534);

    const spec = containerSpec(envelope, agentId, limits);
    const containerId = await runtime.create({
      ...spec,
      env: { ...spec.env, PORT: String(HTTP_PORT) },
      openStdin: false,
    });
    const warm: WarmContainer = {
      key: poolKey(envelope),
      functionId: envelope.functionId,
      memoryMb: envelope.resources.memoryMb,
      busy: true,
      // One job until it listens (nobody else may take it while it starts), then its concurrency.
      slots: 1,
      lastUsed: Date.now(),
      containerId,
      dir,
      socketPath,
      sinks: new Set([log]),
      closed: Promise.resolve(),
      exited: false,
      releaseImage: this.options.retainImage?.(envelope.image) ?? (() => undefined),
      served: 0,
    };
    this.pool.admit(warm);
    const fields = { jobId: envelope.jobId, containerId };
    /** The outcome of a start that failed; once the function has stopped, its last output is awaited. */
    const failed = async (reason: FailureReason, notice: string, exitCode: number | null = null, aborted = false): Promise<RunOutcome> => {
      if (exitCode !== null) await Promise.race([warm.closed, delay(DRAIN_MS)]);
      warm.sinks.delete(log);
      void this.pool.remove(warm, `it did not start: ${notice}`);
      this.options.onChange?.();
      logger.info('http function did not start', { ...fields, reason, notice });
      const now = new Date();
      return {
        status: 'failed',
        reason,
        exitCode,
        runtimeMs: 0,
        startedAt: now,
        finishedAt: now,
        result: Buffer.alloc(0),
        log: finalLog(log, [notice]),
        aborted,
      };
    };

    try {
      const sink = (chunk: Buffer) => {
        for (const log of warm.sinks) log.push(chunk);
      };
      const attachment = await runtime.attach(containerId, { stdout: sink, stderr: sink }, false);
      warm.closed = attachment.closed.then(() => {
        warm.exited = true;
      });
      const exitedEarly = async (): Promise<RunOutcome> => {
        const exit = await runtime.inspectExit(containerId);
        return failed(
          exit.oomKilled ? 'oom' : 'exit',
          exit.oomKilled ? 'killed: the function ran out of memory while starting' : `the function exited with status ${exit.exitCode} before it was ready`,
          exit.exitCode,
        );
      };
      await runtime.start(containerId);
      warm.relayId = await runtime.create(this.relaySpec(envelope, relayImage, containerId, dir));
      try {
        await runtime.start(warm.relayId);
      } catch (err) {
        // The relay cannot join the namespace of a container that has already exited.
        if ((await runtime.inspectExit(containerId)).exitCode !== null) return await exitedEarly();
        throw err;
      }

      const deadline = Date.now() + (this.options.startupTimeoutMs ?? 30_000);
      for (;;) {
        if (signal?.aborted) return await failed('runtime_error', 'the agent stopped the job before the function was ready', null, true);
        if (warm.exited) return await exitedEarly();
        if (await probe(socketPath)) break;
        if (Date.now() > deadline) {
          await runtime.kill(containerId).catch(() => undefined);
          return await failed(
            'timeout',
            `the function did not accept connections on port ${HTTP_PORT} within ${Math.round((this.options.startupTimeoutMs ?? 30_000) / 1000)} s`,
          );
        }
        await delay(PROBE_INTERVAL_MS);
      }
      warm.watch = await runtime.watchLimits(containerId, false);
      warm.slots = envelope.concurrency ?? 1;
      logger.info('started a warm container', { ...fields, relayId: warm.relayId, functionId: envelope.functionId, slots: warm.slots });
      return warm;
    } catch (err) {
      await this.pool.remove(warm, `starting it failed: ${errorMessage(err)}`);
      this.options.onChange?.();
      throw err;
    }
  }

  /** The relay: joins the function's network namespace, listens on the socket in `dir`; hardened like a function. */
  private relaySpec(envelope: JobEnvelope, image: string, containerId: string, dir: string): ContainerSpec {
    return {
      image,
      user: this.relayUser,
      env: {},
      labels: {
        [LABELS.job]: envelope.jobId,
        [LABELS.attempt]: String(envelope.attempt),
        [LABELS.agent]: this.options.agentId,
        [LABELS.function]: envelope.functionId,
        [LABELS.role]: 'relay',
      },
      memoryBytes: 32 * MiB,
      nanoCpus: 250_000_000,
      pidsLimit: 32,
      tmpfsBytes: MiB,
      network: `container:${containerId}`,
      openStdin: false,
      cmd: [`${RELAY_DIR}/${SOCKET_NAME}`, String(HTTP_PORT)],
      binds: [{ hostPath: dir, containerPath: RELAY_DIR, readOnly: false }],
    };
  }

  private relayImage(): Promise<string> {
    this.relay ??= (this.options.relayImage ?? (() => ensureRelayImage(this.options.runtime, this.options.logger)))().catch((err: unknown) => {
      this.relay = undefined; // try again for the next job
      throw err;
    });
    return this.relay;
  }

  /** Kills and removes the function and its relay, and the socket directory. Never throws. */
  private async destroy(warm: WarmContainer, why: string): Promise<void> {
    const { runtime, logger } = this.options;
    logger.info('removing a warm container', { containerId: warm.containerId, functionId: warm.functionId, served: warm.served, why });
    void warm.watch?.stop();
    for (const id of [warm.relayId, warm.containerId]) {
      if (id) await runtime.remove(id).catch((err) => logger.warn('could not remove container', { containerId: id, error: errorMessage(err) }));
    }
    rmSync(warm.dir, { recursive: true, force: true });
    warm.releaseImage();
  }
}

/** Containers with the same key are interchangeable: same function version, image and settings. */
export function poolKey(envelope: JobEnvelope): string {
  const settings = createHash('sha256')
    .update(JSON.stringify([envelope.resources, envelope.network, Object.entries(envelope.env).sort(), envelope.concurrency ?? 1]))
    .digest('hex')
    .slice(0, 16);
  const digest = envelope.image.slice(envelope.image.indexOf('@sha256:') + 8, envelope.image.indexOf('@sha256:') + 20);
  return `${envelope.functionId}@${envelope.functionVersion}#${digest}#${settings}`;
}

/** POSTs the input to /invoke through the relay socket, bounded by a deadline and a size cap. */
function post(socketPath: string, input: Buffer, jobId: string, timeoutMs: number, maxBytes: number, signal?: AbortSignal): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const body = new CappedBuffer(maxBytes);
    const finish = (answer: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (answer.kind !== 'response') req.destroy();
      resolve(answer);
    };
    const onAbort = () => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: '/invoke',
        agent: false,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': input.length, 'X-ChainFaaS-Job-Id': jobId, Connection: 'close' },
      },
      (res) => {
        res.on('data', (chunk: Buffer) => {
          if (!body.push(chunk)) finish({ kind: 'too_large', body });
        });
        res.on('end', () => finish({ kind: 'response', status: res.statusCode ?? 0, body }));
        res.on('error', (error) => finish({ kind: 'broken', error }));
        res.on('aborted', () => finish({ kind: 'broken', error: new Error('the response was cut off') }));
      },
    );
    req.on('error', (error) => finish({ kind: 'broken', error }));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    req.end(input);
  });
}

/** True when the function answers an HTTP request through the relay (any status: it is listening). */
function probe(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, method: 'GET', path: '/healthz', agent: false, timeout: 1000, headers: { Connection: 'close' } }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
