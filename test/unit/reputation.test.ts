import { applyOutcome, EMPTY_REPUTATION, isSuspended, onProbation, rebuild, replicationChance, score, SUSPEND_AFTER, SUSPEND_S, TRUST_AFTER, versionKey } from '../../lambdas/core/reputation';

/** Issue #19: the reputation fold the scheduler uses, and its rebuild from the ledger's raw outcomes. */

const at = (s: number) => new Date(Date.UTC(2026, 11, 5) + s * 1000).toISOString();

test('agreements build a run of valid results; one disagreement resets it at once', () => {
  let r = EMPTY_REPUTATION;
  for (let i = 0; i < 12; i++) r = applyOutcome(r, 'agreed', at(i));
  expect(r).toMatchObject({ agreed: 12, consecutiveValid: 12, disagreementsInRow: 0 });
  r = applyOutcome(r, 'disagreed', at(20));
  expect(r).toMatchObject({ agreed: 12, disagreed: 1, consecutiveValid: 0, disagreementsInRow: 1 });
  expect(isSuspended(r, Date.parse(at(21)))).toBe(false);
  // A missed deadline and an inconclusive group count, but neither resets trust nor suspends.
  r = applyOutcome(applyOutcome(applyOutcome(EMPTY_REPUTATION, 'agreed', at(0)), 'missed', at(1)), 'inconclusive', at(2));
  expect(r).toMatchObject({ agreed: 1, missed: 1, inconclusive: 1, consecutiveValid: 1 });
});

test(`${SUSPEND_AFTER} disagreements in a row suspend for ${SUSPEND_S}s; afterwards the provider takes jobs again, its trust starting from zero`, () => {
  let r = EMPTY_REPUTATION;
  for (let i = 0; i < SUSPEND_AFTER - 1; i++) r = applyOutcome(r, 'disagreed', at(i));
  expect(r.suspendedUntil).toBeUndefined();
  // An agreement in between clears the count towards a suspension.
  r = applyOutcome(r, 'agreed', at(10));
  for (let i = 0; i < SUSPEND_AFTER - 1; i++) r = applyOutcome(r, 'disagreed', at(20 + i));
  expect(r.suspendedUntil).toBeUndefined();
  r = applyOutcome(r, 'disagreed', at(30));
  expect(r.suspendedUntil).toBe(at(30 + SUSPEND_S));
  expect(isSuspended(r, Date.parse(at(31)))).toBe(true);
  expect(isSuspended(r, Date.parse(at(30 + SUSPEND_S + 1)))).toBe(false);
  expect(r.consecutiveValid).toBe(0);
});

test('the fold is rebuilt exactly from the outcomes in ledger order; the score starts at one half', () => {
  const outcomes = (['agreed', 'disagreed', 'agreed', 'missed', 'disagreed', 'disagreed', 'disagreed', 'inconclusive'] as const).map((outcome, i) => ({
    outcome,
    decidedAt: at(i),
  }));
  let stored = EMPTY_REPUTATION;
  for (const o of outcomes) stored = applyOutcome(stored, o.outcome, o.decidedAt);
  expect(rebuild(outcomes)).toEqual(stored);
  expect(stored).toMatchObject({ agreed: 2, disagreed: 4, missed: 1, inconclusive: 1, suspendedUntil: at(6 + SUSPEND_S) });
  expect(score(EMPTY_REPUTATION)).toBe(0.5);
  expect(score(stored)).toBeCloseTo(3 / 9);
});

test('#19 probation: below N agreed results in a row (new, or since a disagreement) a provider is on probation; N = 0 is off', () => {
  let r = EMPTY_REPUTATION;
  expect(onProbation(undefined, 10)).toBe(true);
  for (let i = 0; i < 9; i++) r = applyOutcome(r, 'agreed', at(i));
  expect(onProbation(r, 10)).toBe(true);
  r = applyOutcome(r, 'agreed', at(10));
  expect(onProbation(r, 10)).toBe(false);
  expect(onProbation(applyOutcome(r, 'disagreed', at(11)), 10)).toBe(true);
  expect(onProbation(undefined, 0)).toBe(false);
});

test('#19 adaptive replication: trust is earned per function version after TRUST_AFTER checked agreements, then checks come with chance 1/CV; unchecked results earn none; a disagreement resets every version', () => {
  const v1 = versionKey('fn_a', 1);
  const v2 = versionKey('fn_a', 2);
  let r = EMPTY_REPUTATION;
  for (let i = 0; i < TRUST_AFTER - 1; i++) r = applyOutcome(r, 'agreed', at(i), v1);
  expect(replicationChance(r, v1)).toBe(1);
  r = applyOutcome(r, 'agreed', at(20), v1);
  expect(replicationChance(r, v1)).toBeCloseTo(1 / TRUST_AFTER);
  // Another version of the same function is not trusted by the first one's record.
  expect(replicationChance(r, v2)).toBe(1);
  // A result accepted on trust counts, but adds no trust.
  r = applyOutcome(r, 'unchecked', at(21), v1);
  expect(r).toMatchObject({ unchecked: 1, validByVersion: { [v1]: TRUST_AFTER }, consecutiveValid: TRUST_AFTER });
  for (let i = 0; i < 10; i++) r = applyOutcome(r, 'agreed', at(30 + i), v1);
  expect(replicationChance(r, v1)).toBeCloseTo(1 / (TRUST_AFTER + 10));
  r = applyOutcome(r, 'disagreed', at(50), v2);
  expect(r.validByVersion).toEqual({});
  expect(replicationChance(r, v1)).toBe(1);
  // The ledger's outcomes carry the function version, so the per-version counts rebuild exactly.
  const outcomes = [
    { outcome: 'agreed' as const, decidedAt: at(0), functionId: 'fn_a', functionVersion: 1 },
    { outcome: 'unchecked' as const, decidedAt: at(1), functionId: 'fn_a', functionVersion: 1 },
    { outcome: 'agreed' as const, decidedAt: at(2), functionId: 'fn_b', functionVersion: 3 },
  ];
  let stored = EMPTY_REPUTATION;
  for (const o of outcomes) stored = applyOutcome(stored, o.outcome, o.decidedAt, versionKey(o.functionId, o.functionVersion));
  expect(rebuild(outcomes)).toEqual(stored);
  expect(stored.validByVersion).toEqual({ [v1]: 1, [versionKey('fn_b', 3)]: 1 });
});

/**
 * The overhead adaptive replication reaches for an honest provider once trusted (k = 2: a checked
 * job costs one extra replica): the share of jobs checked, with the same draw the controller makes
 * (replicationChance), a checked agreement raising the count. BOINC aims at 5-10 %.
 */
test('#19 adaptive replication overhead for a trusted honest provider: at most 1/TRUST_AFTER, falling below 5% within a few hundred jobs', () => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const v = versionKey('fn', 1);
  let r = EMPTY_REPUTATION;
  for (let i = 0; i < TRUST_AFTER; i++) r = applyOutcome(r, 'agreed', at(i), v);
  const overheadAfter = (jobs: number) => {
    let checked = 0;
    for (let i = 0; i < jobs; i++) {
      if (random() < replicationChance(r, v)) {
        checked++;
        r = applyOutcome(r, 'agreed', at(100 + i), v);
      } else r = applyOutcome(r, 'unchecked', at(100 + i), v);
    }
    return checked / jobs;
  };
  const first100 = overheadAfter(100);
  const next900 = overheadAfter(900);
  // Printed for the record (README quotes these).
  console.log(`adaptive replication overhead, k = 2: first 100 jobs ${(first100 * 100).toFixed(1)}%, next 900 ${(next900 * 100).toFixed(1)}%`);
  expect(first100).toBeLessThanOrEqual(0.1);
  expect(next900).toBeLessThan(0.05);
});
