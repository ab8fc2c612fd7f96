import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { LambdaHandler } from '../../local/api-server';
import { ENV, type HandlerName } from '../../lambdas/handlers/manifest';
import { CheckedApi, newCheckedUser } from '../support/checked-api';
import { Controller, startController } from './harness';

/**
 * Issue #20: the platform's first operator without a redeploy. The deploy generates a one-time
 * claim token (AWS: a secret; here, as in local mode: a file), and `POST /operator/claim` with it
 * grants the operator right to the calling account once: atomically (of concurrent claims one
 * wins), a second claim refused, the token useless after. Over HTTP through the real accounts and
 * operator handlers against DynamoDB Local and fauxqs, every answer checked against the contract.
 */
const TOKEN = 'claim-9f2c1b7e4d3a5c6b8e0f1a2b3c4d5e6f';
let c: Controller;
let server: Server;
let api: CheckedApi;
let usersTable: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chainfaas-claim-'));
  const claimFile = join(dir, 'operator-claim-token');
  writeFileSync(claimFile, `${TOKEN}\n`, { mode: 0o600 });
  c = await startController({ [ENV.operatorClaim.file]: claimFile, [ENV.operatorUserIds]: '' });
  usersTable = c.env[ENV.tables.users] as string;
  const { startApiServer } = await import('../../local/api-server');
  const handlers = {
    accounts: (await import('../../lambdas/handlers/accounts')).handler as unknown as LambdaHandler,
    operator: (await import('../../lambdas/handlers/operator')).handler as unknown as LambdaHandler,
  } as Record<HandlerName, LambdaHandler | undefined>;
  const started = await startApiServer(0, handlers);
  server = started.server;
  api = new CheckedApi(started.url);
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await c?.stop();
}, 60_000);

const claimItem = async () => {
  const { dynamo } = await import('../../lambdas/adapters/clients');
  return (await dynamo.send(new GetCommand({ TableName: usersTable, Key: { userId: 'operator#claim' }, ConsistentRead: true }))).Item;
};

test('the claim token grants the operator right once: a wrong token writes nothing, concurrent claims have one winner, the token is useless after', async () => {
  const [a, b, late] = await Promise.all([newCheckedUser(api, ['developer']), newCheckedUser(api, ['provider']), newCheckedUser(api, ['developer'])]);

  // Not an operator yet: the operator routes refuse.
  expect((await a.api.get('/operator/dlq')).status).toBe(403);
  // Without credentials: 401; bad input: 400 naming the field; a wrong token: 403 naming the field, and nothing is written.
  expect((await api.post('/operator/claim', { claimToken: TOKEN })).status).toBe(401);
  const missing = await a.api.post('/operator/claim', {});
  expect([missing.status, missing.body.error.field]).toEqual([400, 'claimToken']);
  const extra = await a.api.post('/operator/claim', { claimToken: TOKEN, userId: b.userId });
  expect(extra.status).toBe(400);
  const wrong = await a.api.post('/operator/claim', { claimToken: `${TOKEN}x` });
  expect([wrong.status, wrong.body.error.field]).toEqual([403, 'claimToken']);
  expect(await claimItem()).toBeUndefined();
  expect((await a.api.get('/me')).body.operator).toBeUndefined();

  // Two accounts claim at once with the right token: exactly one wins, the other is told it is claimed.
  const [ra, rb] = await Promise.all([a.api.post('/operator/claim', { claimToken: TOKEN }), b.api.post('/operator/claim', { claimToken: TOKEN })]);
  expect([ra.status, rb.status].sort()).toEqual([200, 409]);
  const [winner, loser] = ra.status === 200 ? [a, b] : [b, a];
  const won = ra.status === 200 ? ra : rb;
  expect(won.body).toEqual({ userId: winner.userId, operator: true, claimedAt: expect.any(String) });
  expect(await claimItem()).toMatchObject({ claimedBy: winner.userId, claimedAt: won.body.claimedAt });

  // The winner is the operator (GET /me says so, the operator routes answer); the loser is not.
  expect((await winner.api.get('/me')).body.operator).toBe(true);
  expect((await winner.api.get('/operator/dlq')).status).toBe(200);
  expect((await loser.api.get('/operator/dlq')).status).toBe(403);
  expect((await loser.api.get('/me')).body.operator).toBeUndefined();

  // The token is used up: a later account, or the winner again, gets 409 and nothing changes.
  const again = await late.api.post('/operator/claim', { claimToken: TOKEN });
  expect(again.status).toBe(409);
  expect(again.body.error.message).toMatch(/claimed already/);
  expect((await winner.api.post('/operator/claim', { claimToken: TOKEN })).status).toBe(409);
  expect((await late.api.get('/operator/dlq')).status).toBe(403);
  expect(await claimItem()).toMatchObject({ claimedBy: winner.userId });

  // The claim's record is not an account: nobody can sign in as it or read it as a user.
  expect(await c.deps.accounts.getUser('operator#claim')).toBeUndefined();
  expect(api.violations).toEqual([]);
}, 120_000);
