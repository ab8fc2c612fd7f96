import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { checkSources, LimitWatch, limitSources } from './limit-watch';
import { errorMessage, Logger } from './log';

/**
 * The agent's only window on Docker: a narrow interface that the runners and the image cache use,
 * and one implementation over dockerode. Every call logs with the container id (or image) and
 * rethrows with what it was doing, so a failure in a job's log reads `docker start 3f2a…: …`
 * rather than a bare socket error.
 */

/** How one container is isolated and limited. The runners fill it from the job envelope. */
export interface ContainerSpec {
  image: string;
  /** `user[:group]` the process runs as; never root for a function. */
  user: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Hard memory limit; swap is the same, so the container cannot swap. */
  memoryBytes: number;
  /** CPU quota in units of 1e-9 CPUs (Docker's NanoCpus). */
  nanoCpus: number;
  pidsLimit: number;
  /** Size of the writable tmpfs mounted on /tmp; the root file system is read-only. */
  tmpfsBytes: number;
  /**
   * `none`: loopback only. `egress`: the default bridge, outbound traffic allowed.
   * `container:<id>`: join the network namespace of that (running) container.
   */
  network: 'none' | 'egress' | `container:${string}`;
  /** Keep stdin open so the runner can write the job's input to it. */
  openStdin: boolean;
  /** Arguments after the image's entrypoint. @default the image's own */
  cmd?: string[];
  /** Host directories bound into the container. @default none */
  binds?: Array<{ hostPath: string; containerPath: string; readOnly: boolean }>;
}

/** What Docker recorded about a container that has stopped. */
export interface ContainerExit {
  exitCode: number | null;
  oomKilled: boolean;
  /** When the container's process started and ended, as recorded by the engine. */
  startedAt: Date;
  finishedAt: Date;
}

/** A container found by label. */
export interface ContainerSummary {
  id: string;
  image: string;
  state: string;
  labels: Record<string, string>;
}

/** Streams of a container attached before it starts; output arrives through the callbacks. */
export interface Attachment {
  /** The container's stdin; end it to send EOF. Present only when the spec opened stdin. */
  stdin?: Writable;
  /** Resolves when the engine closes the output streams (the container has exited). */
  closed: Promise<void>;
}

/** Byte counts of an image pull, summed over its layers. */
export interface PullProgress {
  image: string;
  currentBytes: number;
  totalBytes: number;
  layersDone: number;
  layersTotal: number;
}

export interface ContainerRuntime {
  hasImage(image: string): Promise<boolean>;
  /** Pulls `image` (a digest-pinned reference); `onProgress` sees the summed layer progress. */
  pullImage(image: string, onProgress?: (progress: PullProgress) => void, signal?: AbortSignal): Promise<void>;
  /** Size of a local image in bytes. */
  imageSize(image: string): Promise<number>;
  removeImage(image: string): Promise<void>;
  /** The engine's CPU architecture as Go names it (`amd64`, `arm64`, …), from `docker info`. */
  architecture(): Promise<string>;
  /** Builds the image `tag` from a directory holding a Dockerfile and the `files` it copies. */
  buildImage(contextDir: string, files: string[], tag: string): Promise<void>;
  /** Creates a container and returns its id. */
  create(spec: ContainerSpec): Promise<string>;
  attach(id: string, output: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void }, withStdin: boolean): Promise<Attachment>;
  start(id: string): Promise<void>;
  /** Waits until the container exits or `timeoutMs` passes, whichever is first; true if it exited. Never kills. */
  wait(id: string, timeoutMs: number): Promise<boolean>;
  /** SIGKILLs the container; a container that already stopped is not an error. */
  kill(id: string): Promise<void>;
  inspectExit(id: string): Promise<ContainerExit>;
  /** Starts watching the kernel's counters of a running container's limits (limit-watch.ts), sampling while `busy`; never rejects. */
  watchLimits(id: string, busy: boolean): Promise<LimitWatch>;
  /** Force-removes the container and its anonymous volumes; a missing container is not an error. */
  remove(id: string): Promise<void>;
  /** Containers (running or not) carrying every one of `labels`. */
  listByLabel(labels: Record<string, string>): Promise<ContainerSummary[]>;
}

/** {@link ContainerRuntime} over dockerode. */
export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;

  constructor(
    private readonly logger: Logger,
    docker?: Docker,
  ) {
    this.docker = docker ?? new Docker();
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw this.failure('image inspect', image, err);
    }
  }

  async pullImage(image: string, onProgress?: (progress: PullProgress) => void, signal?: AbortSignal): Promise<void> {
    this.logger.info('pulling image', { image });
    const layers = new Map<string, { current: number; total: number; done: boolean }>();
    try {
      // An empty auth config: the engine wants the header, the local registry needs no credentials.
      const stream: NodeJS.ReadableStream = await this.docker.pull(image, { authconfig: {}, abortSignal: signal });
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(
          stream,
          (err: Error | null, events: Array<{ error?: string }>) => {
            const failed = err?.message ?? events.find((e) => e.error)?.error;
            if (failed) reject(new Error(failed));
            else resolve();
          },
          (event: { id?: string; status?: string; progressDetail?: { current?: number; total?: number } }) => {
            if (!event.id || !event.status) return;
            const layer = layers.get(event.id) ?? { current: 0, total: 0, done: false };
            if (event.status === 'Downloading' && event.progressDetail?.total) {
              layer.current = event.progressDetail.current ?? layer.current;
              layer.total = event.progressDetail.total;
            }
            if (event.status === 'Download complete' || event.status === 'Pull complete' || event.status === 'Already exists') {
              layer.done = true;
              layer.current = layer.total;
            }
            layers.set(event.id, layer);
            onProgress?.(summarise(image, layers));
          },
        );
      });
    } catch (err) {
      throw this.failure('pull', image, err);
    }
    this.logger.info('pulled image', { image });
  }

  async imageSize(image: string): Promise<number> {
    try {
      return (await this.docker.getImage(image).inspect()).Size;
    } catch (err) {
      throw this.failure('image inspect', image, err);
    }
  }

  async removeImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).remove();
      this.logger.info('removed image', { image });
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw this.failure('image remove', image, err);
    }
  }

  async architecture(): Promise<string> {
    try {
      const info = (await this.docker.info()) as { Architecture?: string };
      return goArchitecture(info.Architecture ?? '');
    } catch (err) {
      throw this.failure('info', 'engine', err);
    }
  }

  async buildImage(contextDir: string, files: string[], tag: string): Promise<void> {
    try {
      const stream = await this.docker.buildImage({ context: contextDir, src: ['Dockerfile', ...files] }, { t: tag, rm: true, forcerm: true });
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
          const failed = err?.message ?? events.find((e) => e.error)?.error;
          if (failed) reject(new Error(failed));
          else resolve();
        });
      });
      this.logger.info('built image', { image: tag });
    } catch (err) {
      throw this.failure('build', tag, err);
    }
  }

  async create(spec: ContainerSpec): Promise<string> {
    try {
      const container = await this.docker.createContainer({
        Image: spec.image,
        Cmd: spec.cmd,
        User: spec.user,
        Env: Object.entries(spec.env).map(([name, value]) => `${name}=${value}`),
        Labels: spec.labels,
        OpenStdin: spec.openStdin,
        StdinOnce: spec.openStdin,
        AttachStdin: spec.openStdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        HostConfig: {
          Memory: spec.memoryBytes,
          MemorySwap: spec.memoryBytes,
          NanoCpus: spec.nanoCpus,
          PidsLimit: spec.pidsLimit,
          ReadonlyRootfs: true,
          Tmpfs: { '/tmp': `rw,noexec,nosuid,nodev,size=${spec.tmpfsBytes}` },
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges'],
          NetworkMode: spec.network === 'egress' ? 'bridge' : spec.network,
          Binds: spec.binds?.map((b) => `${b.hostPath}:${b.containerPath}:${b.readOnly ? 'ro' : 'rw'}`),
          AutoRemove: false,
        },
      });
      this.logger.debug('created container', { containerId: container.id, image: spec.image, labels: spec.labels });
      return container.id;
    } catch (err) {
      throw this.failure('create', spec.image, err);
    }
  }

  async attach(id: string, output: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void }, withStdin: boolean): Promise<Attachment> {
    try {
      const stream = (await this.docker
        .getContainer(id)
        .attach({ stream: true, stdin: withStdin, stdout: true, stderr: true, hijack: withStdin })) as NodeJS.ReadWriteStream;
      this.docker.modem.demuxStream(stream, sink(output.stdout), sink(output.stderr));
      const closed = new Promise<void>((resolve) => {
        stream.once('end', resolve);
        stream.once('close', resolve);
        stream.once('error', (err: Error) => {
          this.logger.warn('container output stream failed', { containerId: id, error: err.message });
          resolve();
        });
      });
      return { stdin: withStdin ? (stream as unknown as Writable) : undefined, closed };
    } catch (err) {
      throw this.failure('attach', id, err);
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
      this.logger.debug('started container', { containerId: id });
    } catch (err) {
      throw this.failure('start', id, err);
    }
  }

  async wait(id: string, timeoutMs: number): Promise<boolean> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
    });
    try {
      const exited = this.docker
        .getContainer(id)
        .wait({ condition: 'not-running', abortSignal: abort.signal })
        .then(() => true as const);
      const result = await Promise.race([exited, deadline]);
      if (!result) {
        abort.abort();
        exited.catch(() => undefined);
      }
      return result;
    } catch (err) {
      throw this.failure('wait', id, err);
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).kill({ signal: 'SIGKILL' });
      this.logger.info('killed container', { containerId: id });
    } catch (err) {
      // 409: the container is not running any more, which is what we wanted.
      if (statusOf(err) === 409 || statusOf(err) === 404) return;
      throw this.failure('kill', id, err);
    }
  }

  async inspectExit(id: string): Promise<ContainerExit> {
    try {
      const { State } = await this.docker.getContainer(id).inspect();
      return {
        exitCode: State.Running ? null : State.ExitCode,
        oomKilled: State.OOMKilled,
        startedAt: new Date(State.StartedAt),
        finishedAt: new Date(State.FinishedAt),
      };
    } catch (err) {
      throw this.failure('inspect', id, err);
    }
  }

  async watchLimits(id: string, busy: boolean): Promise<LimitWatch> {
    try {
      const { State } = await this.docker.getContainer(id).inspect();
      const ended = 'the container ended within its first milliseconds, before the agent could watch it';
      if (!State.Running || !State.Pid) return LimitWatch.unavailable(ended);
      const cgroup = await readFile(`/proc/${State.Pid}/cgroup`, 'utf8').catch(() => undefined);
      if (cgroup === undefined) return LimitWatch.unavailable(ended);
      const sources = await checkSources(limitSources(cgroup, State.Pid, id));
      // Sources that vanished while they were checked: the container ended meanwhile.
      if (sources.unwatched.length > 0 && !(await this.docker.getContainer(id).inspect()).State.Running) return LimitWatch.unavailable(ended);
      return await LimitWatch.start(sources, { busy });
    } catch (err) {
      this.logger.warn('could not watch the limits of a container', { containerId: id, error: errorMessage(err) });
      return LimitWatch.unavailable(`the agent could not inspect the container (${errorMessage(err)})`);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
      this.logger.debug('removed container', { containerId: id });
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw this.failure('remove', id, err);
    }
  }

  async listByLabel(labels: Record<string, string>): Promise<ContainerSummary[]> {
    try {
      const list = await this.docker.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
      return list.map((c) => ({ id: c.Id, image: c.Image, state: c.State, labels: c.Labels }));
    } catch (err) {
      throw this.failure('list containers labelled', JSON.stringify(labels), err);
    }
  }

  /** Logs a failed call and returns the error to throw, naming the operation and its subject. */
  private failure(operation: string, subject: string, err: unknown): Error {
    const short = /^[a-f0-9]{64}$/.test(subject) ? subject.slice(0, 12) : subject;
    const message = `docker ${operation} ${short}: ${errorMessage(err)}`;
    this.logger.warn('docker call failed', { operation, subject, error: errorMessage(err) });
    return new Error(message, { cause: err });
  }
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err ? Number((err as { statusCode: unknown }).statusCode) : undefined;
}

function sink(receive: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      receive(chunk);
      done();
    },
  });
}

function summarise(image: string, layers: Map<string, { current: number; total: number; done: boolean }>): PullProgress {
  let currentBytes = 0;
  let totalBytes = 0;
  let layersDone = 0;
  for (const layer of layers.values()) {
    currentBytes += layer.current;
    totalBytes += layer.total;
    if (layer.done) layersDone++;
  }
  return { image, currentBytes, totalBytes, layersDone, layersTotal: layers.size };
}

/** The engine's `uname -m` (what `docker info` reports as Architecture) as a GOARCH name. */
export function goArchitecture(machine: string): string {
  const names: Record<string, string> = {
    x86_64: 'amd64',
    amd64: 'amd64',
    aarch64: 'arm64',
    arm64: 'arm64',
    armv7l: 'arm',
    i686: '386',
    i386: '386',
    s390x: 's390x',
    ppc64le: 'ppc64le',
    riscv64: 'riscv64',
  };
  return names[machine] ?? machine;
}
