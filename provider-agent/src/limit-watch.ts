import { watch as watchFile, FSWatcher } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import type { UnwatchedLimit } from '../../contract/src';

/**
 * What the kernel knows about the limits a running container reached, which Docker does not say:
 * the pids controller counts the forks it refused (`pids.events`, `max N`), the memory controller
 * counts the processes its OOM killer stopped (`memory.events` on cgroup v2, `memory.oom_control`
 * on v1, `oom_kill N`), and the container's /tmp (a tmpfs) shows whether it is full. The cgroup of
 * a container is removed when it exits, and its /tmp with its mount namespace, so the agent reads
 * them while it runs: every SAMPLE_MS while it serves a job, and at once when the kernel signals a
 * change of an events file (cgroup files notify inotify watchers). The counters are cumulative, so a warm container's
 * job reads the difference between two snapshots.
 *
 * What this cannot see is said, never guessed: a container whose processes are not visible here
 * (an engine in a VM or on another host), a /tmp the agent may not read (it is not root), or a
 * container that ended before it could be watched. A /tmp filled and emptied within one sample
 * interval, or a limit reached in the last instants before the container exited, can be missed.
 */

export const SAMPLE_MS = 100;

/** Cumulative counters of one container since it started. */
export interface LimitSnapshot {
  /** Forks the pids limit refused. */
  processesRefused: number;
  /** Processes the OOM killer stopped in the container's memory cgroup. */
  oomKills: number;
  /** Samples that found /tmp full. */
  scratchFullSamples: number;
}

/** No limit reached: the counts of a container nothing watched. */
export const NO_LIMITS: LimitSnapshot = { processesRefused: 0, oomKills: 0, scratchFullSamples: 0 };

/** Where one container's counters are read. Absent: that limit is not watched (see `unwatched`). */
export interface LimitSources {
  pidsEvents?: string;
  /** The file and the key of its OOM kill count. */
  memory?: { file: string; key: 'oom_kill' };
  /** A path inside the container's /tmp as the agent sees it (`/proc/<pid>/root/tmp`). */
  scratch?: string;
  unwatched: UnwatchedLimit[];
}

export class LimitWatch {
  private counters: LimitSnapshot = { ...NO_LIMITS };
  private timer?: NodeJS.Timeout;
  private readonly watchers: FSWatcher[] = [];
  private sampling?: Promise<void>;
  private stopped = false;
  private inFlight = 0;

  private constructor(
    private readonly sources: LimitSources,
    private readonly intervalMs = SAMPLE_MS,
  ) {}

  /**
   * Starts watching: one sample now, then on each change the kernel signals, and every
   * `intervalMs` while {@link busy} (from the start when `busy` is true: a one-job container).
   */
  static async start(sources: LimitSources, options: { busy: boolean; intervalMs?: number } = { busy: true }): Promise<LimitWatch> {
    const watch = new LimitWatch(sources, options.intervalMs ?? SAMPLE_MS);
    await watch.sample();
    if (options.busy) watch.busy();
    for (const file of [sources.pidsEvents, sources.memory?.file]) {
      if (!file) continue;
      try {
        const watcher = watchFile(file, () => void watch.sample());
        watcher.on('error', () => watcher.close());
        watch.watchers.push(watcher);
      } catch {
        // Some kernels do not notify on cgroup files: the interval still samples.
      }
    }
    return watch;
  }

  /**
   * Samples every interval until the returned function is called (a warm container is sampled
   * only while it serves a job; calls nest, one per job in flight).
   */
  busy(): () => void {
    if (this.stopped) return () => undefined;
    if (this.inFlight++ === 0) {
      this.timer = setInterval(() => void this.sample(), this.intervalMs);
      this.timer.unref();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.inFlight === 0) clearInterval(this.timer);
    };
  }

  /** A watch of nothing: every watched limit is unwatched for `why`. */
  static unavailable(why: string): LimitWatch {
    return new LimitWatch({
      unwatched: [
        { limit: 'memory', why },
        { limit: 'processes', why },
        { limit: 'scratch', why },
      ],
    });
  }

  get unwatched(): UnwatchedLimit[] {
    return this.sources.unwatched;
  }

  snapshot(): LimitSnapshot {
    return { ...this.counters };
  }

  /** Reads every source once (a read in progress is joined). A source that vanished (the container exited) keeps its last value. */
  sample(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.sampling ??= this.read().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  /** Takes a last sample and stops; the counters stay readable. */
  async stop(): Promise<LimitSnapshot> {
    await this.sample();
    this.stopped = true;
    clearInterval(this.timer);
    for (const watcher of this.watchers) watcher.close();
    return this.snapshot();
  }

  private async read(): Promise<void> {
    const { pidsEvents, memory, scratch } = this.sources;
    const [refused, killed, full] = await Promise.all([
      pidsEvents ? counterIn(pidsEvents, 'max') : undefined,
      memory ? counterIn(memory.file, memory.key) : undefined,
      scratch ? scratchIsFull(scratch) : undefined,
    ]);
    const c = this.counters;
    if (refused !== undefined) c.processesRefused = Math.max(c.processesRefused, refused);
    if (killed !== undefined) c.oomKills = Math.max(c.oomKills, killed);
    if (full) c.scratchFullSamples++;
  }
}

/** The difference between two snapshots of one container (what happened during one job). */
export function since(before: LimitSnapshot, after: LimitSnapshot): LimitSnapshot {
  return {
    processesRefused: Math.max(0, after.processesRefused - before.processesRefused),
    oomKills: Math.max(0, after.oomKills - before.oomKills),
    scratchFullSamples: Math.max(0, after.scratchFullSamples - before.scratchFullSamples),
  };
}

/**
 * Where the counters of the container whose first process is `pid` live, from `/proc/<pid>/cgroup`
 * (`text`): cgroup v1 names a path per controller (`4:memory:/docker/<id>`), v2 one path for all
 * (`0::/system.slice/docker-<id>.scope`). A cgroup path that does not name the container means the
 * pid is not the container's here (another pid namespace): nothing is read then.
 */
export function limitSources(text: string, pid: number, containerId: string, root = '/sys/fs/cgroup'): LimitSources {
  const unwatched: UnwatchedLimit[] = [];
  const lines = text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((parts) => parts.length >= 3)
    .map(([, controllers, ...path]) => ({ controllers: (controllers ?? '').split(','), path: path.join(':') }));
  const v1 = (controller: string) => lines.find((l) => l.controllers.includes(controller) && l.path.includes(containerId));
  const v2 = lines.find((l) => l.controllers.length === 1 && l.controllers[0] === '' && l.path.includes(containerId));
  const pidsV1 = v1('pids');
  const memoryV1 = v1('memory');
  const sources: LimitSources = { unwatched, scratch: `/proc/${pid}/root/tmp` };
  if (!pidsV1 && !memoryV1 && !v2) {
    const why = "the container's processes are not visible to the agent (the engine runs in another machine or pid namespace)";
    return {
      unwatched: [
        { limit: 'memory', why },
        { limit: 'processes', why },
        { limit: 'scratch', why },
      ],
    };
  }
  if (pidsV1) sources.pidsEvents = `${root}/pids${pidsV1.path}/pids.events`;
  else if (v2) sources.pidsEvents = `${root}${v2.path}/pids.events`;
  else unwatched.push({ limit: 'processes', why: "the container's cgroup has no pids controller here" });
  if (memoryV1) sources.memory = { file: `${root}/memory${memoryV1.path}/memory.oom_control`, key: 'oom_kill' };
  else if (v2) sources.memory = { file: `${root}${v2.path}/memory.events`, key: 'oom_kill' };
  else unwatched.push({ limit: 'memory', why: "the container's cgroup has no memory controller here" });
  return sources;
}

/**
 * Checks that each source can be read now (the container runs), moving those that cannot to
 * `unwatched` with the reason: cgroup files missing (the kernel lacks the counter) or a /tmp the
 * agent may not look into (reading another user's mount namespace needs root).
 */
export async function checkSources(sources: LimitSources): Promise<LimitSources> {
  const checked: LimitSources = { ...sources, unwatched: [...sources.unwatched] };
  if (sources.pidsEvents && (await counterIn(sources.pidsEvents, 'max')) === undefined) {
    checked.pidsEvents = undefined;
    checked.unwatched.push({ limit: 'processes', why: `the kernel's count of refused forks (${sources.pidsEvents}) could not be read` });
  }
  if (sources.memory && (await counterIn(sources.memory.file, sources.memory.key)) === undefined) {
    checked.memory = undefined;
    checked.unwatched.push({ limit: 'memory', why: `the kernel's count of OOM kills (${sources.memory.file}) could not be read` });
  }
  if (sources.scratch) {
    try {
      await statfs(sources.scratch);
    } catch (err) {
      checked.scratch = undefined;
      const code = (err as NodeJS.ErrnoException).code;
      checked.unwatched.push({
        limit: 'scratch',
        why:
          code === 'EACCES' || code === 'EPERM'
            ? "looking into the container's /tmp needs root, and the agent does not run as root"
            : `the container's /tmp could not be read (${code ?? 'error'})`,
      });
    }
  }
  return checked;
}

/** The number after `key` in a `key value` per line file, or undefined when it cannot be read. */
export async function counterIn(file: string, key: string): Promise<number | undefined> {
  try {
    return parseCounter(await readFile(file, 'utf8'), key);
  } catch {
    return undefined;
  }
}

export function parseCounter(text: string, key: string): number | undefined {
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === key && value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  return undefined;
}

/** Whether the file system holding `path` has less than one block free; undefined when it cannot be read. */
async function scratchIsFull(path: string): Promise<boolean | undefined> {
  try {
    const fs = await statfs(path);
    return fs.bavail < 1;
  } catch {
    return undefined;
  }
}
