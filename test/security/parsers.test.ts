import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import fc from 'fast-check';
import { canonicalJson, CreateFunctionBody, generateKeyPair, JobEnvelope, keyId, ReportBody, RuntimeReport, SignedEnvelope, signPayload, verifyPayload } from '../../contract/src';
import { DomainError } from '../../lambdas/core/errors';
import { parse } from '../../lambdas/core/use-cases/context';
import { httpApi, json } from '../../lambdas/handlers/http';
import { TrustAnchor, verifyJobMessage } from '../../provider-agent/src/verify';

/**
 * Property-based fuzzing (fast-check) of the three parsers that take bytes from a stranger:
 *
 * - the agent's job envelope gate (`provider-agent/src/verify.ts#verifyJobMessage`): any message
 *   body gives a verdict and never throws; a signed envelope changed in any way is refused;
 * - the controller's run-time report parser (`ReportBody`, `RuntimeReport` and the signature check
 *   that `use-cases/providers.ts#acceptReport` applies, in that order): only the typed
 *   validation error (DomainError `invalid_request`), and a changed signed report never verifies;
 * - the HTTP edge's body parser (`lambdas/handlers/http.ts`) in front of a real zod schema:
 *   deeply nested JSON, huge strings, `__proto__`/`constructor` keys, wrong types, invalid UTF-8,
 *   1e309, -0: a 4xx problem naming the body or a field, never a 500, no prototype polluted.
 *
 * FUZZ_RUNS sets the number of runs per property (default 300: the CI profile; `npm run
 * test:chaos` runs more).
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const opts = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

const controller = generateKeyPair();
const otherKey = generateKeyPair();
const providerKey = generateKeyPair();
const trust: TrustAnchor = { controllerPublicKey: controller.publicKeyPem, controllerKeyId: keyId(controller.publicKeyPem), providerId: 'prov-1' };
const NOW = new Date('2026-11-23T12:00:00.000Z');

const envelope = (): JobEnvelope => ({
  v: 1,
  jobId: 'job-1',
  functionId: 'fn-1',
  functionVersion: 1,
  developerId: 'dev-1',
  providerId: 'prov-1',
  image: `127.0.0.1:5000/chainfaas/sha256@sha256:${'a'.repeat(64)}`,
  protocol: 'stdio',
  network: 'none',
  resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 },
  env: { A: 'b' },
  input: { kind: 'inline', base64: 'aGk=' },
  resultPutUrl: 'http://127.0.0.1:9/result',
  logPutUrl: 'http://127.0.0.1:9/log',
  issuedAt: '2026-11-23T11:59:00.000Z',
  startBy: '2026-11-23T12:05:00.000Z',
  attempt: 1,
});

const report = (): RuntimeReport => ({
  v: 1,
  jobId: 'job-1',
  providerId: 'prov-1',
  attempt: 1,
  status: 'succeeded',
  exitCode: 0,
  runtimeMs: 120,
  resultSha256: 'b'.repeat(64),
  resultSize: 10,
  logSize: 0,
  startedAt: '2026-11-23T12:00:00.000Z',
  finishedAt: '2026-11-23T12:00:00.120Z',
});

const message = (env: unknown, key = controller, id = trust.controllerKeyId) =>
  JSON.stringify({ envelope: env, signature: signPayload(env, key.privateKeyPem), keyId: id });

/** Hostile JSON values: ordinary ones plus the keys and numbers that break naive parsers. */
const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', '\u0000', 'a'.repeat(300));
const hostileNumber = fc.constantFrom(-0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0.1, 1e-320, 2 ** 53);
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }),
    hostileNumber,
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), hostileKey), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Raw JSON text for the things JSON.stringify never writes: 1e309, own `__proto__`, deep nesting. */
const hostileText = fc.oneof(
  hostileJson.map((v) => JSON.stringify(v) ?? 'null'),
  fc.constantFrom(
    '1e309',
    '-1e309',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '['.repeat(100_000) + ']'.repeat(100_000),
    '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000),
    `"${'x'.repeat(2_000_000)}"`,
    '{"a":1,"a":2}',
    '\ufeff{}',
    '',
    'null',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

function noPollution(): void {
  const probe = {} as Record<string, unknown>;
  expect(probe.polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
}

/** Sets `path` (a list of keys) of a deep copy of `value` to `replacement`. */
function mutateAt(value: unknown, path: string[], replacement: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  let at: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  Object.defineProperty(at, path[path.length - 1], { value: replacement, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Every path of a JSON object's leaves and members. */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return [prefix, ...Object.keys(value).flatMap((k) => pathsOf((value as Record<string, unknown>)[k], [...prefix, k]))].filter((p) => p.length > 0);
}

describe('the job envelope gate (agent)', () => {
  test('the untouched signed envelope is accepted (the baseline of every property below)', () => {
    expect(verifyJobMessage(message(envelope()), trust, NOW)).toEqual({ ok: true, envelope: envelope() });
  });

  test('any message body gives a verdict and never throws', () => {
    fc.assert(
      fc.property(hostileText, (body) => {
        const verdict = verifyJobMessage(body, trust, NOW);
        expect(verdict.ok).toBe(false);
        noPollution();
      }),
      opts,
    );
  });

  test('a hostile envelope signed by the controller is still checked against the schema: refused, never thrown', () => {
    fc.assert(
      fc.property(hostileJson, (env) => {
        const verdict = verifyJobMessage(message(env), trust, NOW);
        expect(verdict.ok).toBe(false);
        if (!verdict.ok) expect(['malformed', 'invalid_envelope', 'bad_signature']).toContain(verdict.reason);
      }),
      opts,
    );
  });

  test('any change to a signed envelope (a member replaced, added or removed) is refused, and its signature no longer verifies', () => {
    const base = envelope();
    const paths = pathsOf(base);
    const signature = signPayload(base, controller.privateKeyPem);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ kind: fc.constant('replace' as const), path: fc.constantFrom(...paths), value: hostileJson }),
          fc.record({ kind: fc.constant('add' as const), path: fc.constantFrom(...paths), key: hostileKey, value: hostileJson }),
          fc.record({ kind: fc.constant('remove' as const), path: fc.constantFrom(...paths) }),
        ),
        (change) => {
          let mutated: unknown;
          if (change.kind === 'replace') mutated = mutateAt(base, change.path, change.value);
          else if (change.kind === 'add') mutated = mutateAt(base, [...change.path.slice(0, -1), change.key], change.value);
          else {
            mutated = JSON.parse(JSON.stringify(base));
            let at = mutated as Record<string, unknown>;
            for (const key of change.path.slice(0, -1)) at = at[key] as Record<string, unknown>;
            delete at[change.path[change.path.length - 1]];
          }
          // A replacement equal to the original (after JSON) is no change.
          fc.pre(JSON.stringify(mutated) !== JSON.stringify(base));
          // Sent as JSON text, exactly as an attacker on the queue would write it (own __proto__ kept).
          const body = `{"envelope":${rawJson(mutated)},"signature":${JSON.stringify(signature)},"keyId":${JSON.stringify(trust.controllerKeyId)}}`;
          const verdict = verifyJobMessage(body, trust, NOW);
          expect(verdict.ok).toBe(false);
          // And the signature alone already fails: no change survives canonicalisation.
          expect(verifyPayload((JSON.parse(body) as { envelope: unknown }).envelope, signature, controller.publicKeyPem)).toBe(false);
        },
      ),
      opts,
    );
  });

  test('a changed signature, another key or another key id is refused', () => {
    const body = JSON.parse(message(envelope())) as { envelope: unknown; signature: string; keyId: string };
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat({ max: 63 }), (junk, bit) => {
        const flipped = Buffer.from(body.signature, 'base64');
        flipped[bit % flipped.length] ^= 1 << (bit % 8);
        for (const candidate of [
          { ...body, signature: junk },
          { ...body, signature: flipped.toString('base64') },
          { ...body, keyId: junk.slice(0, 64) || 'x' },
        ]) {
          expect(verifyJobMessage(JSON.stringify(candidate), trust, NOW).ok).toBe(false);
        }
      }),
      opts,
    );
    expect(verifyJobMessage(message(envelope(), otherKey), trust, NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(verifyJobMessage(message(envelope(), otherKey, keyId(otherKey.publicKeyPem)), trust, NOW)).toMatchObject({ ok: false, reason: 'unknown_key' });
  });

  test('an own "__proto__" member is part of the signed bytes: adding one breaks the signature', () => {
    const signed = JSON.parse(message(envelope())) as { signature: string };
    const withProto = JSON.parse(`{"__proto__":{"providerId":"prov-2"},${JSON.stringify(envelope()).slice(1)}`) as object;
    expect(canonicalJson(withProto)).not.toBe(canonicalJson(envelope()));
    expect(verifyPayload(withProto, signed.signature, controller.publicKeyPem)).toBe(false);
    const body = `{"envelope":${rawJson(withProto)},"signature":"${signed.signature}","keyId":"${trust.controllerKeyId}"}`;
    expect(verifyJobMessage(body, trust, NOW)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });
});

describe('the run-time report parser (controller)', () => {
  /** The first steps of acceptReport: body, report, signature against the provider's key. */
  function readReport(body: unknown): RuntimeReport {
    const req = parse(ReportBody, body);
    const parsed = parse(RuntimeReport, req.report, 'report') as RuntimeReport;
    if (!verifyPayload(parsed, req.signature, providerKey.publicKeyPem)) throw new DomainError('forbidden', 'bad signature');
    return parsed;
  }
  const signedReport = (r: unknown = report()) => ({ report: r, signature: signPayload(r, providerKey.privateKeyPem) });

  test('the untouched signed report is read back as signed', () => {
    expect(readReport(signedReport())).toEqual(report());
  });

  test('any body throws only the typed errors (invalid_request naming a field, or forbidden)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          hostileJson,
          hostileJson.map((r) => ({ report: r, signature: 'x' })),
          hostileJson.map((r) => signedReport(r)),
        ),
        (body) => {
          try {
            readReport(body);
          } catch (err) {
            expect(err).toBeInstanceOf(DomainError);
            const e = err as DomainError;
            expect(['invalid_request', 'forbidden']).toContain(e.code);
            if (e.code === 'invalid_request') expect(e.field).toBeTruthy();
            return;
          }
          // Only a well-formed report signed by the provider's key may pass.
          expect(RuntimeReport.safeParse((body as { report: unknown }).report).success).toBe(true);
        },
      ),
      opts,
    );
    noPollution();
  });

  test('any change to a signed report is refused', () => {
    const base = report();
    const { signature } = signedReport(base);
    fc.assert(
      fc.property(fc.constantFrom(...pathsOf(base)), hostileJson, (path, value) => {
        const mutated = mutateAt(base, path, value);
        fc.pre(canonicalJson(mutated) !== canonicalJson(base));
        const body = JSON.parse(`{"report":${rawJson(mutated)},"signature":"${signature}"}`) as { report: unknown };
        expect(() => readReport(body)).toThrow(DomainError);
        expect(verifyPayload(body.report, signature, providerKey.publicKeyPem)).toBe(false);
      }),
      opts,
    );
  });

  test('numbers JSON cannot carry exactly are refused: 1e309 (Infinity), negative, fractional run times', () => {
    for (const runtimeMs of ['1e309', '-1', '1.5', '-1e309']) {
      const body = JSON.parse(`{"report":${JSON.stringify(report()).replace('"runtimeMs":120', `"runtimeMs":${runtimeMs}`)},"signature":"x"}`);
      expect(() => readReport(body)).toThrow(expect.objectContaining({ code: 'invalid_request', field: 'report.runtimeMs' }));
    }
  });
});

describe('the HTTP body parser (handler edge)', () => {
  // The edge in front of a real schema, exactly as every handler uses it.
  const handler = httpApi({
    'POST /functions': async (req) => json(201, parse(CreateFunctionBody, req.body)),
    'POST /echo': async (req) => json(200, { type: typeof req.body }),
  });
  const call = async (routeKey: string, body: string | undefined, headers: Record<string, string> = {}, isBase64Encoded = false) =>
    (await handler(
      {
        routeKey,
        body,
        headers: { 'content-type': 'application/json', ...headers },
        isBase64Encoded,
        requestContext: { requestId: 'r' },
      } as unknown as APIGatewayProxyEventV2,
      {} as Context,
    )) as APIGatewayProxyStructuredResultV2;

  test('any body gets a 2xx or a 4xx JSON problem naming the body or a field; never a 500; nothing polluted', async () => {
    await fc.assert(
      fc.asyncProperty(hostileText, async (text) => {
        const res = await call('POST /functions', text);
        const status = res.statusCode ?? 0;
        expect(status).toBeLessThan(500);
        const out = JSON.parse(res.body as string);
        if (status >= 400) {
          expect(status === 400 || status === 413).toBe(true);
          expect(out.error.code).toMatch(/^(invalid_request|payload_too_large)$/);
          expect(out.error.field).toBeTruthy();
          expect(out.error.message).toBeTruthy();
        }
        noPollution();
      }),
      { ...opts, numRuns: Math.max(50, Math.floor(RUNS / 3)) },
    );
  });

  test('invalid UTF-8 (base64-encoded bytes) is refused as JSON that does not parse or a field that does not validate', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const res = await call('POST /functions', Buffer.from(bytes).toString('base64'), {}, true);
        expect([400, 413]).toContain(res.statusCode);
        expect(JSON.parse(res.body as string).error.field).toBeTruthy();
      }),
      opts,
    );
  });

  test('bodies over the handler limit are 413 naming the body; deep nesting and __proto__ keys are 400', async () => {
    const big = await call('POST /echo', JSON.stringify({ a: 'x'.repeat(1024 * 1024) }));
    expect(big.statusCode).toBe(413);
    expect(JSON.parse(big.body as string).error).toMatchObject({ code: 'payload_too_large', field: '(body)' });

    const deep = await call('POST /functions', '['.repeat(200_000) + ']'.repeat(200_000));
    expect(deep.statusCode).toBe(400);
    expect(JSON.parse(deep.body as string).error).toMatchObject({ code: 'invalid_request', field: '(body)' });

    const valid = { name: 'f', image: `127.0.0.1:5000/chainfaas/sha256@sha256:${'a'.repeat(64)}`, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } };
    expect((await call('POST /functions', JSON.stringify(valid))).statusCode).toBe(201);
    const proto = await call('POST /functions', `{"__proto__":{"polluted":true},${JSON.stringify(valid).slice(1)}`);
    expect(proto.statusCode).toBe(400);
    expect(JSON.parse(proto.body as string).error.message).toMatch(/__proto__|Unrecognized/);
    noPollution();

    const wrongType = await call('POST /functions', '{"x":1}', { 'content-type': 'text/plain' });
    expect(wrongType.statusCode).toBe(400);
    expect(JSON.parse(wrongType.body as string).error.message).toMatch(/content-type/);
  });
});

test('the schemas refuse what the envelope and report must never carry, before any signature matters', () => {
  expect(SignedEnvelope.safeParse({ envelope: {}, signature: 'x'.repeat(201), keyId: 'k' }).success).toBe(false);
  expect(JobEnvelope.safeParse({ ...envelope(), resources: { vcpu: Infinity, memoryMb: 64, timeoutS: 10 } }).success).toBe(false);
  expect(JobEnvelope.safeParse({ ...envelope(), extra: 1 }).success).toBe(false);
  expect(RuntimeReport.safeParse({ ...report(), resultSize: -0.5 }).success).toBe(false);
});

/** JSON text of a value, keeping own `__proto__` members (JSON.stringify keeps them; this is for clarity). */
function rawJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}
