import { compareSha256, CompareRule, sha256Hex } from '../../contract/src';

/** Issue #19: the declared comparison a replica's vote is computed with (contract/src/compare.ts). */

const rule = (...ignore: string[]) => ({ canonicalJson: { ignore } });

test('#19: removes the named members and array elements, then hashes canonical JSON (key order and whitespace do not count)', () => {
  const a = Buffer.from('{"at":"2026-12-05T03:00:00Z","v":{"x":1,"y":[1,2,3]},"a/b":7}');
  const b = Buffer.from(' { "v": { "y": [1, 2, 9], "x": 1 }, "a/b": 8, "at": "later" } ');
  const same = rule('/at', '/v/y/2', '/a~1b');
  expect(compareSha256(same, a)).toBe(compareSha256(same, b));
  expect(compareSha256(same, a)).toBe(sha256Hex('{"v":{"x":1,"y":[1,2]}}'));
  // A field not ignored still decides; a pointer that names nothing is skipped.
  expect(compareSha256(rule('/at'), a)).not.toBe(compareSha256(rule('/at'), b));
  expect(compareSha256(rule('/nothing/here', '/v/y/7'), Buffer.from('{"v":{"y":[1]}}'))).toBe(sha256Hex('{"v":{"y":[1]}}'));
});

test('#19: a result that is not JSON has no comparison hash (it votes with its exact bytes)', () => {
  expect(compareSha256(rule('/at'), Buffer.from('not json'))).toBeUndefined();
});

test('#19: a rule names JSON Pointers only, at most 32', () => {
  expect(CompareRule.safeParse(rule('at')).success).toBe(false);
  expect(CompareRule.safeParse(rule('')).success).toBe(false);
  expect(CompareRule.safeParse(rule(...Array.from({ length: 33 }, (_, i) => `/f${i}`))).success).toBe(false);
  expect(CompareRule.safeParse(rule('/a/0', '/~0x')).success).toBe(true);
});
