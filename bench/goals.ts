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
  /** Whether the figure meets the goal; `load` reads the rest of its run where the goal needs it. */
  holds(value: number, load: (name: string) => any): boolean;
}

/** Issue #17's runs: through the outbox on DynamoDB Local, or the writer and Fabric alone (outbox in memory). */
type SettlementRun = 'lanes' | 'writerAndFabricAlone';
const settlement = (load: (name: string) => any, run: SettlementRun) => load('ledger')?.settlement?.[run];
/** "Sustained for 60 s": the rate of the run's steady state (bench/settlement.ts), over a window at least this long. */
const SUSTAINED_S = 60;
const sustainedFor = (s: any) => s?.steady !== undefined && s.steady.seconds >= SUSTAINED_S;

const RUNS: Array<{ run: SettlementRun; what: string }> = [
  { run: 'lanes', what: 'lanes writer through the outbox on DynamoDB Local, producer processes, local Fabric, all on this machine' },
  { run: 'writerAndFabricAlone', what: 'lanes writer and local Fabric with this machine to themselves (orderer, peer, chaincode, writer; the outbox in memory)' },
];

export const GOALS: Goal[] = RUNS.flatMap(({ run, what }): Goal[] => [
  {
    figure: `settled jobs/s in steady state, ${what} (#17)`,
    unit: 'jobs/s',
    goal: `>= 500 sustained for ${SUSTAINED_S} s`,
    result: 'ledger',
    read: (load) => settlement(load, run)?.steady?.settledJobsPerSecond,
    holds: (v, load) => v >= 500 && sustainedFor(settlement(load, run)),
  },
  {
    figure: `offered jobs/s, ${what} (#17): the rate its other rows were measured at`,
    unit: 'jobs/s',
    goal: '>= 500',
    result: 'ledger',
    read: (load) => settlement(load, run)?.steady?.offeredJobsPerSecond,
    holds: (v) => v >= 500,
  },
  {
    figure: `failed or lost events after retries, ${what} (#17)`,
    unit: 'events',
    goal: '0, every job settled once, reconciliation exact',
    result: 'ledger',
    read: (load) => {
      const s = settlement(load, run);
      return s === undefined ? undefined : s.jobs - s.settled + s.settledTwice + s.unpaid + (s.reconciled ? 0 : 1);
    },
    holds: (v) => v === 0,
  },
  {
    figure: `report → paid on the ledger, p95, ${what} (#17)`,
    unit: 'ms',
    goal: '<= 3000 at 500 jobs/s',
    result: 'ledger',
    read: (load) => settlement(load, run)?.reportToPaidMs?.p95,
    holds: (v, load) => v <= 3000 && settlement(load, run).steady?.offeredJobsPerSecond >= 500,
  },
]);

/** The rows of goals.json; `commitOf(result, figure)` names the commit each figure was measured at. */
export function goalRows(commitOf: (result: string, figure: string) => string): Array<{ figure: string; value: number | null; unit: string; goal: string; holds: boolean; commit: string }> {
  const load = (name: string) => {
    const path = join(resultsDir(), `${name}.json`);
    return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
  };
  const listed = GOALS.map((g) => {
    const value = g.read(load);
    return { figure: g.figure, value: value ?? null, unit: g.unit, goal: g.goal, holds: value !== undefined && g.holds(value, load), commit: commitOf(g.result, g.figure) };
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
