import { createHash } from 'node:crypto';
import { fetchResult, invoke, startHarness } from './harness';
import { note, publish, round, summarize } from './support';

/**
 * Issue #19: what `replicate` with k = 2 costs against `none`, in the same run: sync invocations of
 * the sha256 function one after the other (latency from request to answer with the result link),
 * then each job's settled cost from `GET /jobs/{id}` (for a replicated job: the sum over its
 * replicas). Two bench agents (two owners, one vCPU each) serve both policies. Run with
 * `npm run build && node dist/bench/verification.js [jobs]`; writes bench/results/verification.json
 * with its goal rows.
 */

const RESOURCES = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };
const hashOf = (s: string) => createHash('sha256').update(s).digest('hex');

async function main(): Promise<void> {
  const jobs = Number(process.argv[2] ?? 10);
  const h = await startHarness({ agents: 2 });
  try {
    const policies = { none: { mode: 'none' }, replicate: { mode: 'replicate', k: 2, quorum: 2 } } as const;
    const out: Record<string, { latencyMs: ReturnType<typeof summarize>; costPerJob: number; jobs: number }> = {};
    for (const [name, verification] of Object.entries(policies)) {
      const functionId = await h.createFunction({ name: `bench-verify-${name}`, image: h.images.sha256, resources: RESOURCES, verification });
      // One warm-up job each (image pull, first container) outside the figures.
      await invoke(h.dev, functionId, `warm-up ${name}`);
      const latencies: number[] = [];
      const ids: string[] = [];
      for (let i = 0; i < jobs; i++) {
        const input = `${name} ${i}`;
        const inv = await invoke(h.dev, functionId, input);
        if ((JSON.parse(await fetchResult(inv.job.resultUrl as string)) as { sha256: string }).sha256 !== hashOf(input)) throw new Error(`${inv.job.jobId}: wrong result`);
        latencies.push(inv.ms);
        ids.push(inv.job.jobId);
      }
      const costs: number[] = [];
      for (const id of ids) {
        for (let waited = 0; ; waited += 250) {
          const job = (await h.dev.get(`/jobs/${id}`)).body as { cost?: number };
          if (job.cost !== undefined) {
            costs.push(job.cost);
            break;
          }
          if (waited > 60_000) throw new Error(`${id}: not settled after 60 s`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      out[name] = { latencyMs: summarize(latencies), costPerJob: round(costs.reduce((a, b) => a + b, 0) / costs.length, 0), jobs };
      note(`${name}: p50 ${out[name].latencyMs.p50} ms, cost ${out[name].costPerJob} micro-credits per job`);
    }
    const none = out.none!;
    const replicate = out.replicate!;
    const latencyRatio = round(replicate.latencyMs.p50 / none.latencyMs.p50, 2);
    const costRatio = round(replicate.costPerJob / none.costPerJob, 2);
    publish('verification', {
      jobs,
      resources: RESOURCES,
      none,
      replicate,
      latencyRatio,
      costRatio,
      goals: [
        {
          figure: 'replicate k=2 vs none: p50 latency ratio, sync sha256 jobs, same run (#19)',
          value: latencyRatio,
          unit: '×',
          goal: '<= 1.5 (the replicas run at once, on two owners)',
          holds: latencyRatio <= 1.5,
        },
        {
          figure: 'replicate k=2 vs none: cost per job ratio, same run (#19)',
          value: costRatio,
          unit: '×',
          goal: '<= 2 (each agreeing provider is paid the median of the two times)',
          holds: costRatio <= 2,
        },
      ],
    });
  } finally {
    await h.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
