import { canonicalJson, generateKeyPair, keyId, signPayload, verifyPayload } from '../../contract/src';

test('canonical JSON sorts keys at every depth and drops undefined', () => {
  expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
});

test('a signature verifies for the same payload in any key order, and fails for a changed payload or another key', () => {
  const keys = generateKeyPair();
  const other = generateKeyPair();
  const payload = { jobId: 'job_1', runtimeMs: 120, nested: { a: 1, b: 2 } };
  const signature = signPayload(payload, keys.privateKeyPem);
  expect(verifyPayload({ nested: { b: 2, a: 1 }, runtimeMs: 120, jobId: 'job_1' }, signature, keys.publicKeyPem)).toBe(true);
  expect(verifyPayload({ ...payload, runtimeMs: 121 }, signature, keys.publicKeyPem)).toBe(false);
  expect(verifyPayload(payload, signature, other.publicKeyPem)).toBe(false);
  expect(verifyPayload(payload, 'not base64 at all', keys.publicKeyPem)).toBe(false);
  expect(verifyPayload(payload, signature, 'garbage')).toBe(false);
});

test('key ids are stable per key and differ between keys', () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  expect(keyId(a.publicKeyPem)).toBe(keyId(a.publicKeyPem));
  expect(keyId(a.publicKeyPem)).toMatch(/^[a-f0-9]{16}$/);
  expect(keyId(a.publicKeyPem)).not.toBe(keyId(b.publicKeyPem));
});
