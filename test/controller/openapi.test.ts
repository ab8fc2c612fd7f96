import { ROUTES } from '../../lambdas/handlers/manifest';
import { openApiDocument } from '../../contract/src/openapi';
import { checkResponse, validate, type OpenApiDocument } from '../../lambdas/openapi/validate';

/**
 * The OpenAPI document against the manifest (the one list of routes) and the validator that the
 * HTTP tests use to check real responses (test/controller/http-api.test.ts, test/e2e/authz.test.ts).
 */
const doc = openApiDocument as unknown as OpenApiDocument;
const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
const manifest = ROUTES.map((r) => `${r.method} ${r.path}`);

test('every manifest route is documented, and the document has no route the manifest lacks', () => {
  expect(manifest.filter((r) => !documented.includes(r))).toEqual([]);
  expect(documented.filter((r) => !manifest.includes(r))).toEqual([]);
});

test('it is OpenAPI 3.1 and every $ref resolves', () => {
  expect(doc).toMatchObject({ openapi: '3.1.0', info: { title: expect.any(String), version: expect.any(String) } });
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([A-Za-z]+)"/g)].map((m) => m[1] as string);
  expect(refs.length).toBeGreaterThan(50);
  expect([...new Set(refs)].filter((name) => !(name in doc.components.schemas))).toEqual([]);
});

test('every operation documents its success, its error statuses and a JSON problem for anything else; path parameters match the template', () => {
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops) as [string, any][]) {
      const statuses = Object.keys(op.responses);
      expect({ route: `${method} ${path}`, ok: statuses.some((s) => /^2/.test(s)) }).toEqual({ route: `${method} ${path}`, ok: true });
      expect(op.responses.default.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
      for (const s of statuses.filter((s) => /^[45]/.test(s)))
        expect(op.responses[s].content['application/json'].schema.$ref).toBe('#/components/schemas/Problem');
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(op.parameters.filter((p: any) => p.in === 'path').map((p: any) => p.name)).toEqual(inPath);
      expect(typeof op.operationId).toBe('string');
    }
  }
  const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op: any) => op.operationId));
  expect(new Set(ids).size).toBe(ids.length);
});

test('the validator catches what it must: wrong types, missing and undocumented fields, bad enums and formats, undocumented statuses', () => {
  const job = {
    jobId: 'job_1',
    functionId: 'fn_1',
    functionVersion: 1,
    status: 'QUEUED',
    attempt: 1,
    timings: { createdAt: '2026-01-01T00:00:00.000Z', queuedAt: '2026-01-01T00:00:00.000Z' },
    input: { kind: 'inline', size: 0 },
  };
  expect(checkResponse(doc, 'GET', '/jobs/job_1', 200, job)).toEqual([]);
  const broken = (patch: Record<string, unknown>) => checkResponse(doc, 'GET', '/jobs/job_1', 200, { ...job, ...patch }).map((v) => v.message);
  expect(broken({ attempt: '1' })).toEqual(['is string, expected integer']);
  expect(broken({ status: 'DONE' })[0]).toMatch(/not one of/);
  expect(broken({ secret: 'x' })).toEqual(['has undocumented property secret']);
  expect(broken({ timings: { createdAt: 'yesterday', queuedAt: job.timings.queuedAt } })).toContain('is not a date-time');
  expect(broken({ exitCode: null })).toEqual([]);
  const { jobId: _omit, ...missing } = job;
  expect(checkResponse(doc, 'GET', '/jobs/job_1', 200, missing).map((v) => v.message)).toEqual(['missing required property jobId']);
  expect(checkResponse(doc, 'GET', '/jobs/job_1', 418, { error: { code: 'not_found', message: 'no such job' } })).toEqual([]);
  expect(checkResponse(doc, 'GET', '/jobs/job_1', 404, { error: { code: 'nope', message: 'x' } })[0]?.message).toMatch(/not one of/);
  expect(checkResponse(doc, 'PATCH', '/jobs/job_1', 200, {})[0]?.message).toMatch(/not documented/);
  expect(checkResponse(doc, 'GET', '/nowhere', 200, {})[0]?.message).toMatch(/no documented path/);
  expect(checkResponse(doc, 'DELETE', '/tokens/tok_1', 204, '')).toEqual([]);
  expect(validate(doc, { $ref: '#/components/schemas/Missing' }, {})[0]?.message).toMatch(/unknown \$ref/);
});
