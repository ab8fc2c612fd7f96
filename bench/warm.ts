import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { breakdown, fetchResult, Harness, invoke, Invocation, standalone, summarizeBreakdowns } from './harness';
import { commandFor, EMULATOR_WARM_UP_INVOCATIONS, machineAfter, machineBefore, note, Profile, round, runWithInput, summarize, WARM_UP_PAIRS } from './support';

/**
 * Warm invocation: an http function (examples/echo-http) whose container the agent keeps warm
 * (provider-agent/src/runners/http.ts), from the HTTP request to the answer carrying the result
 * link — against a direct HTTP call into that same container, in the same run. The function runs
 * with network `none`; the only way into it is the relay's Unix socket that the agent itself uses,
 * so the direct call goes there too (POST /invoke, a new connection each time, as the agent does).
 * Samples alternate between the two. The first invocation, which starts the container and its
 * relay, is reported apart.
 */

const RESOURCES = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };
const SAMPLES: Record<Profile, number> = { quick: 25, full: 200 };

/** The relay socket of the agent's one warm container (runDir/w-*\/http.sock). */
function relaySocket(runDir: string): string {
  const sockets = readdirSync(runDir)
    .filter((d) => d.startsWith('w-'))
    .map((d) => join(runDir, d, 'http.sock'))
    .filter((p) => existsSync(p));
  if (sockets.length !== 1) throw new Error(`expected one warm container's socket in ${runDir}, found ${sockets.length}`);
  return sockets[0] as string;
}

/** POST /invoke straight into the container through its relay; returns the wall time and the body. */
function direct(socketPath: string, input: string): Promise<{ ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const payload = Buffer.from(input);
    const req = request(
      {
        socketPath,
        method: 'POST',
        path: '/invoke',
        agent: false,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': payload.length, Connection: 'close' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          if (res.statusCode !== 200) reject(new Error(`direct call answered ${res.statusCode}`));
          else resolve({ ms, body: Buffer.concat(chunks).toString() });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function runWarm(h: Harness, profile: Profile): Promise<object> {
  const machine = machineBefore();
  await h.ensureAgents(1);
  const agent = h.agents[0]!;
  const functionId = await h.createFunction({ name: 'bench-warm-echo', image: h.images.echoHttp, protocol: 'http', resources: RESOURCES });
  const since = Date.now();

  // Not recorded: starts the container and its relay (and builds the relay image on a first run);
  // then EMULATOR_WARM_UP_INVOCATIONS warm the emulators' JIT, and WARM_UP_PAIRS pairs warm both sides.
  const first = await invoke(h.dev, functionId, 'first');
  const socket = relaySocket(agent.runDir);
  await direct(socket, 'first');
  for (let i = 0; i < EMULATOR_WARM_UP_INVOCATIONS; i++) await invoke(h.dev, functionId, `emulators ${i}`);
  for (let i = 0; i < WARM_UP_PAIRS; i++) {
    await invoke(h.dev, functionId, `warm-up ${i}`);
    await direct(socket, `warm-up ${i}`);
  }

  const n = SAMPLES[profile];
  const platform: Invocation[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = `ping ${i}`;
    const viaPlatform = async () => {
      const inv = await invoke(h.dev, functionId, input);
      h.ledger.watch(inv.job.jobId, inv.job.timings.createdAt);
      platform.push(inv);
    };
    const straight = async () => {
      const out = await direct(socket, input);
      if (out.body !== input) throw new Error(`direct call answered ${JSON.stringify(out.body)}`);
      baseline.push(out.ms);
    };
    if (i % 2 === 0) {
      await viaPlatform();
      await straight();
    } else {
      await straight();
      await viaPlatform();
    }
  }
  note(`warm: ${n} samples each`);
  for (const [i, inv] of platform.entries()) {
    const body = await fetchResult(inv.job.resultUrl as string);
    if (body !== `ping ${i}`) throw new Error(`job ${inv.job.jobId} returned ${JSON.stringify(body)}`);
  }
  // Every sample was served by the one warm container: the engine runs one function container for it.
  const containers = (
    await runWithInput('docker', ['ps', '-q', '--filter', `label=chainfaas.function=${functionId}`, '--filter', 'label=chainfaas.role=function'], '')
  )
    .split('\n')
    .filter(Boolean).length;
  const unpaid = await h.ledger.settle();

  const ms = platform.map((p) => p.ms);
  const p = summarize(ms);
  const b = summarize(baseline);
  return {
    benchmark: 'warm',
    profile,
    command: commandFor(profile),
    date: new Date().toISOString(),
    machine: machineAfter(machine),
    what: 'sync invocation of an http function (examples/echo-http) with a warm container: HTTP request -> answer with the result link',
    baselineWhat: "POST /invoke into the same container through its relay's Unix socket (the path the agent uses), new connection per call",
    function: { image: h.images.echoHttp, protocol: 'http', resources: RESOURCES },
    samples: n,
    firstInvocationMs: round(first.ms),
    firstInvocationNote: `not in the samples: starts the function container and its relay and waits until it listens; ${EMULATOR_WARM_UP_INVOCATIONS} more invocations (the emulators' JIT), then ${WARM_UP_PAIRS} invocations and direct calls follow it unrecorded`,
    functionContainersAfter: containers,
    platformMs: p,
    baselineMs: b,
    addedMs: { p50: round(p.p50 - b.p50), p95: round(p.p95 - b.p95) },
    ratio: { p50: round(p.p50 / b.p50, 1), p95: round(p.p95 / b.p95, 1) },
    breakdown: summarizeBreakdowns(
      platform.map((inv) => breakdown(inv, h.tracer.jobs.get(inv.job.jobId), h.ledger.paidAt.get(inv.job.jobId))),
      ms,
    ),
    ledgerWriter: h.ledger.runsSince(since),
    unpaidAfter30s: unpaid,
    rawMs: { platform: ms.map((x) => round(x)), baseline: baseline.map((x) => round(x, 2)) },
    // Issue #16's goals for this figure (bench/run.ts gathers every result's goals into goals.json).
    goals: [
      { figure: 'warm http invocation, p50 added over a direct call', value: round(p.p50 - b.p50), unit: 'ms', goal: '<= 20', holds: p.p50 - b.p50 <= 20 },
      { figure: 'warm http invocation, p95 added over a direct call', value: round(p.p95 - b.p95), unit: 'ms', goal: '<= 40', holds: p.p95 - b.p95 <= 40 },
    ],
  };
}

if (require.main === module) standalone('warm', runWarm);
