import { DomainError } from '../errors';
import type { BillingUnits } from '../ledger';
import type { JobRecord } from '../model';
import type { PublishedPrices } from '../ports';
import type { Deps } from './context';

/**
 * What a job's life needs of billing (billing.ts has the rest): the price list a new job is
 * created under, and the hold that reserves its most possible cost from the developer's
 * `available` balance. An invocation places the hold (invocations.ts); whoever ends the job
 * without a settlement releases it (a cancel, jobs.ts; a failure, scheduling.ts); the reaper
 * sweeps the ones a crash left behind (reaper.ts). This module imports no other use-case.
 */

// ---------- billing units ----------

/**
 * How long this process creates jobs under a published price list it read, without reading it
 * again (issue #16: one read on every invocation, for a list an operator changes rarely). A list
 * published by this process is in force here at once (`rememberPrices`); one published by another
 * process (another Lambda sandbox) within PRICES_CACHE_MS.
 */
export const PRICES_CACHE_MS = 1_000;
let lastRead: { at: number; published: PublishedPrices | undefined } | undefined;

/** The price list new jobs are created under; `fresh`: read now, whatever this process read last. */
export async function pricesInForce(deps: Pick<Deps, 'billingStore' | 'config'>, { fresh = false } = {}): Promise<BillingUnits> {
  const now = Date.now();
  let published: PublishedPrices | undefined;
  if (!fresh && lastRead && now >= lastRead.at && now - lastRead.at < PRICES_CACHE_MS) published = lastRead.published;
  else if (deps.billingStore) {
    published = await deps.billingStore.currentPrices();
    lastRead = { at: now, published };
  }
  const configured = deps.config.billing;
  if (published && published.version > configured.version) return {
      version: published.version,
      vcpuMs: published.vcpuMs,
      mbMs: published.mbMs,
      ...(published.diskMbMs ? { diskMbMs: published.diskMbMs } : {}),
    };
  return configured;
}

/** A price list this process has just published: in force here from now on. */
export function rememberPrices(published: PublishedPrices): void {
  lastRead = { at: Date.now(), published };
}

// ---------- holds ----------

/** Whether jobs hold their most possible cost: BALANCE_HOLDS on, and a balance store that can hold. */
export const holdsOn = (deps: Pick<Deps, 'config' | 'balances'>): boolean => Boolean(deps.config.holds && deps.balances.placeHold);

/**
 * Reserves `job.maxCost` from the developer's available balance, or throws `insufficient_funds`
 * (402). No-op when holds are off (BALANCE_HOLDS) or the balance store cannot hold.
 */
export async function holdForJob(deps: Deps, job: JobRecord): Promise<number | undefined> {
  const placeHold = deps.balances.placeHold?.bind(deps.balances);
  if (!holdsOn(deps) || !placeHold) return undefined;
  const amount = job.maxCost;
  // A new account's signup credit may still be on its way to the read model (outbox, ledger
  // writer, balance movements): while the account is unknown there, wait for it a little rather
  // than refuse its first invocation. Once it is known, one more try decides.
  for (let waited = 0, known = false; ; waited += 200) {
    if (await placeHold(job.developerId, job.jobId, amount, job.createdAt)) return amount;
    if (known || deps.config.signupCredit <= 0 || waited >= SIGNUP_WAIT_MS) break;
    known = (await deps.balances.account?.(job.developerId)) !== undefined;
    if (!known) await sleep(200);
  }
  const account = await deps.balances.account?.(job.developerId);
  const available = account?.available ?? 0;
  if (account?.terms === 'invoice') {
    throw new DomainError(
      'insufficient_funds',
      `credit limit reached: this invocation may cost up to ${amount} micro-credits (its hold) and the account has ${available} of credit available ` +
        `(limit ${account.creditLimit} minus ${account.owed} owed minus ${account.held} held by running jobs); pay the due bills with POST /account/bills/{month}/pay`,
      undefined,
      { required: amount, available, terms: 'invoice', creditLimit: account.creditLimit, owed: account.owed, held: account.held },
    );
  }
  throw new DomainError(
    'insufficient_funds',
    `insufficient funds: this invocation may cost up to ${amount} micro-credits (its hold) and the account has ${available} available ` +
      `(balance ${account?.balance ?? 0} minus ${account?.held ?? 0} held by running jobs); top up with POST /account/top-ups`,
    undefined,
    { required: amount, available, balance: account?.balance ?? 0, held: account?.held ?? 0 },
  );
}

/** How long a new account's first invocation waits for its signup credit to reach the read model. */
const SIGNUP_WAIT_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Releases the job's hold (if any is still open); exactly once however often it is called. */
export async function releaseHold(deps: Pick<Deps, 'balances'>, jobId: string): Promise<number | undefined> {
  return deps.balances.releaseHold?.(jobId);
}

/**
 * Releases open holds whose job ended without a settlement reaching the read model (it failed or
 * was cancelled), whose settlement was recorded but the release was lost (a crash between the
 * two), or whose job never got created (a crash between hold and job write, older than `graceMs`).
 * The reaper runs it on its schedule (reaper.ts), so no hold outlives its job by more than a sweep.
 */
export async function sweepHolds(deps: Deps, graceMs = 5 * 60_000): Promise<number> {
  if (!deps.balances.listHolds) return 0;
  let released = 0;
  const cutoff = new Date(Date.now() - graceMs).toISOString();
  for (const hold of await deps.balances.listHolds(500)) {
    const job = await deps.jobs.getJob(hold.jobId);
    const ended = job ? job.status === 'FAILED' || job.status === 'CANCELLED' || job.cost !== undefined : hold.placedAt < cutoff;
    if (ended && (await releaseHold(deps, hold.jobId)) !== undefined) released++;
  }
  return released;
}
