import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * No import circle anywhere in the source (issue #15): dependency-cruiser with the project's
 * rules (.dependency-cruiser.cjs), over every folder of TypeScript the project has.
 */

const run = promisify(execFile);
const ROOT = join(__dirname, '../..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');
const SOURCES = ['lambdas', 'provider-agent/src', 'chaincode/src', 'local', 'cli', 'portal/src', 'lib', 'bin', 'bench', 'examples', 'test'];

async function cruise(cwd: string, paths: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(DEPCRUISE, ['--config', CONFIG, '--output-type', 'err', ...paths], { cwd });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('the source has no import circle', async () => {
  const { code, out } = await cruise(ROOT, SOURCES);
  expect(out).toMatch(/no dependency violations found \((\d{3,}) modules/);
  expect(code).toBe(0);
});

test('the check finds a circle, type-only imports included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chainfaas-cycle-'));
  try {
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'commonjs', moduleResolution: 'bundler', strict: true } }));
    writeFileSync(join(dir, 'a.ts'), "import { b } from './b';\nexport const a = () => b();\n");
    writeFileSync(join(dir, 'b.ts'), "import type { C } from './c';\nexport const b = (c?: C) => c;\n");
    writeFileSync(join(dir, 'c.ts'), "import { a } from './a';\nexport type C = ReturnType<typeof a>;\n");
    const { code, out } = await cruise(dir, ['.']);
    expect(code).not.toBe(0);
    expect(out).toMatch(/no-circular/);
    expect(out).toMatch(/a\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
