import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ledger } from '../../lambdas/core/ledger';
import { rebuild, TRUST_AFTER, versionKey } from '../../lambdas/core/reputation';
import { compareSha256, generateKeyPair, sha256Hex, signPayload } from '../../contract/src';
import { Api, newUser } from '../support/api';
import { ScriptedProvider, startAgent, startTestPlatform, TestPlatform } from '../scheduling/support';

/**
 * Issue #19, end to end on the local platform (DynamoDB Local, fauxqs, the handlers behind the
 * local API, the reaper, the embedded ledger), with real provider agents running a real container
 * (the `sha256` example) beside hostile providers scripted through the same API and queues:
 * a provider that returns random bytes, one that claims the full timeout at once, and one owner
 * with two machines. Every provider fits one job at a time, so the test decides who can take what.
 */

let t: TestPlatform;
let ledger: Ledger;
const slot = { vcpu: 0.5, memoryMb: 64 };
const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 20 };
const replicate = { mode: 'replicate', k: 2, quorum: 2, maxReplicas: 3 };
const stopAgents: Array<() => Promise<void>> = [];
/** Scripted providers never heartbeat: after this they count offline and take no more jobs. */
const STALE_MS = 4000;

/** Retries `probe` until it stops throwing (its expectations hold), or throws its last error after `timeoutMs`. */
async function eventually<T>(probe: () => Promise<T>, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Lets every provider of an earlier test go stale, so each test decides who is online. */
const quiet = () => new Promise((r) => setTimeout(r, STALE_MS + 1000));

beforeAll(async () => {
  t = await startTestPlatform({ HEARTBEAT_INTERVAL_S: '1', LEASE_S: '6', HEARTBEAT_STALE_MS: String(STALE_MS) });
  const { ledgerFromEnv } = await import('../../lambdas/adapters/deps');
  ledger = await ledgerFromEnv();
}, 600_000);

afterEach(async () => {
  // Each test's agents stop with it (their last heartbeat says draining: offline for the next test).
  for (const stop of stopAgents.splice(0)) await stop().catch(() => undefined);
}, 120_000);

afterAll(async () => {
  await t?.stop();
}, 120_000);

async function honestAgent() {
  const a = await startAgent(t.api, slot);
  stopAgents.push(() => a.agent.stop({ force: true }));
  return a;
}

/** A developer with an async function (the `sha256` example unless `fn` names another) and its signup credit on the read model. */
async function developerWithFunction(verification: unknown = replicate, needs = resources, fn: { name: string; image: string } = { name: 'checked', image: t.platform.images.sha256 }) {
  const dev = (await newUser(t.api, ['developer'])).api;
  const created = await dev.post('/functions', { name: fn.name, image: fn.image, mode: 'async', resources: needs, verification });
  expect(created.status).toBe(201);
  // The signup credit reaches the read model through the ledger: wait for it, so balances compare.
  await eventually(async () => {
    await t.platform.flushLedger();
    expect((await dev.get('/account')).body.balance).toBeGreaterThan(0);
  }, 60_000);
  return { dev, functionId: created.body.functionId as string };
}

async function jobOf(dev: Api, jobId: string) {
  return (await dev.get(`/jobs/${jobId}`)).body;
}

/** Waits until the job is terminal, the ledger writer committed everything and the read model followed. */
async function settled(dev: Api, jobId: string) {
  await eventually(async () => expect(['SUCCEEDED', 'FAILED']).toContain((await jobOf(dev, jobId)).status), 120_000);
  return eventually(async () => {
    await t.platform.flushLedger();
    const job = await jobOf(dev, jobId);
    expect(job.cost).toBeDefined();
    return job;
  }, 60_000);
}

/** A replica's envelope reached `p`: its id. */
async function replicaAt(p: ScriptedProvider): Promise<string> {
  return eventually(async () => {
    await p.drain();
    const [key] = [...p.envelopes.keys()];
    expect(key).toBeDefined();
    return (key as string).split('#')[0] as string;
  }, 30_000);
}

test('registration: the policy is stored and shown, changeable with PUT; a bad policy is 400 naming the field', async () => {
  const { dev, functionId } = await developerWithFunction();
  const fn = (await dev.get(`/functions/${functionId}`)).body;
  expect(fn.verification).toEqual(replicate);
  const bad = await dev.post('/functions', { name: 'bad', image: t.platform.images.sha256, resources, verification: { mode: 'replicate', k: 2, quorum: 3 } });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toMatch(/quorum/);
  const k1 = await dev.post('/functions', { name: 'bad', image: t.platform.images.sha256, resources, verification: { mode: 'replicate', k: 1 } });
  expect(k1.status).toBe(400);
  expect(JSON.stringify(k1.body)).toMatch(/verification/);
  const put = await dev.put(`/functions/${functionId}`, { name: 'checked', image: t.platform.images.sha256, resources, verification: { mode: 'none' } });
  expect(put.status).toBe(200);
  expect(put.body).toMatchObject({ version: 2, verification: { mode: 'none' } });
}, 60_000);

test('a provider returning random bytes is outvoted: not paid, "disagreed" on the ledger; the honest pair is paid the median; the developer pays for agreed work only', async () => {
  await quiet();
  const honestA = await honestAgent();
  const liar = await ScriptedProvider.register(t.api, t.sqs, slot, 'liar');
  const { dev, functionId } = await developerWithFunction();
  const before = (await dev.get('/account')).body;
  const maxPrice = (await dev.get(`/functions/${functionId}`)).body.maxPrice as number;

  // Only two owners are online: the first round goes to the honest agent and the liar.
  const invoked = await dev.post(`/functions/${functionId}/invocations`, { input: 'verify me' });
  expect(invoked.status).toBe(202);
  const groupId = invoked.body.jobId as string;
  expect(invoked.body.verification).toMatchObject({ mode: 'replicate', k: 2, quorum: 2, decision: 'pending' });
  // The hold covers k × the worst case, before anything ran.
  const held = (await dev.get('/account')).body;
  expect(held.held - before.held).toBe(2 * maxPrice);
  const lieId = await replicaAt(liar);
  const lie = await liar.complete(lieId, 1, randomBytes(64));
  expect(lie.status).toBe(200);

  // 1 vs 1: no quorum yet; a third replica goes to a third owner once one is online.
  await eventually(async () => expect((await jobOf(dev, groupId)).verification.replicas).toHaveLength(3), 60_000);
  const honestB = await honestAgent();

  const job = await settled(dev, groupId);
  expect(job.status).toBe('SUCCEEDED');
  expect(job.verification.decision).toBe('agreed');
  const byProvider = Object.fromEntries(job.verification.replicas.map((r: { providerId: string }) => [r.providerId, r]));
  expect(byProvider[liar.providerId]).toMatchObject({ outcome: 'disagreed', paid: false, cost: 0 });
  expect(byProvider[honestA.providerId]).toMatchObject({ outcome: 'agreed', paid: true });
  expect(byProvider[honestB.providerId]).toMatchObject({ outcome: 'agreed', paid: true });
  // Both honest providers are paid the same (the median of their times); the job costs exactly their sum.
  expect(byProvider[honestA.providerId].cost).toBe(byProvider[honestB.providerId].cost);
  expect(job.cost).toBe(2 * byProvider[honestA.providerId].cost);
  // The result handed out is the agreed one (the container's own answer).
  const result = JSON.parse(Buffer.from(await (await fetch(job.resultUrl)).arrayBuffer()).toString('utf8'));
  expect(result.bytes).toBe(Buffer.byteLength('verify me'));

  // The ledger holds the decision, the hashes, who was paid, and the liar's raw outcome.
  const group = await ledger.getReplicaGroup!(groupId);
  expect(group).toMatchObject({ decision: 'agreed', agreedSha256: job.result.sha256, quorum: 2 });
  expect(group!.replicas.filter((r) => r.paid).map((r) => r.providerId).sort()).toEqual([honestA.providerId, honestB.providerId].sort());
  const liarOutcomes = await ledger.getProviderOutcomes!(liar.providerId);
  expect(liarOutcomes).toEqual([expect.objectContaining({ groupId, outcome: 'disagreed' })]);

  // Reputation: the liar's own view shows the disagreement (trust reset), the honest ones an agreement;
  // the stored fold is what the ledger's outcomes rebuild to.
  const liarView = (await (liar as unknown as { api: Api }).api.get(`/providers/${liar.providerId}`)).body;
  expect(liarView.reputation).toMatchObject({ agreed: 0, disagreed: 1, consecutiveValid: 0 });
  expect(liarView.reputation.score).toBeLessThan(0.5);
  const stored = await t.deps.providers.getProvider(honestA.providerId);
  expect(stored?.reputation).toMatchObject({ agreed: 1, disagreed: 0, consecutiveValid: 1 });
  const rebuilt = rebuild(await ledger.getProviderOutcomes!(honestA.providerId));
  expect({ ...rebuilt, suspendedUntil: undefined }).toEqual({ ...stored!.reputation, suspendedUntil: undefined });
  expect(rebuild(liarOutcomes)).toMatchObject({ disagreed: 1, consecutiveValid: 0 });

  // Reconciliation: the developer's balance fell by exactly the job's cost; every hold went back.
  const after = await eventually(async () => {
    const a = (await dev.get('/account')).body;
    expect(a.held).toBe(before.held);
    return a;
  }, 30_000);
  expect(before.balance - after.balance).toBe(job.cost);
  const reconciliation = (await dev.get('/account/reconciliation')).body;
  expect(reconciliation.differences).toEqual([]);
}, 600_000);

test('one owner with two machines never holds two replicas of a job, so its machines cannot confirm each other', async () => {
  await quiet();
  // Twins twice the size of every other provider, for a function only they fit: its waiting replica is no other test's.
  const big = { vcpu: 1, memoryMb: 128 };
  const twin1 = await ScriptedProvider.register(t.api, t.sqs, big, 'twin-1');
  const { dev, functionId } = await developerWithFunction({ mode: 'replicate', k: 2, quorum: 2, maxReplicas: 2 }, { ...big, timeoutS: 20 });
  // A second machine of the SAME owner (same user, a second provider), free and online.
  const twinUser = (twin1 as unknown as { api: Api }).api;
  const second = await twinUser.post('/providers', { name: 'twin-2', capacity: big, publicKey: generateKeyPair().publicKeyPem });
  expect(second.status).toBe(201);

  const invoked = await dev.post(`/functions/${functionId}/invocations`, { input: 'collude' });
  const groupId = invoked.body.jobId as string;
  const job = await eventually(async () => {
    const j = await jobOf(dev, groupId);
    expect(j.verification.replicas.filter((r: { status: string }) => r.status === 'ASSIGNED')).toHaveLength(1);
    return j;
  }, 30_000);
  const assigned = job.verification.replicas.map((r: { providerId?: string }) => r.providerId).filter(Boolean);
  expect(assigned).toHaveLength(1);
  expect(job.verification.replicas.map((r: { status: string }) => r.status).sort()).toEqual(['ASSIGNED', 'QUEUED']);
  // The machine holding the first replica keeps its lease; twin 2 beats (a heartbeat offers its free
  // capacity to waiting jobs, and the job fits it), yet the second replica waits: its owner holds the first.
  const holder = assigned[0] === twin1.providerId ? twin1 : undefined;
  const first = job.verification.replicas.find((r: { providerId?: string }) => r.providerId)!.jobId as string;
  if (holder) await holder.heartbeat([first]);
  else await twinUser.put(`/providers/${second.body.providerId}/heartbeat`, { runningJobs: [first] });
  const idle = holder ? second.body.providerId : twin1.providerId;
  expect((await twinUser.put(`/providers/${idle}/heartbeat`, { runningJobs: [] })).status).toBe(200);
  // Neither the job nor its waiting replica can be cancelled: it ends by its decision, which settles every replica.
  const queued = job.verification.replicas.find((r: { status: string }) => r.status === 'QUEUED').jobId as string;
  for (const id of [groupId, queued]) {
    const cancel = await dev.post(`/jobs/${id}/cancel`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.message).toMatch(/cannot be cancelled/);
  }
  const later = await jobOf(dev, groupId);
  expect(later.verification.replicas.filter((r: { providerId?: string }) => r.providerId).map((r: { providerId: string }) => r.providerId)).toEqual(assigned);
}, 120_000);

test('a provider claiming the full timeout at once is refused and never paid; its replica goes to another owner, and the honest pair is paid', async () => {
  await quiet();
  const honestA = await honestAgent();
  const greedy = await ScriptedProvider.register(t.api, t.sqs, slot, 'greedy');
  const { dev, functionId } = await developerWithFunction({ mode: 'replicate', k: 2, quorum: 2, maxReplicas: 2 });
  const before = (await dev.get('/account')).body;
  const invoked = await dev.post(`/functions/${functionId}/invocations`, { input: 'bill me' });
  const groupId = invoked.body.jobId as string;
  const greedyId = await replicaAt(greedy);
  const envelope = [...greedy.envelopes.values()][0]!;
  // The claim: the whole timeout, a moment after the job was assigned.
  const claimed = await greedyClaim(greedy, envelope.jobId, resources.timeoutS * 1000);
  expect(claimed.status).toBe(400);
  expect(JSON.stringify(claimed.body)).toMatch(/report\.runtimeMs/);
  // The greedy provider never renews the lease: the replica is taken back and runs on another owner.
  const honestB = await honestAgent();
  const job = await settled(dev, groupId);
  expect(job.status).toBe('SUCCEEDED');
  const paidTo = job.verification.replicas.filter((r: { paid?: boolean }) => r.paid).map((r: { providerId: string }) => r.providerId).sort();
  expect(paidTo).toEqual([honestA.providerId, honestB.providerId].sort());
  expect(paidTo).not.toContain(greedy.providerId);
  // Its replica was failed, not re-queued: `missed` is on the ledger against it and in its reputation.
  expect((await ledger.getProviderOutcomes!(greedy.providerId)).map((o) => o.outcome)).toEqual(['missed']);
  await eventually(async () => expect((await t.deps.providers.getProvider(greedy.providerId))?.reputation).toMatchObject({ missed: 1, agreed: 0 }), 30_000);
  const after = await eventually(async () => {
    const a = (await dev.get('/account')).body;
    expect(a.held).toBe(before.held);
    return a;
  }, 30_000);
  expect(before.balance - after.balance).toBe(job.cost);
  expect(greedyId).toBeDefined();
}, 600_000);

/** Uploads a plausible result and reports `runtimeMs` for it, signed by the scripted provider. */
async function greedyClaim(p: ScriptedProvider, jobId: string, runtimeMs: number) {
  const envelope = await p.envelope(jobId, 1);
  const result = Buffer.from('{"sha256":"0","bytes":7}');
  await fetch(envelope.resultPutUrl, { method: 'PUT', body: result });
  const now = new Date().toISOString();
  const report = {
    v: 1 as const,
    jobId,
    providerId: p.providerId,
    attempt: 1,
    status: 'succeeded' as const,
    exitCode: 0,
    runtimeMs,
    resultSha256: sha256Hex(result),
    resultSize: result.length,
    logSize: 0,
    startedAt: now,
    finishedAt: now,
  };
  const keys = (p as unknown as { keys: { privateKeyPem: string } }).keys;
  const api = (p as unknown as { api: Api }).api;
  return api.post(`/providers/${p.providerId}/reports`, { report, signature: signPayload(report, keys.privateKeyPem) });
}

test('spot-check: the controller draws which jobs are replicated (fraction 1: every one, checked and paid like replicate; fraction 0: none)', async () => {
  await quiet();
  const a = await honestAgent();
  const b = await honestAgent();
  const always = await developerWithFunction({ mode: 'spot-check', fraction: 1 });
  const checked = await always.dev.post(`/functions/${always.functionId}/invocations`, { input: 'check me' });
  expect(checked.body.verification).toMatchObject({ mode: 'spot-check', k: 2, quorum: 2, maxReplicas: 3 });
  const job = await settled(always.dev, checked.body.jobId);
  expect(job).toMatchObject({ status: 'SUCCEEDED', verification: { mode: 'spot-check', decision: 'agreed' } });
  expect(job.verification.replicas.map((r: { providerId: string }) => r.providerId).sort()).toEqual([a.providerId, b.providerId].sort());
  expect(job.verification.replicas.every((r: { paid: boolean }) => r.paid)).toBe(true);

  const never = await developerWithFunction({ mode: 'spot-check', fraction: 0 });
  const plain = await never.dev.post(`/functions/${never.functionId}/invocations`, { input: 'trust me' });
  const one = await settled(never.dev, plain.body.jobId);
  expect(one.status).toBe('SUCCEEDED');
  expect(one.verification).toBeUndefined();
  expect([a.providerId, b.providerId]).toContain(one.providerId);
}, 300_000);

test('#19 declared comparison: results that differ only in an ignored field agree on the canonical hash each provider signed; a hash that is not of the bytes is refused', async () => {
  await quiet();
  const honest = await honestAgent();
  const other = await ScriptedProvider.register(t.api, t.sqs, slot, 'timestamped');
  const compare = { canonicalJson: { ignore: ['/at'] } };
  const { dev, functionId } = await developerWithFunction({ mode: 'replicate', k: 2, quorum: 2, maxReplicas: 2, compare });
  expect((await dev.get(`/functions/${functionId}`)).body.verification).toMatchObject({ compare });

  const input = 'compare me';
  const invoked = await dev.post(`/functions/${functionId}/invocations`, { input });
  expect(invoked.status).toBe(202);
  const groupId = invoked.body.jobId as string;
  const replicaId = await replicaAt(other);
  // The rule travels in the signed envelope, so the agent signs the comparison hash with its report.
  expect((await other.envelope(replicaId, 1)).compare).toEqual(compare);

  // The same answer as the real container's, keys in another order, with a timestamp of its own.
  const result = Buffer.from(JSON.stringify({ words: 2, at: new Date().toISOString(), bytes: Buffer.byteLength(input), sha256: sha256Hex(input) }));
  const forged = await other.completeInline(replicaId, 1, result, undefined, { compareSha256: sha256Hex('something else') });
  expect(forged.status).toBe(400);
  expect(JSON.stringify(forged.body)).toMatch(/report\.compareSha256/);
  // The same for an uploaded result: the controller reads it back and hashes the bytes it will hand out.
  const forgedUpload = await other.complete(replicaId, 1, result, { compareSha256: compareSha256(compare, Buffer.from('{"words":3}')) });
  expect(forgedUpload.status).toBe(400);
  expect(JSON.stringify(forgedUpload.body)).toMatch(/report\.compareSha256/);
  const reported = await other.completeInline(replicaId, 1, result, undefined, { compareSha256: compareSha256(compare, result) });
  expect(reported.status).toBe(200);

  const job = await settled(dev, groupId);
  expect(job.status).toBe('SUCCEEDED');
  expect(job.verification.decision).toBe('agreed');
  const byProvider = Object.fromEntries(job.verification.replicas.map((r: { providerId: string }) => [r.providerId, r]));
  // The exact bytes differ; the canonical hashes the two providers signed agree, and both are paid.
  expect(byProvider[honest.providerId].resultSha256).not.toBe(byProvider[other.providerId].resultSha256);
  expect(byProvider[honest.providerId].compareSha256).toBe(job.verification.agreedSha256);
  expect(byProvider[other.providerId]).toMatchObject({ outcome: 'agreed', paid: true, compareSha256: job.verification.agreedSha256 });
  expect(byProvider[honest.providerId]).toMatchObject({ outcome: 'agreed', paid: true });
  const group = await ledger.getReplicaGroup!(groupId);
  expect(group).toMatchObject({ decision: 'agreed', agreedSha256: job.verification.agreedSha256 });
  expect(group!.replicas.every((r) => r.paid)).toBe(true);
}, 600_000);

/** A callback receiver on a free loopback port: what it received, in order. */
async function callbackReceiver() {
  const received: { body: Record<string, any>; headers: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ body: JSON.parse(body), headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/done`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('#19 respond first: the first result is handed out at once, unverified; a liar disagreeing overturns it: the job FAILS, nothing is charged, and a second callback says so', async () => {
  await quiet();
  const honest = await honestAgent();
  const liar = await ScriptedProvider.register(t.api, t.sqs, slot, 'late-liar');
  const { dev, functionId } = await developerWithFunction({ mode: 'replicate', k: 2, quorum: 2, maxReplicas: 2, respond: 'first' });
  const before = (await dev.get('/account')).body;
  const cb = await callbackReceiver();
  try {
    const invoked = await dev.post(`/functions/${functionId}/invocations`, { input: 'first please', callbackUrl: cb.url });
    expect(invoked.status).toBe(202);
    const groupId = invoked.body.jobId as string;
    const lieId = await replicaAt(liar);
    // The liar keeps its lease (it says it runs the replica) while the honest result goes out.
    const beat = setInterval(() => void liar.heartbeat([lieId]).catch(() => undefined), 1000).unref();

    // The honest agent's result comes first: the job SUCCEEDED with it, unverified, before any quorum.
    const early = await eventually(async () => {
      const j = await jobOf(dev, groupId);
      expect(j.status).toBe('SUCCEEDED');
      return j;
    }, 120_000);
    expect(early.verification).toMatchObject({ respond: 'first', decision: 'pending', verdict: 'unverified' });
    const honestReplica = early.verification.replicas.find((r: { providerId?: string }) => r.providerId === honest.providerId);
    expect(early.result.sha256).toBe(honestReplica.resultSha256);
    expect(JSON.parse(await (await fetch(early.resultUrl)).text()).bytes).toBe(Buffer.byteLength('first please'));
    // Its callback says so, while the liar still holds its replica.
    const first = await eventually(async () => {
      const c = cb.received.find((r) => r.body.event === 'job.finished');
      expect(c).toBeDefined();
      return c!;
    }, 60_000);
    expect(first.headers['x-chainfaas-delivery']).toBe(`${groupId}.1`);
    expect(first.body.job).toMatchObject({ status: 'SUCCEEDED', verification: { verdict: 'unverified' } });

    // The second replica disagrees: no quorum at maxReplicas 2, the unverified answer is overturned.
    clearInterval(beat);
    expect((await liar.complete(lieId, 1, randomBytes(64))).status).toBe(200);
    const job = await settled(dev, groupId);
    expect(job.status).toBe('FAILED');
    expect(job.verification).toMatchObject({ decision: 'no-quorum', verdict: 'overturned' });
    expect(job.reason).toMatch(/overturned.*nothing is charged/);
    expect(job.resultUrl).toBeUndefined();
    expect(job.result).toBeUndefined();
    expect(job.cost).toBe(0);
    expect(job.verification.replicas.every((r: { paid?: boolean }) => r.paid === false)).toBe(true);
    const verdict = await eventually(async () => {
      const c = cb.received.find((r) => r.body.event === 'job.verified');
      expect(c).toBeDefined();
      return c!;
    }, 60_000);
    expect(verdict.headers['x-chainfaas-delivery']).toBe(`${groupId}.verdict.1`);
    expect(verdict.headers['x-chainfaas-event']).toBe('job.verified');
    expect(verdict.body.job).toMatchObject({ status: 'FAILED', verification: { verdict: 'overturned' } });
    // The ledger holds the decision: nobody paid; the developer's balance is where it was.
    expect(await ledger.getReplicaGroup!(groupId)).toMatchObject({ decision: 'no-quorum' });
    const after = await eventually(async () => {
      const a = (await dev.get('/account')).body;
      expect(a.held).toBe(before.held);
      return a;
    }, 30_000);
    expect(after.balance).toBe(before.balance);
    expect((await dev.get(`/jobs/${groupId}`)).body.callback).toMatchObject({ event: 'job.verified', status: 'delivered' });
  } finally {
    await cb.close();
  }
}, 600_000);

test('#19 respond first: two honest agents: answered at once, then confirmed by the quorum; the caller gets both callbacks and pays the agreed work', async () => {
  await quiet();
  const a = await honestAgent();
  const b = await honestAgent();
  const { dev, functionId } = await developerWithFunction({ mode: 'replicate', k: 2, respond: 'first' });
  const before = (await dev.get('/account')).body;
  const cb = await callbackReceiver();
  try {
    const invoked = await dev.post(`/functions/${functionId}/invocations`, { input: 'confirm me', callbackUrl: cb.url });
    const groupId = invoked.body.jobId as string;
    const job = await settled(dev, groupId);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.verification).toMatchObject({ respond: 'first', decision: 'agreed', verdict: 'confirmed' });
    expect(job.verification.replicas.map((r: { providerId: string }) => r.providerId).sort()).toEqual([a.providerId, b.providerId].sort());
    expect(job.result.sha256).toBe(job.verification.agreedSha256);
    const events = await eventually(async () => {
      const mine = cb.received.map((r) => r.body.event);
      expect(mine).toEqual(['job.finished', 'job.verified']);
      return cb.received;
    }, 60_000);
    expect(events[1]!.body.job.verification.verdict).toBe('confirmed');
    const after = await eventually(async () => {
      const acc = (await dev.get('/account')).body;
      expect(acc.held).toBe(before.held);
      return acc;
    }, 30_000);
    expect(before.balance - after.balance).toBe(job.cost);
    expect(job.cost).toBeGreaterThan(0);
  } finally {
    await cb.close();
  }
}, 600_000);

/** A replicated sleep function (the agent's container sleeps `input` seconds): slow enough to stop an agent mid-job. */
const sleeper = (verification: Record<string, unknown>) => developerWithFunction(verification, resources, { name: 'sleeper', image: t.platform.images.sleep });

test('#19 a replica whose agent goes silent is replaced on another owner at once, not re-queued: the job is decided, the silent provider is not paid, and "missed" is on the ledger and in its reputation', async () => {
  await quiet();
  const silent = await honestAgent();
  const steady = await honestAgent();
  const { dev, functionId } = await sleeper({ mode: 'replicate', k: 2, maxReplicas: 2 });
  const before = (await dev.get('/account')).body;
  const invoked = await dev.post(`/functions/${functionId}/invocations`, { input: '4' });
  expect(invoked.status).toBe(202);
  const groupId = invoked.body.jobId as string;
  expect(invoked.body.verification.deadlineAt).toBeDefined();
  // Both replicas run (one on each owner); then one agent stops at once: no report, no more heartbeats.
  await eventually(async () => {
    const j = await jobOf(dev, groupId);
    expect(j.verification.replicas.map((r: { providerId?: string }) => r.providerId).sort()).toEqual([silent.providerId, steady.providerId].sort());
  }, 60_000);
  await silent.agent.stop({ force: true });
  stopAgents.splice(0, 1);
  const third = await honestAgent();

  const job = await settled(dev, groupId);
  expect(job.status).toBe('SUCCEEDED');
  expect(job.verification.decision).toBe('agreed');
  const byProvider = Object.fromEntries(job.verification.replicas.map((r: { providerId: string }) => [r.providerId, r]));
  // The replacement ran on the third owner (never on the steady one's, which held a sibling).
  expect(job.verification.replicas).toHaveLength(3);
  // A missed replica is never settled: no cost, not paid (the ledger's group below says paid: false).
  expect(byProvider[silent.providerId]).toMatchObject({ status: 'FAILED', outcome: 'missed' });
  expect(byProvider[silent.providerId].paid).not.toBe(true);
  expect(byProvider[steady.providerId]).toMatchObject({ outcome: 'agreed', paid: true });
  expect(byProvider[third.providerId]).toMatchObject({ outcome: 'agreed', paid: true });
  const missedReplica = await t.deps.jobs.getJob(byProvider[silent.providerId].jobId);
  expect(missedReplica?.reason).toMatch(/not re-queued: its job .* replaces it/);
  expect(missedReplica?.previousProviders).toBeUndefined();

  // The ledger records the miss against the silent provider; its stored reputation is that fold.
  const group = await ledger.getReplicaGroup!(groupId);
  expect(group!.replicas.find((r) => r.providerId === silent.providerId)).toMatchObject({ outcome: 'missed', paid: false });
  const outcomes = await ledger.getProviderOutcomes!(silent.providerId);
  expect(outcomes).toEqual([expect.objectContaining({ groupId, outcome: 'missed' })]);
  expect((await t.deps.providers.getProvider(silent.providerId))?.reputation).toMatchObject({ missed: 1, agreed: 0, disagreed: 0 });
  // The developer pays the two agreeing replicas, nothing for the missed one; every hold went back.
  const after = await eventually(async () => {
    const a = (await dev.get('/account')).body;
    expect(a.held).toBe(before.held);
    return a;
  }, 30_000);
  expect(before.balance - after.balance).toBe(job.cost);
  expect(job.cost).toBe(byProvider[steady.providerId].cost + byProvider[third.providerId].cost);
  expect(job.cost).toBeGreaterThan(0);
}, 600_000);

test('#19 extra: the first round starts k + extra replicas on distinct owners, so a silent one needs no replacement', async () => {
  await quiet();
  const silent = await honestAgent();
  const a = await honestAgent();
  const b = await honestAgent();
  const { dev, functionId } = await sleeper({ mode: 'replicate', k: 2, maxReplicas: 2, extra: 1 });
  const before = (await dev.get('/account')).body;
  const maxPrice = (await dev.get(`/functions/${functionId}`)).body.maxPrice as number;
  const invoked = await dev.post(`/functions/${functionId}/invocations`, { input: '4' });
  const groupId = invoked.body.jobId as string;
  expect(invoked.body.verification).toMatchObject({ k: 2, extra: 1 });
  expect((await dev.get('/account')).body.held - before.held).toBe(3 * maxPrice);
  await eventually(async () => {
    const j = await jobOf(dev, groupId);
    expect(j.verification.replicas.map((r: { providerId?: string }) => r.providerId).sort()).toEqual([silent.providerId, a.providerId, b.providerId].sort());
  }, 60_000);
  await silent.agent.stop({ force: true });
  stopAgents.splice(0, 1);
  const job = await settled(dev, groupId);
  expect(job).toMatchObject({ status: 'SUCCEEDED', verification: { decision: 'agreed' } });
  expect(job.verification.replicas).toHaveLength(3);
  const missed = job.verification.replicas.find((r: { providerId: string }) => r.providerId === silent.providerId);
  expect(missed).toMatchObject({ outcome: 'missed' });
  expect(missed.paid).not.toBe(true);
  expect(job.verification.replicas.filter((r: { paid: boolean }) => r.paid)).toHaveLength(2);
}, 600_000);

test('#19 adaptive: after TRUST_AFTER checked agreements on a function version, most jobs run alone on the trusted provider (unchecked, paid, no trust earned); the overhead falls to about 1/CV', async () => {
  await quiet();
  const a = await honestAgent();
  const b = await honestAgent();
  const { dev, functionId } = await developerWithFunction({ mode: 'replicate', k: 2, adaptive: true });
  const ended = async (jobId: string) =>
    eventually(async () => {
      const j = await jobOf(dev, jobId);
      expect(j.verification.decision).not.toBe('pending');
      return j;
    }, 120_000);
  // Untrusted: every job is checked on both owners, and each agreement counts on this function version.
  for (let i = 0; i < TRUST_AFTER; i++) {
    const j = await ended((await dev.post(`/functions/${functionId}/invocations`, { input: `warm ${i}` })).body.jobId);
    expect(j.verification.replicas).toHaveLength(2);
    expect(j.verification.trusted).toBeUndefined();
  }
  const version = versionKey(functionId, 1);
  // The reputation is folded just after the decision shows.
  for (const p of [a, b]) {
    await eventually(async () => expect((await t.deps.providers.getProvider(p.providerId))?.reputation?.validByVersion).toEqual({ [version]: TRUST_AFTER }), 30_000);
  }

  // Trusted: each job is checked with chance 1/CV (CV = checked agreements in a row, 10 and up).
  const jobs = 20;
  const seen = [];
  for (let i = 0; i < jobs; i++) seen.push(await ended((await dev.post(`/functions/${functionId}/invocations`, { input: `trusted ${i}` })).body.jobId));
  const alone = seen.filter((j) => j.verification.trusted !== undefined);
  const replicas = seen.reduce((n, j) => n + j.verification.replicas.length, 0);
  console.log(`adaptive replication on the local platform: ${jobs} jobs after trust, ${alone.length} ran alone, ${replicas} replicas: overhead ${(((replicas - jobs) / jobs) * 100).toFixed(0)}%`);
  expect(alone.length).toBeGreaterThanOrEqual(10);
  const one = alone[0];
  expect(one).toMatchObject({ status: 'SUCCEEDED', verification: { decision: 'agreed' } });
  expect(one.verification.replicas).toEqual([expect.objectContaining({ outcome: 'unchecked', providerId: one.verification.trusted.providerId })]);
  expect(one.verification.trusted.validRuns).toBeGreaterThanOrEqual(TRUST_AFTER);
  // Settled like any job: the lone replica is paid, the developer charged for it alone.
  const settledOne = await settled(dev, one.jobId);
  expect(settledOne.verification.replicas[0]).toMatchObject({ paid: true });
  expect(settledOne.cost).toBe(settledOne.verification.replicas[0].cost);
  // On the ledger: a group of one decided with quorum 1, the outcome `unchecked` (so anyone sees which results were never checked).
  expect(await ledger.getReplicaGroup!(one.jobId)).toMatchObject({ quorum: 1, decision: 'agreed', replicas: [expect.objectContaining({ outcome: 'unchecked', paid: true })] });
  const trustedId = one.verification.trusted.providerId as string;
  const outcomes = await ledger.getProviderOutcomes!(trustedId);
  expect(outcomes.filter((o) => o.outcome === 'unchecked').length).toBe(alone.filter((j) => j.verification.trusted.providerId === trustedId).length);
  // The stored fold (unchecked results add no trust) is what the ledger's outcomes rebuild to.
  const stored = (await t.deps.providers.getProvider(trustedId))?.reputation;
  expect({ ...rebuild(outcomes), suspendedUntil: undefined }).toEqual({ ...stored, suspendedUntil: undefined });
  expect(stored?.validByVersion?.[version]).toBe(TRUST_AFTER + seen.filter((j) => !j.verification.trusted && j.verification.replicas.some((r: { providerId: string }) => r.providerId === trustedId)).length);
}, 900_000);
