import { createHash } from 'node:crypto';
import { AGENT_CAPACITY, breakdown, dockerRun, fetchResult, Harness, invoke, Invocation, standalone, summarizeBreakdowns } from './harness';
import { commandFor, machineAfter, machineBefore, note, pool, Profile, round, summarize } from './support';

/**
 * Throughput: sync invocations of the trivial stdio function completed end to end per second
 * with 1, 2 and 4 provider agents on this machine (each offering 1 vCPU and 1 GiB, so 2 jobs of
 * 0.5 vCPU at once), closed loop with twice as many clients as job slots so that the agents never
 * wait for work. Baseline, in the same run: direct `docker run`s of the same image with the same
 * limits, as many at once as the agents have slots. Where the time goes: each job's timings
 * (controller), the agent's phases, the engine's start and end, and when the ledger settled it.
 */

const RESOURCES = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };
const AGENT_COUNTS = [1, 2, 4];
/** Jobs per configuration, per job slot. */
const JOBS_PER_SLOT: Record<Profile, number> = { quick: 4, full: 25 };

const hashOf = (s: string) => createHash('sha256').update(s).digest('hex');

export async function runThroughput(h: Harness, profile: Profile): Promise<object> {
  const machine = machineBefore();
  const functionId = await h.createFunction({ name: 'bench-throughput-sha256', image: h.images.sha256, resources: RESOURCES });
  const slotsPerAgent = Math.floor(AGENT_CAPACITY.vcpu / RESOURCES.vcpu);
  const configurations = [];
  for (const agents of AGENT_COUNTS) {
    await h.ensureAgents(agents);
    const slots = agents * slotsPerAgent;
    const jobs = JOBS_PER_SLOT[profile] * slots;
    const clients = 2 * slots;
    const since = Date.now();

    // The platform: `clients` callers, each invoking again as soon as it has its answer.
    const t0 = performance.now();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const done: Invocation[] = await pool(jobs, clients, async (i) => {
      const inv = await invoke(h.dev, functionId, `throughput ${agents} ${i}`);
      h.ledger.watch(inv.job.jobId, inv.job.timings.createdAt);
      return inv;
    });
    const seconds = (performance.now() - t0) / 1000;
    // The controller's handlers, the ledger writer and every agent run in this process: how busy it was.
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;

    // The baseline: the same containers straight from the engine, `slots` at once.
    const b0 = performance.now();
    await pool(jobs, slots, async (i) => {
      const input = `baseline ${agents} ${i}`;
      const run = await dockerRun(h.images.sha256, RESOURCES, input);
      if ((JSON.parse(run.stdout) as { sha256: string }).sha256 !== hashOf(input)) throw new Error('docker run: wrong result');
      return run.ms;
    });
    const baselineSeconds = (performance.now() - b0) / 1000;

    for (const [i, inv] of done.entries()) {
      const got = (JSON.parse(await fetchResult(inv.job.resultUrl as string)) as { sha256: string }).sha256;
      if (got !== hashOf(`throughput ${agents} ${i}`)) throw new Error(`job ${inv.job.jobId}: wrong result`);
    }
    const unpaid = await h.ledger.settle();
    const perProvider: Record<string, number> = {};
    for (const inv of done) perProvider[inv.job.providerId ?? '?'] = (perProvider[inv.job.providerId ?? '?'] ?? 0) + 1;
    const ips = jobs / seconds;
    const bps = jobs / baselineSeconds;
    note(`throughput: ${agents} agent(s): ${round(ips, 2)} invocations/s; docker run x${slots}: ${round(bps, 2)}/s`);
    const ms = done.map((d) => d.ms);
    configurations.push({
      agents,
      slots,
      clients,
      jobs,
      seconds: round(seconds, 2),
      invocationsPerSecond: round(ips, 2),
      latencyMs: summarize(ms),
      benchProcess: {
        eventLoopUtilization: round(elu, 2),
        cpuCores: round(cpuMs / 1000 / seconds, 2),
        cpuMsPerInvocation: round(cpuMs / jobs),
        note: 'the benchmark process holds the controller (API server, handlers, reaper), the ledger writer and the agents',
      },
      jobsPerProvider: Object.values(perProvider).sort((a, b) => b - a),
      baseline: { concurrency: slots, runs: jobs, seconds: round(baselineSeconds, 2), runsPerSecond: round(bps, 2) },
      ratioToBaseline: round(ips / bps, 2),
      whereTheTimeGoes: summarizeBreakdowns(
        done.map((inv) => breakdown(inv, h.tracer.jobs.get(inv.job.jobId), h.ledger.paidAt.get(inv.job.jobId))),
        ms,
      ),
      ledgerWriter: h.ledger.runsSince(since),
      unpaidAfter30s: unpaid,
    });
  }
  return {
    benchmark: 'throughput',
    profile,
    command: commandFor(profile),
    date: new Date().toISOString(),
    machine: machineAfter(machine),
    what: 'sync invocations of a stdio function (examples/sha256) completed end to end per second, closed loop',
    baselineWhat: 'direct `docker run` of the same image with the same limits, as many at once as the agents have job slots',
    setup: {
      agentCapacity: AGENT_CAPACITY,
      function: { image: h.images.sha256, resources: RESOURCES },
      note: 'all agents run in the benchmark process with the controller (one Node event loop) and share one Docker engine; DynamoDB Local and fauxqs are their own processes',
    },
    configurations,
  };
}

if (require.main === module) standalone('throughput', runThroughput);
