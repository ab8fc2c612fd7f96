import type { OutboxEntry } from '../../lambdas/core/ports';
import { plan } from '../../lambdas/core/use-cases/outbox';

/** Issue #17: the lanes writer's plan never puts two transactions in flight that Fabric could invalidate. */

let seq = 0;
const entry = (lane?: string, payee?: string, events = 1): OutboxEntry => ({
  stream: `s${seq}`,
  seq: String(seq++).padStart(6, '0'),
  enqueuedAt: '2026-01-01T00:00:00.000Z',
  events: Array.from({ length: events }, () => ({ type: 'FailJob' as const, jobId: 'j', reason: 'r' })),
  ...(lane !== undefined ? { lane } : {}),
  ...(payee !== undefined ? { payee } : {}),
});

describe('outbox lanes plan', () => {
  it('gives each developer its own transaction, in order, one per lane', () => {
    const ready = [entry('a'), entry('b'), entry('a'), entry('c')];
    const batches = plan(ready, [], 2, 10);
    expect(batches.map((b) => [b.lane, b.entries.map((e) => e.seq)])).toEqual([
      ['a', [ready[0]!.seq, ready[2]!.seq]],
      ['b', [ready[1]!.seq]],
    ]);
  });

  it('submits nothing of a lane that is in flight', () => {
    expect(plan([entry('a'), entry('b')], [{ lane: 'a', payees: new Set() }], 4, 10).map((b) => b.lane)).toEqual(['b']);
  });

  it('never credits the balance range of a lane in flight, nor runs a lane another credits', () => {
    // a is in flight: b's job that pays a waits (b's earlier entries go)
    const first = entry('b', 'p1');
    const paysA = entry('b', 'a');
    expect(plan([first, paysA], [{ lane: 'a', payees: new Set() }], 4, 10)[0]!.entries).toEqual([first]);
    // x in flight pays c: c's own debits wait
    expect(plan([entry('c')], [{ lane: 'x', payees: new Set(['c']) }], 4, 10)).toEqual([]);
    // within one plan: d pays e, so e is not planned beside it
    expect(plan([entry('d', 'e'), entry('e')], [], 4, 10).map((b) => b.lane)).toEqual(['d']);
  });

  it('commits an entry without a route alone, after everything in flight, and stops the lanes at it', () => {
    const alone = entry();
    expect(plan([alone, entry('a')], [{ lane: 'b', payees: new Set() }], 4, 10)).toEqual([]);
    expect(plan([alone, entry('a')], [], 4, 10)).toEqual([{ entries: [alone, expect.anything()] }]);
    const before = entry('a');
    expect(plan([before, entry(), entry('b')], [], 4, 10).map((b) => b.entries)).toEqual([[before]]);
    expect(plan([entry('a')], [{ lane: undefined, payees: new Set() }], 4, 10)).toEqual([]);
  });

  it('caps a transaction at maxEvents and the plan at the free lanes', () => {
    const batches = plan([entry('a'), entry('a'), entry('a'), entry('b'), entry('c')], [], 2, 2);
    expect(batches.map((b) => [b.lane, b.entries.length])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
  });

  it('counts the events of an entry (one append) against maxEvents, and never splits an entry', () => {
    const pair = (lane?: string) => entry(lane, undefined, 2);
    expect(plan([pair('a'), entry('a'), pair('a')], [], 1, 3).map((b) => b.entries.length)).toEqual([2]);
    // An entry larger than maxEvents still goes, alone.
    expect(plan([entry('a', undefined, 5), entry('a')], [], 1, 3).map((b) => b.entries.length)).toEqual([1]);
    expect(plan([pair(), pair(), entry()], [], 1, 4).map((b) => b.entries.length)).toEqual([2]);
  });
});
