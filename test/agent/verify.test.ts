import { generateKeyPair, keyId, signPayload } from '../../contract/src';
import { TrustAnchor, verifyJobMessage } from '../../provider-agent/src/verify';
import { controllerKeyId, controllerKeys, makeEnvelope, signedMessage } from './support';

/** The envelope gate, case by case: what runs and why everything else is refused. */

const image = `127.0.0.1:5000/chainfaas/sha256@sha256:${'a'.repeat(64)}`;
const trust: TrustAnchor = { controllerPublicKey: controllerKeys.publicKeyPem, controllerKeyId, providerId: 'prov-test' };

test('a well-formed envelope signed by the controller for this provider is accepted', () => {
  const envelope = makeEnvelope(image);
  const verdict = verifyJobMessage(signedMessage(envelope), trust);
  expect(verdict).toEqual({ ok: true, envelope });
});

test('a field changed after signing breaks the signature', () => {
  const message = JSON.parse(signedMessage(makeEnvelope(image)));
  message.envelope.resources.timeoutS = 900;
  expect(verifyJobMessage(JSON.stringify(message), trust)).toMatchObject({ ok: false, reason: 'bad_signature', claimedJobId: message.envelope.jobId });
});

test('turning on network egress after signing breaks the signature', () => {
  const message = JSON.parse(signedMessage(makeEnvelope(image)));
  message.envelope.network = 'egress';
  expect(verifyJobMessage(JSON.stringify(message), trust)).toMatchObject({ ok: false, reason: 'bad_signature' });
});

test("a signature by another key is refused, whether or not it claims the controller's key id", () => {
  const other = generateKeyPair();
  const envelope = makeEnvelope(image);
  expect(verifyJobMessage(signedMessage(envelope, other), trust)).toMatchObject({ ok: false, reason: 'unknown_key' });
  const forged = { envelope, signature: signPayload(envelope, other.privateKeyPem), keyId: controllerKeyId };
  expect(verifyJobMessage(JSON.stringify(forged), trust)).toMatchObject({ ok: false, reason: 'bad_signature' });
});

test('a correctly signed envelope that breaks the schema is refused', () => {
  const envelope = { ...makeEnvelope(image), image: 'chainfaas/sha256:latest' };
  const message = JSON.stringify({ envelope, signature: signPayload(envelope, controllerKeys.privateKeyPem), keyId: controllerKeyId });
  expect(verifyJobMessage(message, trust)).toMatchObject({
    ok: false,
    reason: 'invalid_envelope',
    detail: expect.stringMatching(/^image: must be an image reference pinned by digest/),
  });
});

test('an envelope for another provider is refused', () => {
  expect(verifyJobMessage(signedMessage(makeEnvelope(image, { providerId: 'prov-other' })), trust)).toMatchObject({ ok: false, reason: 'wrong_provider' });
});

test('an envelope past its start-by time is refused', () => {
  const envelope = makeEnvelope(image, { startBy: '2026-01-01T00:00:00.000Z' });
  expect(verifyJobMessage(signedMessage(envelope), trust, new Date('2026-01-01T00:00:00.001Z'))).toMatchObject({ ok: false, reason: 'expired' });
  expect(verifyJobMessage(signedMessage(envelope), trust, new Date('2026-01-01T00:00:00.000Z'))).toMatchObject({ ok: true });
});

test('bodies that are not signed envelopes are refused as malformed', () => {
  for (const body of [
    '',
    'not json',
    '[]',
    '{}',
    JSON.stringify({ envelope: {}, signature: 'x' }),
    JSON.stringify({ envelope: {}, signature: 'x', keyId: 'k', extra: 1 }),
  ]) {
    expect(verifyJobMessage(body, trust)).toMatchObject({ ok: false, reason: 'malformed' });
  }
});

test('the key id the controller registered is the one checked', () => {
  expect(keyId(controllerKeys.publicKeyPem)).toBe(controllerKeyId);
  expect(verifyJobMessage(signedMessage(makeEnvelope(image)), { ...trust, controllerKeyId: 'ffffffffffffffff' })).toMatchObject({
    ok: false,
    reason: 'unknown_key',
  });
});
