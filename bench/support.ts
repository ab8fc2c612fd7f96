import { execFile } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../lib/project-root';

/**
 * What every benchmark shares: the profile (quick or full), percentiles from raw samples, the
 * machine's load around a run, and the one place results are written (bench/results/<name>.json).
 */

export type Profile = 'quick' | 'full';

export interface BenchArgs {
  profile: Profile;
  /** Only these benchmarks (run.ts); empty: all. */
  only: string[];
  /** Skip these benchmarks (run.ts). */
  skip: string[];
}

/** `--quick`, `--only a,b`, `--skip a,b`; anything else is refused with the flags named. */
export function parseBenchArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { profile: 'full', only: [], skip: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const list = () => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${flag} needs a comma-separated list`);
      return value.split(',').filter(Boolean);
    };
    if (flag === '--quick') args.profile = 'quick';
    else if (flag === '--full') args.profile = 'full';
    else if (flag === '--only') args.only = list();
    else if (flag === '--skip') args.skip = list();
    else throw new Error(`unknown flag ${flag} (known: --quick, --full, --only a,b, --skip a,b)`);
  }
  return args;
}

/** The command line that reproduces a profile, as the README table shows it. */
export function commandFor(profile: Profile, name?: string): string {
  return withFlags(profile, name ? ['--only', name] : []);
}

/** `npm run bench` with these flags after the profile's: npm passes on only what follows `--`. */
export function withFlags(profile: Profile, flags: string[]): string {
  const all = [...(profile === 'quick' ? ['--quick'] : []), ...flags];
  return all.length ? `npm run bench -- ${all.join(' ')}` : 'npm run bench';
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of raw samples (q in 0..1). */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] as number;
}

export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  return {
    n,
    p50: round(percentile(samples, 0.5)),
    p95: round(percentile(samples, 0.95)),
    mean: round(n ? samples.reduce((a, b) => a + b, 0) / n : NaN),
    min: round(n ? Math.min(...samples) : NaN),
    max: round(n ? Math.max(...samples) : NaN),
  };
}

export const round = (x: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Load average (1 min) and the machine, taken before and after a benchmark. */
export interface MachineNote {
  cpus: number;
  memoryMb: number;
  node: string;
  loadAverage1m: { before: number; after?: number };
}

export function machineBefore(): MachineNote {
  return {
    cpus: cpus().length,
    memoryMb: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    loadAverage1m: { before: round(loadavg()[0] as number, 2) },
  };
}

export function machineAfter(note: MachineNote): MachineNote {
  return { ...note, loadAverage1m: { ...note.loadAverage1m, after: round(loadavg()[0] as number, 2) } };
}

export function resultsDir(): string {
  return join(projectRoot(), 'bench', 'results');
}

/** Writes bench/results/<name>.json (atomically) and, unless told not to, prints the object as one JSON document on stdout. */
export function publish(name: string, result: object, options: { print?: boolean } = {}): void {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(result, null, 2);
  const temporary = join(dir, `${name}.json.tmp`);
  writeFileSync(temporary, `${json}\n`);
  renameSync(temporary, join(dir, `${name}.json`));
  if (options.print !== false) process.stdout.write(`${json}\n`);
}

/** Progress for the person watching: stderr, so stdout stays JSON. */
export function note(line: string): void {
  process.stderr.write(`[bench +${process.uptime().toFixed(1)}s] ${line}\n`);
}

/** Runs a program with `input` on stdin; resolves with stdout, rejects with stderr named. */
export function runWithInput(file: string, args: string[], input: string | Buffer, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message} ${String(stderr).slice(0, 500)}`));
      else resolve(String(stdout));
    });
    child.stdin?.end(input);
  });
}

/** Runs `task` for items 0..count-1 with at most `concurrency` at once; resolves with results in order. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Unrecorded pairs (a platform invocation and its baseline) after a latency benchmark's first
 * invocation and before its samples, so both sides are measured warm: the engine's caches, and the
 * controller's and the agent's code compiled by the JIT, as in a controller that has been serving.
 * Without them the first samples were the platform's slowest: of 50 cold samples, the first 10 gave
 * ×1.14–1.17 and the other 40 ×1.08–1.10 against the same docker runs, so a 10-sample quick run
 * measured mostly the warm-up.
 */
export const WARM_UP_PAIRS = 5;

/**
 * Unrecorded invocations the warm benchmark sends before its pairs (platform only), so the stand-ins
 * for AWS are measured warm too: DynamoDB Local is a JVM, whose request path the JIT compiles over
 * its first thousand or so requests, where DynamoDB itself is warm for every client. Run after the
 * cold benchmark (~1,400 DynamoDB requests), the warm figure was +21–28 ms over the direct call;
 * run alone, with WARM_UP_PAIRS only, +45–55 ms (same commit, three runs each, load < 1.5): the
 * figure measured what ran before it. 100 warm jobs are ~1,800 requests, 2–4 s here.
 */
export const EMULATOR_WARM_UP_INVOCATIONS = 100;
