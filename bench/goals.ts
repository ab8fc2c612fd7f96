import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resultsDir } from './support';

/**
 * The goals the benchmarks are held to, one row each in bench/results/goals.json
 * (`{ figure, value, unit, goal, holds }`, with the commit measured): the rows of GOALS below, read
 * from the results files, and the `goals` rows a benchmark writes into its own results file
 * (cold, warm, cost: their figure and its goal are computed where they are measured).
 */

export interface Goal {
  figure: string;
  unit: string;
  /** The goal in words, as the issue states it. */
  goal: string;
  /** The results file (bench/results/<result>.json) the figure is read from. */
  result: string;
  /** The figure from bench/results/*.json, or undefined when that benchmark has not run. */
  read(load: (name: string) => any): number | undefined;
  holds(value: number): boolean;
}

export const GOALS: Goal[] = [
  {
    figure: 'settled jobs/s, lanes writer through the outbox on local Fabric (#17)',
    unit: 'jobs/s',
    goal: '>= 500 sustained for 60 s',
    result: 'ledger',
    read: (load) => load('ledger')?.settlement?.lanes?.settledJobsPerSecond,
    holds: (v) => v >= 500,
  },
  {
    figure: 'failed or lost events after retries, lanes writer (#17)',
    unit: 'events',
    goal: '0, every job settled once, reconciliation exact',
    result: 'ledger',
    read: (load) => {
      const s = load('ledger')?.settlement?.lanes;
      return s === undefined ? undefined : s.jobs - s.settled + s.settledTwice + s.unpaid + (s.reconciled ? 0 : 1);
    },
    holds: (v) => v === 0,
  },
  {
    figure: 'offered jobs/s, the producers in processes of their own (#17): the rate the other #17 rows were measured at',
    unit: 'jobs/s',
    goal: '>= 500',
    result: 'ledger',
    read: (load) => load('ledger')?.settlement?.lanes?.offeredJobsPerSecond,
    holds: (v) => v >= 500,
  },
  {
    figure: 'report → paid on the ledger, p95, lanes writer (#17)',
    unit: 'ms',
    goal: '<= 3000 at 500 jobs/s',
    result: 'ledger',
    read: (load) => load('ledger')?.settlement?.lanes?.reportToPaidMs?.p95,
    holds: (v) => v <= 3000,
  },
];

/** The rows of goals.json; `commitOf(result, figure)` names the commit each figure was measured at. */
export function goalRows(commitOf: (result: string, figure: string) => string): Array<{ figure: string; value: number | null; unit: string; goal: string; holds: boolean; commit: string }> {
  const load = (name: string) => {
    const path = join(resultsDir(), `${name}.json`);
    return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
  };
  const listed = GOALS.map((g) => {
    const value = g.read(load);
    return { figure: g.figure, value: value ?? null, unit: g.unit, goal: g.goal, holds: value !== undefined && g.holds(value), commit: commitOf(g.result, g.figure) };
  });
  const written = readdirSync(resultsDir())
    .filter((f) => f.endsWith('.json') && f !== 'goals.json' && f !== 'summary.json')
    .sort()
    .flatMap((file) => {
      const result = JSON.parse(readFileSync(join(resultsDir(), file), 'utf8')) as { goals?: Array<{ figure: string; value: number | null; unit: string; goal: string; holds: boolean }> };
      return (result.goals ?? []).map((g) => ({ ...g, commit: commitOf(file.replace(/\.json$/, ''), g.figure) }));
    });
  return [...listed, ...written];
}
