import { Recent } from '../../lambdas/core/recent';

/** The process-local cache behind authentication and invocations' function records (lambdas/core/recent.ts). */
describe('Recent', () => {
  it('keeps a value for less than its time to live, and not across a clock that stepped back', () => {
    const kept = new Recent<string, number>(1000, 10);
    kept.set('a', 1, 5000);
    expect(kept.get('a', 5999)).toBe(1);
    expect(kept.get('a', 6000)).toBeUndefined();
    kept.set('b', 2, 5000);
    expect(kept.get('b', 4999)).toBeUndefined();
    // Gone for good once found stale.
    expect(kept.get('b', 5000)).toBeUndefined();
  });

  it('holds at most `max` entries, the oldest set first out; forgets by key and by value', () => {
    const kept = new Recent<string, { owner: string }>(1000, 2);
    kept.set('a', { owner: 'u1' }, 0);
    kept.set('b', { owner: 'u2' }, 0);
    kept.set('a', { owner: 'u1' }, 1); // set again: now the newest
    kept.set('c', { owner: 'u1' }, 2);
    expect(kept.get('b', 3)).toBeUndefined();
    expect(kept.get('a', 3)).toEqual({ owner: 'u1' });
    kept.deleteWhere((v) => v.owner === 'u1');
    expect(kept.get('a', 3)).toBeUndefined();
    expect(kept.get('c', 3)).toBeUndefined();
    kept.set('d', { owner: 'u3' }, 3);
    kept.delete('d');
    expect(kept.get('d', 3)).toBeUndefined();
  });
});
