import { PoolEntry, WarmPool } from '../../provider-agent/src/runners/warm-pool';

/** The warm pool's bookkeeping: LRU order, memory budget, idle expiry, busy entries left alone. */

let now = 0;
const destroyed: string[] = [];
const entry = (key: string, memoryMb = 100): PoolEntry & { name: string } => ({
  name: `${key}-${now}`,
  key,
  functionId: key,
  memoryMb,
  busy: true,
  lastUsed: now,
});

function pool(budgetMb: number, idleMs = 10_000) {
  return new WarmPool<PoolEntry & { name: string }>({
    budgetMb,
    idleMs,
    now: () => now,
    destroy: async (e) => void destroyed.push(e.name),
  });
}

beforeEach(() => {
  now = 1000;
  destroyed.length = 0;
});

test('an idle entry is handed out once, most recently used first, and never while busy', () => {
  const p = pool(1000);
  const a1 = entry('a');
  p.admit(a1);
  expect(p.take('a')).toBeUndefined(); // busy
  p.release(a1);
  now = 2000;
  const a2 = entry('a');
  p.admit(a2);
  now = 3000;
  p.release(a2);
  expect(p.take('a')).toBe(a2);
  expect(p.take('a')).toBe(a1);
  expect(p.take('a')).toBeUndefined();
  expect(p.take('b')).toBeUndefined();
});

test('admitting past the budget evicts idle entries, least recently used first; busy ones stay', () => {
  const p = pool(250);
  const [a, b, c] = [entry('a'), entry('b'), entry('c')];
  p.admit(a);
  p.release(a);
  now += 10;
  p.admit(b);
  p.release(b);
  now += 10;
  p.take('a'); // a busy again
  p.release(a); // a is now the most recently used
  now += 10;
  p.admit(c);
  expect(destroyed).toEqual([b.name]);
  expect(p.warmFunctions()).toEqual(['c', 'a']);
  expect(p.usedMb()).toBe(200);
});

test('an entry that cannot fit serves its job and is evicted when released', () => {
  const p = pool(150);
  const [a, b] = [entry('a'), entry('b')];
  p.admit(a);
  p.admit(b); // a is busy: nothing to evict
  expect(p.usedMb()).toBe(200);
  p.release(b);
  expect(destroyed).toEqual([b.name]);
  p.release(a);
  expect(p.list()).toEqual([a]);
});

test('a budget of 0 keeps nothing warm', () => {
  const p = pool(0);
  const a = entry('a');
  p.admit(a);
  p.release(a);
  expect(destroyed).toEqual([a.name]);
  expect(p.warmFunctions()).toEqual([]);
});

test('idle entries expire; busy ones do not', () => {
  const p = pool(1000, 500);
  const [a, b] = [entry('a'), entry('b')];
  p.admit(a);
  p.admit(b);
  p.release(a);
  now += 499;
  p.sweep();
  expect(destroyed).toEqual([]);
  now += 1000;
  p.sweep();
  expect(destroyed).toEqual([a.name]);
  expect(p.warmFunctions()).toEqual(['b']);
});

test('close destroys every entry and waits for it', async () => {
  const p = pool(1000);
  const [a, b] = [entry('a'), entry('b')];
  p.admit(a);
  p.admit(b);
  p.release(a);
  await p.close();
  expect(destroyed.sort()).toEqual([a.name, b.name].sort());
  expect(p.list()).toEqual([]);
});
