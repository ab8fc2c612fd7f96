import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../lib/project-root';
import { runCold } from './cold';
import { Harness, startHarness } from './harness';
import { goalRows } from './goals';
import { renderReadme } from './report';
import { runScheduler } from './scheduler';
import { commandFor, machineAfter, machineBefore, note, parseBenchArgs, Profile, publish, resultsDir, round, withFlags } from './support';
import { runThroughput } from './throughput';
import { runWarm } from './warm';
import { runWarmThroughput } from './warm-throughput';

/**
 * `npm run bench [-- --quick] [--only a,b] [--skip a,b]`: every benchmark in one run, one after
 * the other on one local platform (so none competes with another for the 2 cores), each printing
 * one JSON object on stdout and writing bench/results/<name>.json; then the ledger benchmark on a
 * local Fabric network (bench/ledger.ts, its own process); then bench/results/summary.json and
 * the results table of bench/README.md, rendered from the files just written.
 */

const NAMES = ['scheduler', 'cold', 'warm', 'warm-throughput', 'throughput', 'cost', 'ledger', 'sim'] as const;
type Name = (typeof NAMES)[number];

/** bench/ledger.ts's flags per profile; the full profile is its own defaults. */
const LEDGER_FLAGS: Record<Profile, string[]> = {
  quick: [
    ...['--jobs', '100', '--batch-sizes', '30,150', '--single-jobs', '8', '--concurrent-jobs', '32', '--concurrency', '16'],
    ...['--rate', '500', '--seconds', '10', '--ceiling-seconds', '3'],
  ],
  full: [],
};

const onPlatform: Record<Exclude<Name, 'ledger' | 'scheduler' | 'cost' | 'sim'>, (h: Harness, profile: Profile) => Promise<object>> = {
  cold: runCold,
  warm: runWarm,
  throughput: runThroughput,
  'warm-throughput': runWarmThroughput,
};

interface Step {
  name: Name;
  status: 'ok' | 'failed' | 'skipped';
  seconds: number;
  /** The command that reproduces this step's result. */
  command: string;
  finishedAt?: string;
  error?: string;
  /** The commit this step measured (the goal rows read from its results file carry it). */
  source?: SourceState;
}

/** A benchmark in a child process of its own (ledger.js, cost.js); its JSON goes to our stdout, its progress to our stderr. */
function runChild(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, script), ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`bench/${script} exited with ${signal ?? code}`))));
  });
}
const runLedger = (profile: Profile) => runChild('ledger.js', LEDGER_FLAGS[profile]);

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  for (const n of [...args.only, ...args.skip]) if (!NAMES.includes(n as Name)) throw new Error(`unknown benchmark ${n} (known: ${NAMES.join(', ')})`);
  const chosen = NAMES.filter((n) => (args.only.length === 0 || args.only.includes(n)) && !args.skip.includes(n));
  const machine = machineBefore();
  // Read before any result is written: the run's own outputs are not changes to what it measured.
  const source = sourceState();
  const started = performance.now();
  const steps: Step[] = [];
  const step = async (name: Name, body: () => Promise<void>) => {
    const t0 = performance.now();
    note(`${name}: starting (load average ${machineBefore().loadAverage1m.before})`);
    try {
      await body();
      steps.push({
        name,
        status: 'ok',
        seconds: round((performance.now() - t0) / 1000, 1),
        command: commandFor(args.profile),
        finishedAt: new Date().toISOString(),
        source,
      });
    } catch (err) {
      note(`${name} failed: ${(err as Error).stack ?? err}`);
      steps.push({
        name,
        status: 'failed',
        seconds: round((performance.now() - t0) / 1000, 1),
        command: commandFor(args.profile),
        error: String((err as Error).message ?? err),
      });
    }
  };

  const needsPlatform = chosen.some((n) => n !== 'ledger' && n !== 'cost' && n !== 'sim');
  let platformSeconds = 0;
  if (needsPlatform) {
    const t0 = performance.now();
    const harness = await startHarness();
    platformSeconds = round((performance.now() - t0) / 1000, 1);
    note(`platform up in ${platformSeconds} s`);
    try {
      for (const name of chosen) {
        if (name === 'ledger' || name === 'cost' || name === 'sim') continue;
        // The scheduler benchmark uses the platform's DynamoDB Local (a table of its own).
        if (name === 'scheduler') await step(name, async () => publish(name, await runScheduler(args.profile)));
        else await step(name, async () => publish(name, await onPlatform[name](harness, args.profile)));
      }
    } finally {
      await harness.stop();
    }
  }
  // Cost counts on a platform of its own (wire proxies, the sync wait as in AWS: its own process).
  if (chosen.includes('cost')) await step('cost', () => runChild('cost.js', args.profile === 'quick' ? ['--quick'] : []));
  if (chosen.includes('ledger')) await step('ledger', () => runLedger(args.profile));
  // The simulation of issue #24 needs no platform: simulated time and machines, the controller's own placement code.
  if (chosen.includes('sim')) await step('sim', () => runChild('sim/run.js', args.profile === 'quick' ? ['--quick'] : []));

  const summary = {
    profile: args.profile,
    source,
    command: withFlags(args.profile, [...(args.only.length ? ['--only', args.only.join(',')] : []), ...(args.skip.length ? ['--skip', args.skip.join(',')] : [])]),
    date: new Date().toISOString(),
    machine: machineAfter(machine),
    platformStartSeconds: platformSeconds,
    wallSeconds: round((performance.now() - started) / 1000, 1),
    steps,
    ledgerFlags: LEDGER_FLAGS[args.profile],
  };
  publishSummary(summary);
  if (steps.some((s) => s.status === 'failed')) process.exitCode = 1;
}

interface SourceState {
  commit: string;
  /** Tracked files that differed from the commit when the run started, its own outputs left out. */
  modifiedTrackedFiles: string[];
}

/** What a run writes itself: bench/results/*.json and the README table rendered from them. */
const OUTPUTS = /^bench\/(results\/|README\.md$)/;

/** The commit the run was built from, and the tracked files that differed from it (the build compiles the working tree). */
function sourceState(): SourceState {
  const git = (...a: string[]) => execFileSync('git', a, { cwd: projectRoot(), encoding: 'utf8' }).trim();
  try {
    const modified = git('diff', '--name-only', 'HEAD').split('\n').filter((f) => f !== '' && !OUTPUTS.test(f));
    return { commit: git('rev-parse', 'HEAD'), modifiedTrackedFiles: modified };
  } catch {
    return { commit: 'unknown (no git)', modifiedTrackedFiles: [] };
  }
}

const describe = (s: SourceState): string => s.commit + (s.modifiedTrackedFiles.length ? ' (plus uncommitted changes)' : '');

/** Writes summary.json (merged with the steps of an earlier run that this one did not repeat) and the README table. */
function publishSummary(summary: { steps: Step[]; command: string; date: string } & Record<string, unknown>): void {
  const path = join(resultsDir(), 'summary.json');
  const earlier = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { steps?: Step[] }) : {};
  const steps = [...(earlier.steps ?? []).filter((s) => !summary.steps.some((n) => n.name === s.name)), ...summary.steps];
  const merged = { ...summary, steps: NAMES.map((n) => steps.find((s) => s.name === n)).filter(Boolean) };
  process.stderr.write(`${JSON.stringify(merged, null, 2)}\n`);
  publish('summary', merged, { print: false });
  // Each row keeps the commit of the run that measured it: this run's steps, an earlier run's, or (a
  // results file no step of this tool wrote, e.g. bench/verification.ts) what goals.json said before.
  const goalsPath = join(resultsDir(), 'goals.json');
  const before = existsSync(goalsPath) ? (JSON.parse(readFileSync(goalsPath, 'utf8')) as Array<{ figure: string; commit: string }>) : [];
  const commitOf = (result: string, figure: string): string => {
    const measured = merged.steps.find((s) => s?.name === result)?.source;
    if (measured) return describe(measured);
    return before.find((g) => g.figure === figure)?.commit ?? 'not recorded';
  };
  const goals = goalRows(commitOf);
  publish('goals', goals, { print: false });
  note(`goals: ${goals.filter((g) => g.holds).length} of ${goals.length} hold (bench/results/goals.json)`);
  renderReadme();
  note(`done in ${summary.wallSeconds as number} s; bench/README.md table rendered from bench/results/*.json`);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
