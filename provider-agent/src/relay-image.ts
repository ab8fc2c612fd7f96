import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, Logger } from './log';
import { ContainerRuntime } from './runtime';

/**
 * The image of the http relay (provider-agent/relay/main.go): a static Go binary in an image
 * `FROM scratch`, built on this machine the first time an http function runs and tagged with the
 * hash of its source, so it is built once per source version. It is infrastructure of the agent:
 * never pushed, never pulled, not counted in the image cache.
 */

const run = promisify(execFile);
const SOURCES = ['main.go', 'go.mod'];

const DOCKERFILE = `# Built by the ChainFaaS provider agent (provider-agent/src/relay-image.ts).
FROM scratch
COPY relay /relay
ENTRYPOINT ["/relay"]
`;

/** The relay's source folder: provider-agent/relay above this file (source or dist), else above the working directory. */
export function relaySourceDir(): string {
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, 'provider-agent', 'relay');
      if (existsSync(join(candidate, 'main.go'))) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`provider-agent/relay/main.go not found above ${__dirname} or ${process.cwd()}`);
}

/** The tag the relay image has for the current source. */
export function relayImageTag(sourceDir: string = relaySourceDir()): string {
  const hash = createHash('sha256');
  for (const file of SOURCES) hash.update(readFileSync(join(sourceDir, file)));
  hash.update(DOCKERFILE);
  return `chainfaas-relay:${hash.digest('hex').slice(0, 16)}`;
}

/** Returns the relay image's tag, building it (go build, then docker build) when the engine lacks it. */
export async function ensureRelayImage(runtime: ContainerRuntime, logger: Logger): Promise<string> {
  const sourceDir = relaySourceDir();
  const tag = relayImageTag(sourceDir);
  if (await runtime.hasImage(tag)) return tag;
  logger.info('building the http relay image (once per agent version)', { image: tag });
  const stage = mkdtempSync(join(tmpdir(), 'chainfaas-relay-'));
  try {
    try {
      await run(goBinary(), ['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', join(stage, 'relay'), '.'], {
        cwd: sourceDir,
        env: { ...process.env, CGO_ENABLED: '0', GOOS: 'linux' },
      });
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`building the http relay needs Go (go build in ${sourceDir}): ${stderr.trim() || errorMessage(err)}`, { cause: err });
    }
    writeFileSync(join(stage, 'Dockerfile'), DOCKERFILE);
    await runtime.buildImage(stage, ['relay'], tag);
    return tag;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** `go` on PATH, else the usual install location. */
function goBinary(): string {
  const onPath = (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'go')));
  return onPath || !existsSync('/usr/local/go/bin/go') ? 'go' : '/usr/local/go/bin/go';
}
