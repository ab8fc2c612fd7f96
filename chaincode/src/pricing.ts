/**
 * Job pricing in integer micro-credits. Pure and free of Fabric imports, so that the chaincode
 * (which settles a job) and the controller (which places a hold for the worst case) compute the
 * same number from the same inputs.
 *
 * Cost formula, all in exact integer arithmetic (BigInt):
 *
 *   millicores = vCPU in thousandths, rounded up          (0.25 vCPU -> 250, 2.007 -> 2007)
 *   cpuPrice   = billing.vcpuMs in 10^-6 micro-credits, rounded up
 *   memPrice   = billing.mbMs   in 10^-6 micro-credits, rounded up
 *   diskPrice  = billing.diskMbMs in 10^-6 micro-credits, rounded up (absent: 0)
 *   cost       = ceil( runtimeMs * (millicores * cpuPrice + 1000 * (memoryMb * memPrice + diskMb * diskPrice)) / 10^9 )
 *              = ceil( runtimeMs * (vCPU * vcpuMs + memoryMb * mbMs + diskMb * diskMbMs) )
 *
 * diskMb is the job's scratch space (issue #23); a job created before it has none and pays no
 * disk, and a price list without `diskMbMs` prices disk at 0, so their costs are unchanged.
 *
 * then capped at `maxCost` when one is given. Decimal inputs are read from their shortest decimal
 * form (`String(2.007)` is "2.007"), never multiplied as floats: 2.007 vCPU is 2007 millicores,
 * where `Math.ceil(2.007 * 1000)` would give 2008.
 */

/**
 * How far a reported run time may pass the job's timeout: a container killed at its deadline is
 * measured a little after it. The chaincode and the controller accept the same margin; billing
 * stops at the timeout (settlement.ts).
 */
export const RUNTIME_GRACE_MS = 5000;

/** The resources a job reserved (the controller's `Resources`). */
export interface PricedResources {
  vcpu: number;
  memoryMb: number;
  timeoutS: number;
  /** Scratch space in MB (issue #23); absent: none billed. */
  diskMb?: number;
}

/** The price list a job was created under (the controller's `BillingUnits`). */
export interface PriceList {
  version: number;
  /** micro-credits per vCPU-millisecond; up to 6 decimal places count */
  vcpuMs: number;
  /** micro-credits per MB-millisecond; up to 6 decimal places count */
  mbMs: number;
  /** micro-credits per MB-millisecond of scratch space (issue #23); absent: 0 */
  diskMbMs?: number;
}

/**
 * Failure reasons (from a run-time report) that are billed: none. A failed or cancelled job
 * charges nothing, whoever's doing the failure was (the billing rule since the Color-FaaS billing
 * work; earlier versions billed `exit`, `oom`, `timeout` and `output_too_large`). Kept as an
 * exported, empty list so callers that named it still compile.
 */
export const BILLED_FAILURE_REASONS: readonly string[] = [];

const PRICE_DECIMALS = 6;
const MILLI = 1000n;
const PRICE_SCALE = 10n ** BigInt(PRICE_DECIMALS);

/**
 * The cost of running a job with `resources` for `runtimeMs` under `billing`, in micro-credits,
 * rounded up, capped at `maxCost` when given. Throws on negative, non-finite or non-integer input
 * where an integer is required.
 */
export function jobCost(resources: PricedResources, billing: PriceList, runtimeMs: number, maxCost?: number): number {
  requireSafeInteger('runtimeMs', runtimeMs);
  requireSafeInteger('resources.memoryMb', resources.memoryMb);
  const millicores = scaledCeil('resources.vcpu', resources.vcpu, 3);
  const cpuPrice = scaledCeil('billing.vcpuMs', billing.vcpuMs, PRICE_DECIMALS);
  const memPrice = scaledCeil('billing.mbMs', billing.mbMs, PRICE_DECIMALS);
  const diskMb = resources.diskMb ?? 0;
  requireSafeInteger('resources.diskMb', diskMb);
  const diskPrice = scaledCeil('billing.diskMbMs', billing.diskMbMs ?? 0, PRICE_DECIMALS);
  const scaled = BigInt(runtimeMs) * (millicores * cpuPrice + MILLI * (BigInt(resources.memoryMb) * memPrice + BigInt(diskMb) * diskPrice));
  let cost = ceilDiv(scaled, MILLI * PRICE_SCALE);
  if (maxCost !== undefined) {
    requireSafeInteger('maxCost', maxCost);
    if (BigInt(maxCost) < cost) cost = BigInt(maxCost);
  }
  if (cost > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`cost ${cost} exceeds the largest safe integer`);
  return Number(cost);
}

/** The most a job can cost: its full timeout at its resources (before any price cap). */
export function worstCaseCost(resources: PricedResources, billing: PriceList): number {
  return jobCost(resources, billing, resources.timeoutS * 1000);
}

/** vCPU as integer millicores, rounded up, computed without float multiplication. */
export function vcpuMillicores(vcpu: number): number {
  return Number(scaledCeil('vcpu', vcpu, 3));
}

/**
 * Whether a run with this outcome is billed: only a succeeded run. A failed run costs 0 whatever
 * the reason (the function exited non-zero, ran out of memory or time, wrote too much output, or
 * the provider could not run it): the developer pays for results, and the controller releases the
 * job's hold. `reason` is accepted for callers that pass it and ignored.
 */
export function isBilledOutcome(status: 'succeeded' | 'failed', reason?: string): boolean {
  void reason;
  return status === 'succeeded';
}

/** `value * 10^decimals`, rounded up to an integer, from the shortest decimal form of `value`. */
function scaledCeil(name: string, value: number, decimals: number): bigint {
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a finite number >= 0, got ${value}`);
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(value));
  if (!match) throw new Error(`${name}: cannot read ${value} as a decimal`);
  const [, whole, fraction = '', exponent = '0'] = match;
  const digits = BigInt(whole + fraction);
  const shift = Number(exponent) - fraction.length + decimals;
  return shift >= 0 ? digits * 10n ** BigInt(shift) : ceilDiv(digits, 10n ** BigInt(-shift));
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

function requireSafeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be an integer >= 0, got ${value}`);
}
