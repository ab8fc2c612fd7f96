/**
 * Fault injection for the chaos suite (test/chaos/): the controller's risky steps call
 * `injectFault(point)` between two writes that are not one transaction, and `deliver(send, onLost)`
 * around an envelope's send. With no plan configured (every deployment; `configureFaults` is called
 * only by the local platform when a test asks for it) both are a single comparison: nothing throws,
 * nothing is delayed, nothing is sent twice.
 *
 * A plan names, per point, the probability that a call fails there (an `InjectedFault`, which the
 * HTTP edge answers as a 500, like a Lambda that died between the two writes), and per delivery
 * fault the probability that an envelope is sent twice or late (another job's envelope overtakes
 * it). Draws come from a seeded PRNG, so a plan's faults are reproducible for one sequence of
 * calls. Counts of what was injected are kept for the suite's report.
 */

/** Where a controller step may be made to fail, after the write that names it. */
export const FAULT_POINTS = [
  /** invocations.ts: the job is written QUEUED (the step-by-step path), not dispatched yet. A job placed as it is created (scheduling.ts#startPlaced) has no such moment: its record, hold and `CreateJob` are one transaction, followed by `place.beforeSend`. */
  'invoke.afterJobWrite',
  /** scheduling.ts#place: the job is ASSIGNED under a lease, `CreateJob` not appended yet. */
  'place.afterAssign',
  /** scheduling.ts#place and #startPlaced: `CreateJob` is appended, the envelope not sent yet. */
  'place.beforeSend',
  /** providers.ts#acceptReport: the job is SUCCEEDED/FAILED, capacity and ledger events not done yet. */
  'report.afterTransition',
  /** scheduling.ts#reclaim: the job is re-queued or FAILED, capacity (and hold, ledger) not done yet. */
  'reclaim.afterTransition',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** How an envelope's delivery may be disturbed. */
export const DELIVERY_FAULTS = ['duplicate', 'delay'] as const;
export type DeliveryFault = (typeof DELIVERY_FAULTS)[number];

export interface FaultPlan {
  /** PRNG seed: the same plan and call sequence inject the same faults. */
  seed: number;
  /** Probability (0..1) that a call at the point fails. */
  failures?: Partial<Record<FaultPoint, number>>;
  /** Probability (0..1) that an envelope is sent twice / sent late. */
  delivery?: Partial<Record<DeliveryFault, number>>;
  /** How late a delayed envelope is sent, at most (ms). @default 2000 */
  maxDelayMs?: number;
}

/** Thrown at an injected failure point. */
export class InjectedFault extends Error {
  constructor(readonly point: FaultPoint) {
    super(`injected fault at ${point}`);
    this.name = 'InjectedFault';
  }
}

let plan: FaultPlan | undefined;
let random: () => number = Math.random;
let counts: Record<string, number> = {};
const late = new Set<Promise<void>>();

/** mulberry32: a small, fast, seedable PRNG (public-domain algorithm). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sets (or, with undefined, clears) the plan; counts start again from zero. */
export function configureFaults(next: FaultPlan | undefined): void {
  for (const [name, p] of [...Object.entries(next?.failures ?? {}), ...Object.entries(next?.delivery ?? {})]) {
    if (!(typeof p === 'number' && p >= 0 && p <= 1)) throw new Error(`fault ${name}: probability must be within 0..1, got ${String(p)}`);
  }
  plan = next;
  random = next ? seededRandom(next.seed) : Math.random;
  counts = {};
}

/** What was injected since the plan was set, by point or delivery fault. */
export function injectedFaults(): Record<string, number> {
  return { ...counts };
}

/** Resolves once every late envelope has been sent. */
export async function lateDeliveries(): Promise<void> {
  while (late.size > 0) await Promise.allSettled([...late]);
}

const draw = (p: number | undefined): boolean => p !== undefined && p > 0 && random() < p;

/** Throws an `InjectedFault` when the plan says this call fails at `point`. */
export function injectFault(point: FaultPoint): void {
  if (plan === undefined) return;
  if (!draw(plan.failures?.[point])) return;
  counts[point] = (counts[point] ?? 0) + 1;
  throw new InjectedFault(point);
}

/**
 * Sends an envelope through `send`, possibly twice (the copy right after) or late (in the
 * background, after a random delay, so envelopes sent after it overtake it). A late send that
 * fails goes to `onLost` (the caller logs it), as a lost message (the job's lease re-queues it).
 */
export async function deliver(send: () => Promise<void>, onLost: (err: unknown) => void): Promise<void> {
  // The plan in force when the send began (it may be cleared while the send is awaited).
  const current = plan;
  if (current === undefined) return send();
  if (draw(current.delivery?.delay)) {
    counts.delay = (counts.delay ?? 0) + 1;
    const ms = Math.floor(random() * (current.maxDelayMs ?? 2000));
    const task: Promise<void> = new Promise<void>((r) => setTimeout(r, ms))
      .then(send)
      .catch(onLost)
      .finally(() => late.delete(task));
    late.add(task);
    return;
  }
  await send();
  if (draw(current.delivery?.duplicate)) {
    counts.duplicate = (counts.duplicate ?? 0) + 1;
    await send();
  }
}
