// Builds the portal into portal/dist: type-checks src/ (tsc, DOM types), bundles src/main.ts with
// esbuild into one ES module (uPlot, the charting library, bundled in), and copies static/
// (index.html, styles, icon) and uPlot's stylesheet. No framework. `npm run build:portal` runs it; the portal tests run it too.
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const check = !process.argv.includes('--no-check');

if (check) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.ts')],
  bundle: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: true,
  outfile: join(dist, 'app.js'),
  logLevel: 'warning',
});
cpSync(join(here, 'static'), dist, { recursive: true });
// uPlot's own stylesheet, next to ours (a file of the origin: the CSP allows no inline styles).
cpSync(createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), join(dist, 'uplot.min.css'));
console.log(`portal built into ${dist}`);
