import { applyOutcome, EMPTY_REPUTATION, isSuspended, onProbation, rebuild, score, SUSPEND_AFTER, SUSPEND_S } from '../../lambdas/core/reputation';

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
