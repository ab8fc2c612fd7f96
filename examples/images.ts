import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

/**
 * Builds the sample function images and pushes them to a registry.
 *
 * Every folder of `examples/` with a `Dockerfile` is one example: a Go `main` package compiled
 * into a static binary (CGO off) that the Dockerfile copies into an image `FROM scratch`. The
 * image is pushed as `<registry>/chainfaas/<name>` under a tag derived from the content (binary
 * plus Dockerfile), so a second run that finds that tag in the registry neither builds nor
 * pushes: it only asks the registry for the digest.
 */

/** Options of {@link buildExampleImages}; every field has a default. */
export interface BuildExampleOptions {
  /** Docker client to build and push with. @default a client for DOCKER_HOST or /var/run/docker.sock */
  docker?: Docker;
  /** Receives one line per step (compile, build, push). @default silent */
  log?: (line: string) => void;
  /** Only these examples. @default every folder of examples/ with a Dockerfile */
  only?: string[];
}

const MANIFEST_TYPES = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json'].join(', ');
const run = promisify(execFile);

/**
 * Builds, pushes and returns every example image as a digest-pinned reference, e.g.
 * `{ sha256: '127.0.0.1:5000/chainfaas/sha256@sha256:…' }`. `registry` is `host:port` of a
 * registry the Docker engine can push to (127.0.0.0/8 needs no TLS). Idempotent; quick when
 * nothing changed.
 */
export async function buildExampleImages(registry: string, options: BuildExampleOptions = {}): Promise<Record<string, string>> {
  const host = registry.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const docker = options.docker ?? new Docker();
  const log = options.log ?? (() => undefined);
  const names = options.only ?? exampleNames();
  const stage = mkdtempSync(join(tmpdir(), 'chainfaas-example-images-'));
  try {
    await compile(names, stage, log);
    return await buildAndPush(docker, host, names, stage, log);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

async function buildAndPush(docker: Docker, host: string, names: string[], stage: string, log: (line: string) => void): Promise<Record<string, string>> {
  const refs: Record<string, string> = {};
  for (const name of names) {
    const context = join(stage, name);
    copyFileSync(join(EXAMPLES_DIR, name, 'Dockerfile'), join(context, 'Dockerfile'));
    const contentTag = `c-${createHash('sha256')
      .update(readFileSync(join(context, 'Dockerfile')))
      .update(readFileSync(join(context, name)))
      .digest('hex')
      .slice(0, 24)}`;
    const repository = `${host}/chainfaas/${name}`;
    let digest = await registryDigest(host, `chainfaas/${name}`, contentTag);
    if (digest) {
      log(`${name}: unchanged, ${repository}@${digest}`);
    } else {
      log(`${name}: building ${repository}:${contentTag}`);
      await buildImage(docker, context, name, [`${repository}:${contentTag}`, `${repository}:latest`]);
      await pushTag(docker, repository, 'latest');
      digest = await pushTag(docker, repository, contentTag);
      log(`${name}: pushed ${repository}@${digest}`);
    }
    refs[name] = `${repository}@${digest}`;
  }
  return refs;
}

/** The examples folder of the source tree, found from this file whether it runs from source or from dist/. */
const EXAMPLES_DIR = findExamplesDir(__dirname);

function findExamplesDir(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'examples');
    if (existsSync(join(candidate, 'go.mod'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`examples/go.mod not found above ${start}`);
  }
}

/** The examples: folders of examples/ holding a Dockerfile. */
export function exampleNames(): string[] {
  return readdirSync(EXAMPLES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(EXAMPLES_DIR, entry.name, 'Dockerfile')))
    .map((entry) => entry.name)
    .sort();
}

/** Compiles every example into `stage/<name>/<name>`: static, reproducible (no VCS stamp, trimmed paths). */
async function compile(names: string[], stage: string, log: (line: string) => void): Promise<void> {
  for (const name of names) mkdirSync(join(stage, name), { recursive: true });
  log(`compiling ${names.join(', ')}`);
  for (const name of names) {
    try {
      await run('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', join(stage, name, name), `./${name}`], {
        cwd: EXAMPLES_DIR,
        env: { ...process.env, CGO_ENABLED: '0', GOOS: 'linux' },
      });
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`go build of example ${name} failed: ${stderr || (err as Error).message}`, { cause: err });
    }
  }
}

async function buildImage(docker: Docker, context: string, name: string, tags: string[]): Promise<void> {
  const [first, ...more] = tags;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage({ context, src: ['Dockerfile', name] }, { t: first, rm: true, forcerm: true });
  } catch (err) {
    throw new Error(`docker build of ${first} failed: ${(err as Error).message}`, { cause: err });
  }
  await followStream(docker, stream, `docker build of ${first}`);
  for (const tag of more) {
    const at = tag.lastIndexOf(':');
    await docker.getImage(first).tag({ repo: tag.slice(0, at), tag: tag.slice(at + 1) });
  }
}

/** Pushes one tag and returns the manifest digest the engine reports. */
async function pushTag(docker: Docker, repository: string, tag: string): Promise<string> {
  let stream: NodeJS.ReadableStream;
  try {
    // The engine insists on an X-Registry-Auth header even for a registry without auth.
    stream = await docker.getImage(repository).push({ tag, authconfig: {} });
  } catch (err) {
    throw new Error(`docker push of ${repository}:${tag} failed: ${(err as Error).message}`, { cause: err });
  }
  const events = await followStream(docker, stream, `docker push of ${repository}:${tag}`);
  const digest = events.map((e) => e.aux?.Digest).find((d): d is string => typeof d === 'string');
  if (!digest) throw new Error(`docker push of ${repository}:${tag} reported no digest`);
  return digest;
}

interface StreamEvent {
  error?: string;
  aux?: { Digest?: string };
}

/** Collects the JSON events of a build or push stream; rejects on the first `error` event. */
function followStream(docker: Docker, stream: NodeJS.ReadableStream, what: string): Promise<StreamEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, events: StreamEvent[]) => {
      if (err) return reject(new Error(`${what} failed: ${err.message}`));
      const failed = events.find((e) => e.error);
      if (failed) return reject(new Error(`${what} failed: ${failed.error}`));
      resolve(events);
    });
  });
}

/** Asks the registry for the digest of `repository:tag`; undefined when the tag is absent. */
async function registryDigest(host: string, repository: string, tag: string): Promise<string | undefined> {
  const response = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES } }).catch(
    (err: Error) => {
      throw new Error(`registry ${host} is not reachable: ${err.message}`);
    },
  );
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`registry ${host} answered ${response.status} for ${repository}:${tag}`);
  return response.headers.get('docker-content-digest') ?? undefined;
}

/** `node dist/examples/images.js [registry]`: builds and pushes, then prints the references as JSON. */
if (require.main === module) {
  const registry = process.argv[2] ?? process.env.CHAINFAAS_REGISTRY ?? '127.0.0.1:5000';
  buildExampleImages(registry, { log: (line) => process.stderr.write(`${line}\n`) }).then(
    (refs) => process.stdout.write(`${JSON.stringify(refs, null, 2)}\n`),
    (err: Error) => {
      process.stderr.write(`build-images: ${err.message}\n`);
      process.exit(1);
    },
  );
}
