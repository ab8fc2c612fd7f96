import { createHash } from 'node:crypto';
import { breakdown, dockerRun, dockerRunArgs, fetchResult, Harness, invoke, Invocation, standalone, summarizeBreakdowns } from './harness';
import { commandFor, machineAfter, machineBefore, note, Profile, round, summarize, WARM_UP_PAIRS } from './support';

/**
 * Cold invocation: a trivial stdio function (examples/sha256), one new container per job, from
 * the HTTP request to the answer carrying the result link — against a direct `docker run` of the
 * same image with the same limits and hardening, in the same run. Samples alternate (platform,
 * docker; docker, platform; ...) so that a change of load hits both alike. The image is on the
 * machine for both (a first invocation, reported apart, pulls it for the agent).
 */

const RESOURCES = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };
const SAMPLES: Record<Profile, number> = { quick: 30, full: 100 };

function expected(input: string): string {
  return createHash('sha256').update(input).digest('hex');
}

function check(output: string, input: string, what: string): void {
  const got = (JSON.parse(output) as { sha256?: string }).sha256;
  if (got !== expected(input)) throw new Error(`${what}: sha256 ${got} is not that of the input`);
}

export async function runCold(h: Harness, profile: Profile): Promise<object> {
  const machine = machineBefore();
  await h.ensureAgents(1);
  const functionId = await h.createFunction({ name: 'bench-cold-sha256', image: h.images.sha256, resources: RESOURCES });
  const since = Date.now();

  // Not recorded: the agent's first job pulls the image; then WARM_UP_PAIRS pairs warm both sides.
  const first = await invoke(h.dev, functionId, 'first');
  for (let i = 0; i < WARM_UP_PAIRS; i++) {
    await dockerRun(h.images.sha256, RESOURCES, `warm-up ${i}`);
    await invoke(h.dev, functionId, `warm-up ${i}`);
  }

  const n = SAMPLES[profile];
  const platform: Invocation[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = `hello, volunteer computing ${i}`;
    const viaPlatform = async () => {
      const inv = await invoke(h.dev, functionId, input);
      h.ledger.watch(inv.job.jobId, inv.job.timings.createdAt);
      platform.push(inv);
    };
    const direct = async () => {
      const run = await dockerRun(h.images.sha256, RESOURCES, input);
      check(run.stdout, input, 'docker run');
      baseline.push(run.ms);
    };
    if (i % 2 === 0) {
      await viaPlatform();
      await direct();
    } else {
      await direct();
      await viaPlatform();
    }
  }
  note(`cold: ${n} samples each`);
  for (const [i, inv] of platform.entries()) check(await fetchResult(inv.job.resultUrl as string), `hello, volunteer computing ${i}`, 'platform');
  const unpaid = await h.ledger.settle();

  const ms = platform.map((p) => p.ms);
  const p = summarize(ms);
  const b = summarize(baseline);
  return {
    benchmark: 'cold',
    profile,
    command: commandFor(profile),
    date: new Date().toISOString(),
    machine: machineAfter(machine),
    what: 'sync invocation of a stdio function (examples/sha256, new container per job): HTTP request -> answer with the result link',
    baselineWhat: `docker ${dockerRunArgs('<same image>', RESOURCES).join(' ')} (stdin: the same input), wall time of the CLI`,
    function: { image: h.images.sha256, protocol: 'stdio', resources: RESOURCES },
    samples: n,
    firstInvocationMs: round(first.ms),
    firstInvocationNote: `not in the samples: includes the agent pulling the image from the local registry; ${WARM_UP_PAIRS} more invocations and docker runs follow it unrecorded`,
    platformMs: p,
    baselineMs: b,
    ratio: { p50: round(p.p50 / b.p50, 2), p95: round(p.p95 / b.p95, 2) },
    addedMs: { p50: round(p.p50 - b.p50), p95: round(p.p95 - b.p95) },
    breakdown: summarizeBreakdowns(
      platform.map((inv) => breakdown(inv, h.tracer.jobs.get(inv.job.jobId), h.ledger.paidAt.get(inv.job.jobId))),
      ms,
    ),
    ledgerWriter: h.ledger.runsSince(since),
    unpaidAfter30s: unpaid,
    rawMs: { platform: ms.map((x) => round(x)), baseline: baseline.map((x) => round(x)) },
    // Issue #16's goal for this figure (bench/run.ts gathers every result's goals into goals.json).
    goals: [
      {
        figure: 'cold stdio invocation, p50 vs a bare docker run',
        value: round(p.p50 / b.p50, 2),
        unit: 'ratio',
        goal: '<= 1.15',
        holds: p.p50 / b.p50 <= 1.15,
      },
    ],
  };
}

if (require.main === module) standalone('cold', runCold);
