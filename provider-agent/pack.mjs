// `npm pack` / `npm publish` in provider-agent/ runs this first (prepack). It makes what the
// package ships, in dist/:
// - cli.js: the agent bundled by esbuild into one file, with whatever it imports from the
//   repository (lambdas/core today, contract/ later) inlined; its runtime dependencies (the
//   `dependencies` of package.json) stay external and are installed by npm. The bundle is refused
//   if it would load any other package.
// - relay/: the http relay (relay/main.go) built as static binaries for linux/amd64 and
//   linux/arm64, with a manifest of their SHA-256 (provider-agent/src/relay-image.ts).
// Needs the repository's node_modules (esbuild) and Go; the installed package needs neither.
import { createRequire, builtinModules } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const dist = join(here, 'dist');
const external = Object.keys(pkg.dependencies);
const target = `node${pkg.engines.node.replace(/^>=/, '')}`;

rmSync(dist, { recursive: true, force: true });
const bundled = await build({
  entryPoints: [join(here, 'src', 'cli.ts')],
  outfile: join(dist, 'cli.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target,
  external,
  metafile: true,
  logLevel: 'warning',
});
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const loads = Object.values(bundled.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
const unexpected = [...new Set(loads)].filter((path) => !builtins.has(path) && !external.some((dep) => path === dep || path.startsWith(`${dep}/`)));
if (unexpected.length) throw new Error(`dist/cli.js would load ${unexpected.join(', ')}, which package.json does not depend on`);

// The relays: built with the same function the agent uses when it runs from the repository.
const scratch = mkdtempSync(join(tmpdir(), 'chainfaas-pack-'));
try {
  const helper = join(scratch, 'relay-image.js');
  await build({
    entryPoints: [join(here, 'src', 'relay-image.ts')],
    outfile: helper,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target,
    external,
    logLevel: 'warning',
  });
  const { buildPackedRelays } = createRequire(import.meta.url)(helper);
  const manifest = await buildPackedRelays(join(dist, 'relay'), join(here, 'relay'));
  const sizes = Object.values(manifest.binaries).map((b) => `${b.file} ${(statSync(join(dist, 'relay', b.file)).size / 1024 / 1024).toFixed(1)} MB`);
  console.error(`chainfaas-provider: dist/cli.js ${(statSync(join(dist, 'cli.js')).size / 1024).toFixed(0)} kB; ${sizes.join(', ')} (${manifest.goVersion})`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
