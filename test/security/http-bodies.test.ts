import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIMITS } from '../../contract/src';
import { ROUTES } from '../../lambdas/handlers/manifest';
import { API_GATEWAY_MAX_BODY_BYTES } from '../../local/api-server';
import { Platform, startPlatform } from '../../local/platform';
import { Api, newUser } from '../support/api';

/**
 * Oversized, deeply nested and malformed bodies over HTTP against the running local platform.
 * Two limits, as in AWS: API Gateway refuses bodies over 10 MB before any Lambda runs (the local
 * server does the same, `local/api-server.ts#API_GATEWAY_MAX_BODY_BYTES`); the handlers' body
 * parser refuses bodies over 1 MiB (`LIMITS.maxBodyBytes`, `lambdas/handlers/http.ts`). Every
 * refusal is a 4xx JSON problem naming the problem, and nothing is written.
 */

let platform: Platform;
let dev: Api;
let token: string;
const image = `127.0.0.1:5000/chainfaas/sha256@sha256:${'a'.repeat(64)}`;
const valid = { name: 'ok', image, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } };

beforeAll(async () => {
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-bodies-')), provider: false, images: false, log: () => undefined });
  const user = await newUser(new Api(platform.apiUrl), ['developer']);
  dev = user.api;
  token = (dev as unknown as { token: string }).token;
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

/** POSTs raw bytes (fetch would re-encode a string as UTF-8; invalid UTF-8 must reach the server as is). */
function post(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const url = new URL(path, platform.apiUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(body.length), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    // The server may answer 413 and close before it has read everything: that answer is what counts.
    req.on('error', reject);
    req.end(body);
  });
}

const functionCount = async () => ((await dev.get('/functions')).body.items as unknown[]).length;

test("a body over the handler limit (1 MiB) is 413 naming the body; over API Gateway's 10 MB, 413 before any handler", async () => {
  const before = await functionCount();
  const twoMb = await post('/functions', Buffer.from(JSON.stringify({ ...valid, name: 'x'.repeat(2 * 1024 * 1024) })));
  expect(twoMb.status).toBe(413);
  expect(twoMb.body.error).toMatchObject({ code: 'payload_too_large', field: '(body)', message: expect.stringContaining(String(LIMITS.maxBodyBytes)) });

  const elevenMb = await post('/functions', Buffer.alloc(API_GATEWAY_MAX_BODY_BYTES + 1024 * 1024, 0x20));
  expect(elevenMb.status).toBe(413);
  expect(elevenMb.body.error).toMatchObject({ code: 'payload_too_large', message: expect.stringContaining("API Gateway's limit") });
  expect(await functionCount()).toBe(before);
});

test('deeply nested JSON is 400 naming the body or the field it sits in; the server stays up', async () => {
  const before = await functionCount();
  const depth = 100_000;
  const nested = await post('/functions', Buffer.from('['.repeat(depth) + ']'.repeat(depth)));
  expect(nested.status).toBe(400);
  expect(nested.body.error).toMatchObject({ code: 'invalid_request', field: '(body)' });

  const inField = await post(
    '/functions',
    Buffer.from(`{"name":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)},"image":"${image}","resources":{"vcpu":1,"memoryMb":64,"timeoutS":1}}`),
  );
  expect(inField.status).toBe(400);
  expect(inField.body.error).toMatchObject({ code: 'invalid_request', field: 'name' });
  expect((await dev.get('/me')).status).toBe(200);
  expect(await functionCount()).toBe(before);
});

test.each([
  ['truncated JSON', '(body)', '{"name":"ok","image":', /not valid JSON/],
  ['a lone surrogate escape', 'name', `{"name":"\\ud800","image":"${image}"}`, undefined],
  [
    // Refused whole at the edge, never repaired into U+FFFD (#18 item 3).
    'invalid UTF-8 bytes in a string',
    '(body)',
    Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(`","image":"${image}"}`)]),
    /^the body is not valid UTF-8$/,
  ],
  ['1e309 (Infinity) as vcpu', 'resources.vcpu', `{"name":"ok","image":"${image}","resources":{"vcpu":1e309,"memoryMb":64,"timeoutS":10}}`, undefined],
  ['-0 as timeoutS', 'resources.timeoutS', `{"name":"ok","image":"${image}","resources":{"vcpu":1,"memoryMb":64,"timeoutS":-0}}`, undefined],
  ['a wrong type', 'name', `{"name":["ok"],"image":"${image}","resources":{"vcpu":1,"memoryMb":64,"timeoutS":10}}`, undefined],
  [
    'a __proto__ member',
    '(body)',
    `{"__proto__":{"polluted":true},"name":"ok","image":"${image}","resources":{"vcpu":1,"memoryMb":64,"timeoutS":10}}`,
    /__proto__/,
  ],
  [
    'a constructor.prototype member',
    '(body)',
    `{"constructor":{"prototype":{"polluted":true}},"name":"ok","image":"${image}","resources":{"vcpu":1,"memoryMb":64,"timeoutS":10}}`,
    /constructor/,
  ],
  ['a NUL byte in a name', 'name', `{"name":"a\\u0000b","image":"${image}","resources":{"vcpu":1,"memoryMb":64,"timeoutS":10}}`, undefined],
  ['a 900 kB string', 'name', `{"name":"${'x'.repeat(900_000)}","image":"${image}","resources":{"vcpu":1,"memoryMb":64,"timeoutS":10}}`, undefined],
  ['a JSON array', '(body)', '[1,2,3]', undefined],
] as Array<[string, string, string | Buffer, RegExp | undefined]>)(
  '%s is 400 naming %s; nothing written, nothing polluted',
  async (_name, field, body, message) => {
    const before = await functionCount();
    const res = await post('/functions', Buffer.isBuffer(body) ? body : Buffer.from(body));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field });
    if (message) expect(res.body.error.message).toMatch(message);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await functionCount()).toBe(before);
  },
);

test('a body that is not declared as JSON is 400 naming the content type', async () => {
  const res = await post('/functions', Buffer.from(JSON.stringify(valid)), { 'content-type': 'text/plain' });
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ code: 'invalid_request', field: '(body)', message: expect.stringMatching(/content-type/) });
});

test('a JSON null where an optional body may be left out is 400, not taken as "no body" (found by schemathesis)', async () => {
  const fn = await dev.post('/functions', valid);
  expect(fn.status).toBe(201);
  const tokens = (await dev.get('/tokens')).body.items.length as number;
  for (const path of ['/tokens', `/functions/${fn.body.functionId}/keys`, `/functions/${fn.body.functionId}/invocations`]) {
    const res = await post(path, Buffer.from('null'));
    expect({ path, status: res.status }).toEqual({ path, status: 400 });
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: '(body)' });
  }
  expect((await dev.get('/tokens')).body.items.length).toBe(tokens);
  expect((await dev.get(`/functions/${fn.body.functionId}/keys`)).body.items).toEqual([]);
  // Left out entirely, the body takes its defaults.
  expect((await post('/tokens', Buffer.alloc(0))).status).toBe(201);
});

test('path ids far beyond any id the platform mints (3000 characters, odd bytes) are 4xx on every route, never a 500', async () => {
  const answers: Array<{ route: string; id: string; status: number }> = [];
  for (const route of ROUTES.filter((r) => r.path.includes('{'))) {
    for (const id of ['x'.repeat(3000), '%00', '..%2F..%2Fetc', encodeURIComponent('é'.repeat(600))]) {
      const path = route.path.replace(/\{[A-Za-z]+\}/g, id);
      const res = await dev.call(route.method, path, route.method === 'POST' || route.method === 'PUT' ? {} : undefined);
      answers.push({ route: `${route.method} ${route.path}`, id: id.slice(0, 12), status: res.status });
    }
  }
  expect(answers.filter((a) => a.status >= 500)).toEqual([]);
  expect(answers.length).toBeGreaterThan(40);
});
