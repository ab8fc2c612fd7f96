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

/** The compiled CLI. */
export const CLI_BIN = join(ROOT, 'dist', 'cli', 'chainfaas.js');

/** What a run of the CLI printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the compiled CLI in a subprocess with exactly `env` (PATH is added), stdin `input`. Never
 * execFileSync: the platform answering it usually lives in the test's own process.
 */
export function runCli(args: string[], env: Record<string, string | undefined>, options: { input?: string | Buffer; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
