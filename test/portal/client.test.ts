import { createServer, Server } from 'node:http';
import { ApiClient, ApiError, describeError } from '../../portal/src/client';
import { credits, parseCredits } from '../../portal/src/format';

/**
 * The API client the portal and the CLI share: every problem the API can return becomes one
 * sentence that says what happened and what to do; money is printed and parsed without floats.
 */

const problem = (status: number, error: Record<string, unknown>) => new ApiError(status, { code: 'x', message: 'x', ...error } as any);

test.each([
  [problem(0, { code: 'network', message: 'http://127.0.0.1:9 did not answer (ECONNREFUSED)' }), 'Cannot reach the ChainFaaS API: http://127.0.0.1:9 did not answer (ECONNREFUSED). Check your network connection and the API address.'],
  [problem(400, { code: 'invalid_request', field: 'resources.memoryMb', message: 'resources.memoryMb: Number must be greater than or equal to 16' }), 'Memory (MB): Number must be greater than or equal to 16.'],
  [problem(400, { code: 'invalid_request', field: 'env.1BAD', message: 'environment variable names must be shell identifiers' }), 'Environment variable 1BAD: environment variable names must be shell identifiers.'],
  [problem(400, { code: 'invalid_request', field: '(body)', message: 'the body is not valid JSON: Unexpected end of JSON input' }), 'The request was refused: the body is not valid JSON: Unexpected end of JSON input.'],
  [problem(401, { code: 'unauthenticated', message: 'email or password is wrong' }), 'Email or password is wrong.'],
  [problem(401, { code: 'unauthenticated', message: 'the token is unknown, revoked or expired' }), 'You are not logged in, or your session has expired (the token is unknown, revoked or expired). Log in again.'],
  [problem(402, { code: 'insufficient_funds', message: 'available 5 micro-credits, the job may cost 690' }), "Not enough credit (402): available 5 micro-credits, the job may cost 690. Top up your account on the Account page (or with chainfaas top-up), or lower the function's price cap."],
  [problem(402, { code: 'insufficient_funds', field: 'amount', status: 'declined', message: 'the payment was declined: card expired' }), 'The payment was declined: card expired. Nothing was charged; try another amount or payment method.'],
  [problem(403, { code: 'forbidden', message: 'only developers may register functions' }), 'Not allowed: only developers may register functions.'],
  [problem(404, { code: 'not_found', message: 'job job_x does not exist' }), 'Not found: job job_x does not exist.'],
  [problem(404, { code: 'not_found', message: 'function fn_x was deleted at 2026-11-23T20:00:00.000Z', deleted: true }), 'Function fn_x was deleted at 2026-11-23T20:00:00.000Z: it can no longer be invoked.'],
  [problem(409, { code: 'conflict', message: 'job job_x is ASSIGNED: only a QUEUED job can be cancelled' }), 'Conflict (409): job job_x is ASSIGNED: only a QUEUED job can be cancelled. Nothing was changed.'],
  [problem(400, { code: 'invalid_request', field: 'amount', message: 'amount: Number must be greater than 0' }), 'Amount: Number must be greater than 0.'],
  [problem(413, { code: 'payload_too_large', message: 'the request body is larger than 1048576 bytes' }), 'Too large: the request body is larger than 1048576 bytes.'],
  [problem(429, { code: 'too_many_requests', message: 'you have 100 jobs waiting', retryAfterS: 5 }), 'Too many requests (429): the platform is limiting how fast you can call it (you have 100 jobs waiting). Try again in 5 s.'],
  [problem(503, { code: 'no_capacity', message: 'no provider can fit 8 vCPU', retryAfterS: 10 }), 'No provider has room for this job right now: no provider can fit 8 vCPU. Try again in 10 s.'],
  [problem(503, { code: 'unavailable', message: 'the ledger is not reachable' }), 'The platform is unavailable: the ledger is not reachable. Try again later.'],
  [problem(500, { code: 'internal', message: 'internal error', requestId: 'req-1' }), 'The platform failed on its side (HTTP 500, request id req-1). Try again; if it keeps failing, report the request id.'],
  // #22: a validator's wording is said in words; a refused invoke key is not a lost login.
  [problem(400, { code: 'invalid_request', field: 'name', message: 'name: String must contain at least 1 character(s)' }), 'Name: must not be empty.'],
  [problem(400, { code: 'invalid_request', field: 'endpoint', message: 'endpoint: Too small: expected string to have >=1 characters' }), 'Endpoint: must not be empty.'],
  [problem(400, { code: 'invalid_request', field: 'signCsr', message: 'signCsr: Invalid input: expected string, received undefined' }), 'Signing CSR: is required.'],
  [problem(401, { code: 'unauthenticated', message: 'the token is unknown, revoked or expired', credential: 'invoke-key' }), "The invoke key was refused (the token is unknown, revoked or expired). Check the key, or ask the function's owner for a new one."],
])('describeError(%#)', (err, sentence) => {
  expect(describeError(err)).toBe(sentence);
});

describe('ApiClient against a server', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/plain') {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>Bad Gateway</html>');
      } else if (req.url === '/busy') {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '7' });
        res.end(JSON.stringify({ error: { code: 'no_capacity', message: 'full' } }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ auth: req.headers.authorization ?? null, url: req.url }));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('sends the bearer token and the query, strips the trailing slash of the base URL', async () => {
    const body = await new ApiClient(url, 'cf_abc').get<{ auth: string; url: string }>('/jobs', { status: 'FAILED,CANCELLED', functionId: undefined, limit: 5 });
    expect(body).toEqual({ auth: 'Bearer cf_abc', url: '/jobs?status=FAILED%2CCANCELLED&limit=5' });
  });

  test('a non-JSON error page and a Retry-After header still give a problem', async () => {
    const plain = await new ApiClient(url).get('/plain').catch((e) => e);
    expect(plain).toBeInstanceOf(ApiError);
    expect(describeError(plain)).toBe('The platform failed on its side (HTTP 502). Try again; if it keeps failing, report the request id.');
    expect(describeError(await new ApiClient(url).get('/busy').catch((e) => e))).toBe('No provider has room for this job right now: full. Try again in 7 s.');
  });

  test('an unreachable API is a network problem (status 0), not a crash', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = (await new ApiClient(`http://127.0.0.1:${port}`).get('/me').catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
    expect(describeError(err)).toBe(`Cannot reach the ChainFaaS API: http://127.0.0.1:${port} did not answer (ECONNREFUSED). Check your network connection and the API address.`);
  });
});

test('credits are printed and parsed exactly (integer micro-credits, no floats)', () => {
  expect(credits(100_000_000)).toBe('100.000000');
  expect(credits(759)).toBe('0.000759');
  expect(credits(-5)).toBe('-0.000005');
  expect(credits(1_234_567_890_123)).toBe('1,234,567.890123');
  expect(parseCredits('0.1')).toBe(100_000);
  expect(parseCredits('0.000001')).toBe(1);
  expect(parseCredits('12')).toBe(12_000_000);
  expect(parseCredits('1.0000001')).toBeUndefined();
  expect(parseCredits('-1')).toBeUndefined();
  expect(parseCredits('1e3')).toBeUndefined();
  // 0.1 + 0.2 would be 300000.00000000006 with floats.
  expect((parseCredits('0.1') as number) + (parseCredits('0.2') as number)).toBe(parseCredits('0.3'));
});
