import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, Logger } from './log';
import { ContainerRuntime } from './runtime';

/**
 * The image of the http relay (provider-agent/relay/main.go): a static Go binary in an image
 * `FROM scratch`, built on this machine the first time an http function runs. It is
 * infrastructure of the agent: never pushed, never pulled, not counted in the image cache.
 *
 * The binary comes from one of two places:
 * - the packed agent (`npm pack` in provider-agent/, see provider-agent/pack.mjs) carries static
 *   binaries for linux/amd64 and linux/arm64 in `dist/relay/` next to the bundled `cli.js`, with
 *   a manifest of their SHA-256; the agent takes the one for the Docker engine's architecture, so
 *   a volunteer needs no Go. The image is tagged with the binary's hash.
 * - run from the repository (no `relay/` next to this file), it is built from source with
 *   `go build` and the image is tagged with the source's hash, so it is built once per version.
 */

const run = promisify(execFile);
const SOURCES = ['main.go', 'go.mod'];
/** The architectures a packed agent carries a relay for. */
export const PACKED_ARCHITECTURES = ['amd64', 'arm64'] as const;
export const MANIFEST = 'manifest.json';

const DOCKERFILE = `# Built by the ChainFaaS provider agent (provider-agent/src/relay-image.ts).
FROM scratch
COPY relay /relay
ENTRYPOINT ["/relay"]
`;

/** What pack.mjs writes next to the prebuilt binaries. */
export interface RelayManifest {
  /** SHA-256 of main.go and go.mod, in that order, as built. */
  sourceSha256: string;
  goVersion: string;
  /** GOARCH → { file name in the same directory, its SHA-256 }. */
  binaries: Record<string, { file: string; sha256: string }>;
}

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

/** Where a packed agent keeps its prebuilt relays: `relay/` next to the bundled cli.js. */
export function prebuiltRelayDir(): string {
  return join(__dirname, 'relay');
}

/** The tag of the relay image built from source in `sourceDir`. */
export function relayImageTag(sourceDir: string = relaySourceDir()): string {
  const hash = createHash('sha256');
  for (const file of SOURCES) hash.update(readFileSync(join(sourceDir, file)));
  hash.update(DOCKERFILE);
  return `chainfaas-relay:${hash.digest('hex').slice(0, 16)}`;
}

/** The tag of the relay image holding `binary`: changes whenever the binary does. */
export function prebuiltRelayImageTag(binary: Buffer): string {
  return `chainfaas-relay:${createHash('sha256').update(binary).update(DOCKERFILE).digest('hex').slice(0, 16)}`;
}

/**
 * The prebuilt relay for `arch` in `dir`, checked against the manifest; undefined when `dir` holds
 * no manifest (running from the repository). Throws when the package is there but lacks `arch` or
 * the binary does not match its manifest (a damaged install).
 */
export function prebuiltRelay(arch: string, dir: string = prebuiltRelayDir()): Buffer | undefined {
  const manifestFile = join(dir, MANIFEST);
  if (!existsSync(manifestFile)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as RelayManifest;
  const entry = manifest.binaries[arch];
  if (!entry) {
    throw new Error(`this agent carries the http relay for ${Object.keys(manifest.binaries).join(', ')}; the Docker engine is ${arch}`);
  }
  const binary = readFileSync(join(dir, entry.file));
  const sha256 = createHash('sha256').update(binary).digest('hex');
  if (sha256 !== entry.sha256) throw new Error(`${join(dir, entry.file)} has SHA-256 ${sha256}, its manifest says ${entry.sha256}: reinstall the agent`);
  return binary;
}

/** Returns the relay image's tag, building it (from the prebuilt binary, else with go build) when the engine lacks it. */
export async function ensureRelayImage(runtime: ContainerRuntime, logger: Logger): Promise<string> {
  const arch = await runtime.architecture();
  const prebuilt = prebuiltRelay(arch);
  const tag = prebuilt ? prebuiltRelayImageTag(prebuilt) : relayImageTag(relaySourceDir());
  if (await runtime.hasImage(tag)) return tag;
  logger.info('building the http relay image (once per agent version)', { image: tag, architecture: arch, from: prebuilt ? 'prebuilt binary' : 'source' });
  const stage = mkdtempSync(join(tmpdir(), 'chainfaas-relay-'));
  try {
    if (prebuilt) writeFileSync(join(stage, 'relay'), prebuilt, { mode: 0o755 });
    else await buildRelayBinary(relaySourceDir(), arch, join(stage, 'relay'));
    writeFileSync(join(stage, 'Dockerfile'), DOCKERFILE);
    await runtime.buildImage(stage, ['relay'], tag);
    return tag;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Builds the static relay for linux/`arch` from `sourceDir` into `out` (needs Go). */
export async function buildRelayBinary(sourceDir: string, arch: string, out: string): Promise<void> {
  try {
    await run(goBinary(), ['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', out, '.'], {
      cwd: sourceDir,
      env: { ...process.env, CGO_ENABLED: '0', GOOS: 'linux', GOARCH: arch },
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`building the http relay needs Go (go build in ${sourceDir}): ${stderr.trim() || errorMessage(err)}`, { cause: err });
  }
}

/**
 * Builds the relay for every packed architecture into `outDir` with its manifest (pack time:
 * provider-agent/pack.mjs); returns the manifest.
 */
export async function buildPackedRelays(outDir: string, sourceDir: string = relaySourceDir()): Promise<RelayManifest> {
  mkdirSync(outDir, { recursive: true });
  const source = createHash('sha256');
  for (const file of SOURCES) source.update(readFileSync(join(sourceDir, file)));
  const binaries: RelayManifest['binaries'] = {};
  for (const arch of PACKED_ARCHITECTURES) {
    const file = `relay-linux-${arch}`;
    await buildRelayBinary(sourceDir, arch, join(outDir, file));
    binaries[arch] = {
      file,
      sha256: createHash('sha256')
        .update(readFileSync(join(outDir, file)))
        .digest('hex'),
    };
  }
  const { stdout } = await run(goBinary(), ['env', 'GOVERSION']);
  const manifest: RelayManifest = { sourceSha256: source.digest('hex'), goVersion: stdout.trim(), binaries };
  writeFileSync(join(outDir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** `go` on PATH, else the usual install location. */
function goBinary(): string {
  const onPath = (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'go')));
  return onPath || !existsSync('/usr/local/go/bin/go') ? 'go' : '/usr/local/go/bin/go';
}
