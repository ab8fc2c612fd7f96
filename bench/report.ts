import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../lib/project-root';
import { commandFor, resultsDir } from './support';

/**
 * Renders the results tables of bench/README.md from bench/results/*.json, between the markers
 * `<!-- results:begin -->` and `<!-- results:end -->`; the prose around them is left alone. So
 * every number in the table is one a benchmark wrote, with the command and date it came from.
 * `node dist/bench/report.js` renders again from the files as they are.
 */

const BEGIN = '<!-- results:begin -->';
const END = '<!-- results:end -->';

function load(name: string): any {
  const path = join(resultsDir(), `${name}.json`);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

const day = (iso?: string) => (iso ? iso.slice(0, 10) : '?');
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const num = (x: number) => (x >= 1000 ? Math.round(x).toLocaleString('en-US') : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const code = (s: string) => `\`${s}\``;

function rows(): { main: string[]; where: string[] } {
  const summary = load('summary');
  const main: string[] = [];
  const where: string[] = [];
  const load1 = (r: any) => {
    const l = r?.machine?.loadAverage1m;
    return l ? ` (load ${l.before}→${l.after ?? '?'})` : '';
  };

  const cold = load('cold');
  if (cold) {
    main.push(
      `| Cold invocation, stdio, p50 / p95 ms${load1(cold)} | ${ms(cold.platformMs.p50)} / ${ms(cold.platformMs.p95)} | \`docker run\` ${ms(cold.baselineMs.p50)} / ${ms(cold.baselineMs.p95)} | ×${cold.ratio.p50} / ×${cold.ratio.p95} (+${ms(cold.addedMs.p50)} / +${ms(cold.addedMs.p95)} ms) | ${cold.samples} each | ${code(cold.command)} | ${day(cold.date)} |`,
    );
    where.push(whereRow('cold, 1 agent, one at a time', cold.breakdown, cold.platformMs.mean, cold.command, cold.date));
  }
  const warm = load('warm');
  if (warm) {
    main.push(
      `| Warm invocation, http, p50 / p95 ms${load1(warm)} | ${ms(warm.platformMs.p50)} / ${ms(warm.platformMs.p95)} | direct HTTP into the container ${ms(warm.baselineMs.p50)} / ${ms(warm.baselineMs.p95)} | +${ms(warm.addedMs.p50)} / +${ms(warm.addedMs.p95)} ms | ${warm.samples} each | ${code(warm.command)} | ${day(warm.date)} |`,
    );
    where.push(whereRow('warm, 1 agent, one at a time', warm.breakdown, warm.platformMs.mean, warm.command, warm.date));
  }
  const tp = load('throughput');
  if (tp) {
    for (const c of tp.configurations) {
      main.push(
        `| Throughput, ${c.agents} agent${c.agents > 1 ? 's' : ''} (${c.slots} slots, ${c.clients} clients), invocations/s${c === tp.configurations[0] ? load1(tp) : ''} | ${num(c.invocationsPerSecond)} | \`docker run\` ×${c.baseline.concurrency}: ${num(c.baseline.runsPerSecond)}/s | ×${c.ratioToBaseline} | ${c.jobs} jobs | ${code(tp.command)} | ${day(tp.date)} |`,
      );
      const busy = c.benchProcess ? `${Math.round(c.benchProcess.eventLoopUtilization * 100)}% / ${c.benchProcess.cpuCores}` : '?';
      where.push(whereRow(`throughput, ${c.agents} agent${c.agents > 1 ? 's' : ''}`, c.whereTheTimeGoes, c.latencyMs.mean, tp.command, tp.date, busy));
    }
  }
  const ledger = load('ledger');
  if (ledger) {
    const step = summary?.steps?.find((s: any) => s.name === 'ledger');
    // ledger.json has no command of its own: run.ts's step says which command wrote it, else bench:ledger did.
    const command = step?.status === 'ok' ? (step.command ?? commandFor(summary.profile)) : 'npm run bench:ledger';
    const single = ledger.runs.find((r: any) => r.mode === 'one transaction per event');
    for (const r of ledger.runs) {
      if (r === single) continue;
      const label = r.mode === 'batched' ? `batched, ${r.eventsPerTransaction} events/tx` : `one tx per event, ${r.jobsInFlight} jobs in flight`;
      main.push(
        `| Ledger (Fabric ${ledger.network.peerVersion}), ${label}, settled jobs/s | ${num(r.settledJobsPerSecond)} | one tx per event, one at a time: ${num(single?.settledJobsPerSecond ?? NaN)} | ×${single ? (r.settledJobsPerSecond / single.settledJobsPerSecond).toFixed(1) : '?'} | ${r.jobs} jobs; ${single?.jobs ?? '?'} one at a time | ${code(command)} | ${day(step?.finishedAt ?? summary?.date)} |`,
      );
    }
  }
  const st = ledger?.settlement;
  if (st) {
    const step = summary?.steps?.find((s: any) => s.name === 'ledger');
    // A settlement run of its own (bench/ledger.ts with the batched runs off) names its command and date.
    const command = st.command ?? (step?.status === 'ok' ? (step.command ?? commandFor(summary.profile)) : 'npm run bench:ledger');
    const when = st.date ?? day(step?.finishedAt ?? summary?.date);
    const c = st.networkCeiling;
    // Each transaction's endorse / commit waits, p50 ms (recorded since the producers left the writer's process).
    const waits = (r: any) => (r?.endorseMs ? `${ms(r.endorseMs.p50)} / ${ms(r.commitMs.p50)}` : undefined);
    const viaOutbox = 'through the outbox (DynamoDB Local, producer processes)';
    const runs: Array<[string, any]> = [
      [viaOutbox, st.lanes],
      ['the writer and Fabric alone (outbox in memory)', st.writerAndFabricAlone],
      [viaOutbox, st.oneLane],
    ];
    for (const [what, r] of runs.filter(([, r]) => r !== undefined)) {
      const own = waits(r);
      const empty = waits(c.emptySubmitBatch);
      // Since the steady state and the CPU split were recorded: the steady rate, and where the CPU went.
      const steady = r.steady ? `; steady ${num(r.steady.settledJobsPerSecond)} over ${num(r.steady.seconds)} s` : '';
      const cpu = r.cpu
        ? `; CPU ${Math.round(r.cpu.busyShare * 100)}% busy, ms/job ${Object.entries(r.cpu.msPerSettledJob as Record<string, number>)
            .filter(([, v]) => v >= 0.1)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`
        : '';
      main.push(
        `| Settlement ${what}, ${r.lanes} lane(s), offered ${num(r.offeredJobsPerSecond)} jobs/s: settled jobs/s${steady ? ' (steady)' : ''}; report→paid p50 / p95 ms; failed tx${own ? '; endorse / commit p50 ms' : ''} | ${num(r.settledJobsPerSecond)}${steady}; ${ms(r.reportToPaidMs.p50)} / ${ms(r.reportToPaidMs.p95)}; ${r.failedTransactions}${own ? `; ${own}` : ''}${cpu} | network ceiling, ${st.orderer.maxMessageCount} in flight: empty SubmitBatch ${num(c.emptySubmitBatch.transactionsPerSecond)} tx/s${empty ? ` (endorse / commit p50 ${empty} ms)` : ''}, one-key ${num(c.oneKey.transactionsPerSecond)} tx/s | ${(r.transactions / r.seconds / c.emptySubmitBatch.transactionsPerSecond).toFixed(2)} of the empty-tx rate (${r.eventsPerTransaction} events/tx) | ${r.jobs} jobs, reconciled ${r.reconciled} | ${code(command)} | ${when} |`,
      );
    }
  }
  const sched = load('scheduler');
  if (sched) {
    const base = sched.pure.find((r: any) => r.chooser.startsWith('first-fit'));
    const us = (r: any) => `${num(r.decisionsPerSecond)} (${ms(r.microsecondsPerDecision)} µs)`;
    for (const r of sched.pure.filter((x: any) => x !== base)) {
      main.push(
        `| Scheduler, ${r.chooser}, 1,000 providers, in memory, decisions/s (µs each) | ${us(r)} | first-fit scan: ${us(base)} | ×${r.relativeToBaseline} | ${r.decisions} each | ${code(sched.command)} | ${day(sched.date)} |`,
      );
    }
    for (const m of sched.dynamodbLocal.modes) {
      const b = m.results.find((x: any) => x.chooser.startsWith('first-fit'));
      const others = m.results.filter((x: any) => x !== b);
      main.push(
        `| Scheduler + conditional reserve on DynamoDB Local, ${m.mode}, decisions/s: ${others.map((r: any) => r.chooser).join(' / ')} | ${others.map((r: any) => num(r.decisionsPerSecond)).join(' / ')} | first-fit + reserve: ${num(b.decisionsPerSecond)} | ${others.map((r: any) => `×${r.relativeToBaseline}`).join(' / ')} | ${b.decisions} each | ${code(sched.command)} | ${day(sched.date)} |`,
      );
    }
  }
  const sim = load('sim');
  if (sim) {
    const r = sim.runs;
    const tr = sim.trace;
    const label = `Simulation (#24), ${num(tr.providers)} providers, ${num(tr.ratePerS)} jobs/s, ${tr.seconds} s`;
    const wait = (x: any) => `${x.waitS.p50} / ${x.waitS.p95} / ${x.waitS.p99}`;
    const cmd = code(sim.command);
    for (const s of sim.scale) {
      main.push(
        `| Simulation (#24), placement decision, ${num(s.providers)} providers: requests / CPU µs per decision (sampled) | ${s.requestsPerDecision} / ${ms(s.decisionMicroseconds)} | list every provider: ${s.listing.requestsPerDecision} requests (${num(s.listing.readUnitsPerDecision)} read units) / rank ${ms(s.listing.rankMicroseconds)} µs | flat within ×${sim.flat.requests} (requests), ×${sim.flat.time} (time) over 1,000→100,000 | ${num(s.ratePerS)} jobs/s | ${cmd} | ${day(sim.date)} |`,
      );
    }
    main.push(
      `| ${label}: job wait p50 / p95 / p99 s, sampled placement | ${wait(r.sampled)} | omniscient scheduler, same trace: ${wait(r.omniscient)} | ×${sim.waitRatioP99} at p99 | ${num(r.sampled.measuredJobs)} jobs | ${cmd} | ${day(sim.date)} |`,
      `| ${label}: wait until on the agent (no container start) p50 / p95 / p99 s, sampled | ${r.sampled.placementWaitS.p50} / ${r.sampled.placementWaitS.p95} / ${r.sampled.placementWaitS.p99} | omniscient: ${r.omniscient.placementWaitS.p50} / ${r.omniscient.placementWaitS.p95} / ${r.omniscient.placementWaitS.p99} | — | ${num(r.sampled.measuredJobs)} jobs | ${cmd} | ${day(sim.date)} |`,
      `| ${label}: utilisation (vCPU held / online) | ${r.sampled.utilisation} | omniscient: ${r.omniscient.utilisation} | — | ${tr.seconds - tr.warmupS} s measured | ${cmd} | ${day(sim.date)} |`,
      `| ${label}: starts warm / from a cached image / with a pull | ${r.sampled.starts.warm} / ${r.sampled.starts.cached} / ${r.sampled.starts.cold} | no warm hints: ${r.noWarm.starts.warm} / ${r.noWarm.starts.cached} / ${r.noWarm.starts.cold} | ${sim.coldStartsAvoidedByWarmHints.starts} cold starts avoided (${Math.round(sim.coldStartsAvoidedByWarmHints.share * 100)}%) | ${num(r.sampled.measuredJobs)} jobs | ${cmd} | ${day(sim.date)} |`,
      `| Simulation (#24), overload ×1.3 on ${num(r.overload.config.providers)} providers: dominant shares by developer (constrained target; pooled target) | ${drfShares(r.overload.drf)} | constrained: progressive filling job by job over the online machines (each job only where it fits); pooled: over the summed capacity | worst ${pct(sim.drfWorstOff.constrained)} off the constrained target, ${pct(sim.drfWorstOff.pooled)} off the pooled (omniscient: ${drfShares(r.overloadOmniscient.drf)}: ${pct(sim.drfWorstOff.constrainedOmniscient)} / ${pct(sim.drfWorstOff.pooledOmniscient)}) | ${num(r.overload.jobs)} jobs | ${cmd} | ${day(sim.date)} |`,
      `| Simulation (#24), churn stress (30% leave within ${tr.seconds} s, half crash): jobs lost, placed on dead providers; re-placed p50 / p95 / max s | ${r.stress.churn.lostJobs}, ${r.stress.churn.placedOnDead}; ${r.stress.churn.replaceS.p50} / ${r.stress.churn.replaceS.p95} / ${r.stress.churn.replaceS.max} | today's liveness, same churn: ${r.stressToday.churn.lostJobs}, ${r.stressToday.churn.placedOnDead}; ${r.stressToday.churn.replaceS.p50} / ${r.stressToday.churn.replaceS.p95} / ${r.stressToday.churn.replaceS.max} | — | ${r.stress.churn.crashed} crashes | ${cmd} | ${day(sim.date)} |`,
      `| Controller cost of an idle provider per month: heartbeats + queue polls, USD, as built (a ${sim.assumptions.dozingPollGapS} s pause between a dozing agent's polls); without that pause | ${sim.idleProviderMonth.idleBeats.usd.total} (${num(sim.idleProviderMonth.idleBeats.beats)} beats, ${num(sim.idleProviderMonth.idleBeats.polls)} polls); ${sim.idleProviderMonth.idleBeatsWithoutPollPause?.usd.total ?? sim.idleProviderMonth.idleBeatsAsBuilt?.usd.total} | today: ${sim.idleProviderMonth.today.usd.total} (${num(sim.idleProviderMonth.today.beats)} beats, ${num(sim.idleProviderMonth.today.polls)} polls) | ×${(sim.idleProviderMonth.idleBeats.usd.total / sim.idleProviderMonth.today.usd.total).toFixed(2)} | list prices × counted calls | ${cmd} | ${day(sim.date)} |`,
      `| ${label}: placement + every provider's liveness, USD per million jobs | ${sim.perMillionJobs.sampled.placement} + ${sim.perMillionJobs.sampled.livenessOfAllProviders} | today's liveness: ${sim.perMillionJobs.todayLiveness.placement} + ${sim.perMillionJobs.todayLiveness.livenessOfAllProviders} | — | ${num(r.sampled.jobs)} jobs | ${cmd} | ${day(sim.date)} |`,
    );
  }
  return { main, where };
}

function whereRow(label: string, b: any, meanMs: number, command: string, date: string, busy = '—'): string {
  const g = b.groups;
  const cell = (x: { meanMs: number; share: number }) => `${ms(x.meanMs)} (${Math.round(x.share * 100)}%)`;
  return `| ${label} | ${ms(meanMs)} | ${cell(g.controller)} | ${cell(g.queue)} | ${cell(g.agent)} | ${cell(g.container)} | ${ms(b.ledgerAfterReportMs.p50)} / ${ms(b.ledgerAfterReportMs.p95)} | ${busy} | ${code(command)} | ${day(date)} |`;
}

/** A share as a percentage with one decimal: 0.045 → "4.5%". */
function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** Each developer's dominant share, with its targets where they differ from it: "0.505 (0.529; 0.547), 0.227". */
function drfShares(drf: { share: number; target: number; constrainedTarget?: number }[]): string {
  return drf.map((d) => (d.share === d.target && (d.constrainedTarget ?? d.target) === d.target ? `${d.share}` : `${d.share} (${d.constrainedTarget ?? d.target}; ${d.target})`)).join(', ');
}

export function renderTables(): string {
  const { main, where } = rows();
  const summary = load('summary');
  const source = summary?.source
    ? `Last run: ${code(summary.command)}, ${summary.date}: the benchmarks took ${summary.wallSeconds} s (plus the build before them); built from commit ${summary.source.commit.slice(0, 7)}` +
      (summary.source.modifiedTrackedFiles.length
        ? ` plus uncommitted changes to ${summary.source.modifiedTrackedFiles.length} tracked file(s) (listed in summary.json).`
        : '.')
    : '';
  return [
    source,
    '',
    '| benchmark | ChainFaaS | baseline, same run | ChainFaaS vs baseline | samples | command | date |',
    '|---|---|---|---|---|---|---|',
    ...main,
    '',
    'Where the time goes (mean ms per job on the critical path, and share of the mean end-to-end time; the ledger is off that path):',
    '',
    '| run | end to end | controller | queue | agent | container | ledger after the report, p50 / p95 | bench process: event loop busy / CPU cores | command | date |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...where,
  ].join('\n');
}

export function renderReadme(): void {
  const path = join(projectRoot(), 'bench', 'README.md');
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path} has no ${BEGIN} ... ${END} section`);
  writeFileSync(path, `${text.slice(0, a + BEGIN.length)}\n${renderTables()}\n${text.slice(b)}`);
}

if (require.main === module) renderReadme();
