import type { Attempt } from '../../provider-agent/src/attempt';
import { CapacityGate } from '../../provider-agent/src/capacity';
import type { ContainerRuntime } from '../../provider-agent/src/runtime';
import { Heartbeat } from '../../provider-agent/src/heartbeat';
import { ImageCache } from '../../provider-agent/src/image-cache';
import { jsonLogger } from '../../provider-agent/src/log';

/**
 * Issue #24: the agent's heartbeat cadence, with its intervals shrunk to milliseconds. The
 * controller's side is recorded here (what each beat says and when); the controller's use of
 * `nextBeatS` is tested against DynamoDB Local in test/controller/provider-state.test.ts.
 */

interface Beat {
  at: number;
  nextBeatS?: number;
  runningJobs: string[];
}

test('busy: the normal interval; idle past awakeMs: the idle interval with nextBeatS; a job reaching a dozing agent beats at once without nextBeatS', async () => {
  const beats: Beat[] = [];
  let running: Attempt[] = [];
  const logger = jsonLogger('silent');
  const heartbeat = new Heartbeat({
    providerId: 'prv_cadence',
    controller: {
      heartbeat: async (_id, body) => {
        beats.push({ at: Date.now(), nextBeatS: body.nextBeatS, runningJobs: body.runningJobs ?? [] });
        return { ok: true, drain: false, leaseExpiresAt: new Date().toISOString(), revokedJobs: [] };
      },
    },
    intervalMs: 40,
    idleIntervalMs: 3000,
    awakeMs: 300,
    checkMs: 10,
    gate: new CapacityGate({ vcpu: 1, memoryMb: 512 }),
    images: new ImageCache({} as ContainerRuntime, 0, logger),
    runners: new Map(),
    attempts: () => running,
    draining: () => false,
    onDrain: () => undefined,
    onChange: () => undefined,
    onError: (message, err) => {
      throw new Error(`${message}: ${String(err)}`);
    },
    logger,
  });
  const t0 = Date.now();
  heartbeat.start();
  try {
    await new Promise((r) => setTimeout(r, 200));
    // Within awakeMs of the start: the normal interval, no pause announced.
    const early = beats.filter((b) => b.at - t0 < 200);
    expect(early.length).toBeGreaterThanOrEqual(2);
    expect(early.every((b) => b.nextBeatS === undefined)).toBe(true);
    expect(heartbeat.dozing).toBe(false); // the agent's polls do not pause

    await new Promise((r) => setTimeout(r, 400));
    // Idle past awakeMs: one beat announces the 3 s pause, and no beat follows within it.
    const dozing = beats.filter((b) => b.nextBeatS === 3);
    expect(dozing).toHaveLength(1);
    expect(heartbeat.dozing).toBe(true); // the agent's polls pause (Delivery's pauseMs)
    const count = beats.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(beats.length).toBe(count);

    // A job reaches the dozing agent: it beats within a check, listing it, without the pause.
    running = [{ envelope: { jobId: 'job_cadence1', attempt: 1 }, revocable: true, phase: 'running', since: new Date() } as unknown as Attempt];
    const reached = Date.now();
    await new Promise((r) => setTimeout(r, 100));
    const woken = beats.slice(count);
    expect(woken.length).toBeGreaterThanOrEqual(1);
    expect(woken[0]).toMatchObject({ runningJobs: ['job_cadence1'], nextBeatS: undefined });
    expect(heartbeat.dozing).toBe(false);
    // Well within the 3 s pause it would otherwise have waited (timers on a loaded machine are late).
    expect((woken[0] as Beat).at - reached).toBeLessThan(1000);
  } finally {
    await heartbeat.stop();
  }
});
