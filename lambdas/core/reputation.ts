/**
 * Issue #19: a provider's reputation, folded from its raw verification outcomes. The outcomes are on
 * the ledger (chaincode/src/verification.ts: one per replica in a decided group); the controller
 * keeps the fold on the provider's record for placement, and `rebuild` recomputes it from the
 * ledger's list, so the stored one is never the only copy of the truth.
 *
 * - An agreement adds to the run of consecutive valid results; a disagreement resets that run to 0
 *   (trust is lost at once) and counts towards a suspension.
 * - SUSPEND_AFTER disagreements in a row suspend the provider for SUSPEND_S: no job is placed on it
 *   meanwhile. The way back: once the suspension ends it takes jobs again, its run of valid results
 *   starting from 0, and one agreement clears the count towards the next suspension.
 * - A missed deadline counts, but neither resets trust nor suspends (a machine that went away is
 *   not a liar); an inconclusive outcome (no quorum: nobody can tell who was wrong) only counts.
 * - Adaptive replication (BOINC's): agreements are also counted per function version
 *   (`validByVersion`); a provider with TRUST_AFTER of them in a row on a version is trusted there,
 *   and its jobs of that version are replicated with probability 1 / that count
 *   (`replicationChance`). An unchecked result (`unchecked`: run alone on trust) counts, but adds
 *   no trust: only checked agreements earn it. A disagreement resets every version to 0.
 */

export type Outcome = 'agreed' | 'disagreed' | 'missed' | 'inconclusive' | 'unchecked';

export interface Reputation {
  agreed: number;
  disagreed: number;
  missed: number;
  inconclusive: number;
  /** Results accepted on trust, without a check (adaptive replication). Absent: 0. */
  unchecked?: number;
  /** Agreements since the last disagreement, per function version (`<functionId>@<version>`), at most MAX_VERSIONS kept. */
  validByVersion?: Record<string, number>;
  /** Agreements since the last disagreement. */
  consecutiveValid: number;
  /** Disagreements since the last agreement (SUSPEND_AFTER of them suspend). */
  disagreementsInRow: number;
  /** No job is placed on the provider before this instant. */
  suspendedUntil?: string;
}

export const SUSPEND_AFTER = 3;
export const SUSPEND_S = 3600;

export const EMPTY_REPUTATION: Reputation = { agreed: 0, disagreed: 0, missed: 0, inconclusive: 0, consecutiveValid: 0, disagreementsInRow: 0 };

/** Consecutive agreements on a function version after which a provider is trusted there (BOINC's threshold). */
export const TRUST_AFTER = 10;
/** Function versions whose counts a reputation keeps (the oldest entry goes first). */
export const MAX_VERSIONS = 64;

/** The key a function version's agreements are counted under. */
export const versionKey = (functionId: string, functionVersion: number) => `${functionId}@${functionVersion}`;

/**
 * The reputation after one more outcome, decided at `at` (an ISO instant), for a replica of
 * function version `version` (`versionKey`; absent on outcomes recorded before adaptive replication).
 */
export function applyOutcome(r: Reputation, outcome: Outcome, at: string, version?: string): Reputation {
  const next: Reputation = { ...r, [outcome]: (r[outcome] ?? 0) + 1 };
  if (outcome === 'agreed') {
    next.consecutiveValid = r.consecutiveValid + 1;
    next.disagreementsInRow = 0;
    if (version !== undefined) {
      const counts = { ...(r.validByVersion ?? {}) };
      const n = (counts[version] ?? 0) + 1;
      delete counts[version];
      counts[version] = n;
      const keys = Object.keys(counts);
      for (const old of keys.slice(0, Math.max(0, keys.length - MAX_VERSIONS))) delete counts[old];
      next.validByVersion = counts;
    }
  } else if (outcome === 'disagreed') {
    next.consecutiveValid = 0;
    if (r.validByVersion !== undefined) next.validByVersion = {};
    next.disagreementsInRow = r.disagreementsInRow + 1;
    if (next.disagreementsInRow >= SUSPEND_AFTER) {
      next.suspendedUntil = new Date(Date.parse(at) + SUSPEND_S * 1000).toISOString();
      next.disagreementsInRow = 0;
    }
  }
  return next;
}

/** The reputation from a provider's outcomes on the ledger, oldest first. */
export function rebuild(outcomes: ReadonlyArray<{ outcome: Outcome; decidedAt: string; functionId?: string; functionVersion?: number }>): Reputation {
  return outcomes.reduce(
    (r, o) => applyOutcome(r, o.outcome, o.decidedAt, o.functionId !== undefined && o.functionVersion !== undefined ? versionKey(o.functionId, o.functionVersion) : undefined),
    EMPTY_REPUTATION,
  );
}

/**
 * Adaptive replication: the chance that a job of function version `version` placed on a provider
 * with reputation `r` is checked (replicated). 1 below TRUST_AFTER consecutive agreements there;
 * then 1 / that count (BOINC: 1/CV), so the more clean results the fewer checks.
 */
export function replicationChance(r: Reputation | undefined, version: string): number {
  const valid = r?.validByVersion?.[version] ?? 0;
  return valid < TRUST_AFTER ? 1 : 1 / valid;
}

/**
 * Probation (issue #19): a provider with fewer than `probationResults` consecutive valid results
 * (new, or since its last disagreement) takes only replicas, whose results others check; never a
 * job that runs on it alone. 0: no probation.
 */
export function onProbation(r: Reputation | undefined, probationResults: number): boolean {
  return (r?.consecutiveValid ?? 0) < probationResults;
}

/** Whether the provider may take jobs at `nowMs`. */
export function isSuspended(r: Reputation | undefined, nowMs: number): boolean {
  return r?.suspendedUntil !== undefined && Date.parse(r.suspendedUntil) > nowMs;
}

/** A score in [0, 1]: the share of valid results, with one valid and one invalid assumed (new providers start at 0.5). */
export function score(r: Reputation): number {
  return (r.agreed + 1) / (r.agreed + r.disagreed + r.missed + 2);
}
