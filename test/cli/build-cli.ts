import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The repository's root, where the compiled CLI lands (dist/cli/chainfaas.js). */
export const ROOT = join(__dirname, '..', '..');

/** Compiles the CLI (`tsc -p cli/tsconfig.json`) for the tests that run it as a subprocess. */
export function buildCli(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'cli', 'tsconfig.json')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tsc -p cli failed:\n${out}`))));
  });
}
