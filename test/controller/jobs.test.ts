import type { JobRecord, User } from '../../lambdas/core/model';
import type * as Functions from '../../lambdas/core/use-cases/functions';
import type * as Jobs from '../../lambdas/core/use-cases/jobs';
import { Controller, definition, rejects, startController, writeJob } from './harness';

/**
 * Jobs against DynamoDB Local: the task page's search (function, status, time range, pages that
 * never skip or repeat a job), the job view (timings, provider, run time, cost, links), cancel.
 */
let c: Controller;
let functions: typeof Functions;
let jobs: typeof Jobs;

beforeAll(async () => {
  c = await startController();
  functions = await import('../../lambdas/core/use-cases/functions');
  jobs = await import('../../lambdas/core/use-cases/jobs');
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

/** Writes a job directly (as the invocation would), at a chosen creation time and status. */
function job(user: User, functionId: string, createdAt: string, status: JobRecord['status'] = 'QUEUED', extra: Partial<JobRecord> = {}): Promise<JobRecord> {
  const jobId = `job_${Math.random().toString(36).slice(2, 12)}${Date.now().toString(36)}`.replace(/[^A-Za-z0-9_]/g, 'x');
  return writeJob(c, { jobId, user, functionId, status, createdAt }, extra);
}

describe('search', () => {
  let user: User;
  let fnA: string;
  let fnB: string;
  const all: JobRecord[] = [];
  const t = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();

  beforeAll(async () => {
    user = (await c.newUser()).user;
    fnA = (await functions.createFunction(c.deps, user, definition({ name: 'a' }))).functionId;
    fnB = (await functions.createFunction(c.deps, user, definition({ name: 'b' }))).functionId;
    const statuses: JobRecord['status'][] = ['QUEUED', 'ASSIGNED', 'SUCCEEDED', 'FAILED'];
    for (let i = 0; i < 30; i++) all.push(await job(user, i % 3 === 0 ? fnB : fnA, t(i), statuses[i % 4]));
    // Another developer's jobs never appear.
    const other = (await c.newUser()).user;
    for (let i = 0; i < 5; i++) await job(other, fnA, t(i));
  });

  const ids = (jobsOut: { jobId: string }[]) => jobsOut.map((j) => j.jobId);
  const newestFirst = (list: JobRecord[]) => [...list].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((j) => j.jobId);

  async function everyPage(query: Record<string, string>) {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await jobs.searchJobs(c.deps, user, { ...query, ...(cursor ? { cursor } : {}) });
      seen.push(...ids(page.items));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 50);
    return { seen, pages };
  }

  test('newest first, paginated with a cursor: every job exactly once, none of another developer', async () => {
    const first = await jobs.searchJobs(c.deps, user, { limit: '7' });
    expect(first.items).toHaveLength(7);
    expect(first.next).toEqual(expect.any(String));
    const { seen, pages } = await everyPage({ limit: '7' });
    expect(seen).toEqual(newestFirst(all));
    expect(pages).toBe(5);
  });

  test('filters by function, by one or several statuses and by creation time, together, across pages', async () => {
    expect((await everyPage({ functionId: fnB, limit: '4' })).seen).toEqual(newestFirst(all.filter((j) => j.functionId === fnB)));
    expect((await everyPage({ status: 'SUCCEEDED', limit: '3' })).seen).toEqual(newestFirst(all.filter((j) => j.status === 'SUCCEEDED')));
    expect((await everyPage({ status: 'QUEUED,FAILED' })).seen).toEqual(newestFirst(all.filter((j) => ['QUEUED', 'FAILED'].includes(j.status))));
    const range = { from: t(5), to: t(14) };
    expect((await everyPage({ ...range, limit: '4' })).seen).toEqual(newestFirst(all.filter((j) => j.createdAt >= t(5) && j.createdAt <= t(14))));
    const combined = await everyPage({ functionId: fnA, status: 'ASSIGNED', from: t(0), limit: '2' });
    expect(combined.seen).toEqual(newestFirst(all.filter((j) => j.functionId === fnA && j.status === 'ASSIGNED')));
    // Offsets in the query are accepted as the same instant.
    expect((await everyPage({ from: '2026-01-01T01:00:05+01:00', to: t(5) })).seen).toEqual([all[5]?.jobId]);
  });

  test('summaries carry timings and status but no presigned links', async () => {
    const page = await jobs.searchJobs(c.deps, user, { limit: '1' });
    expect(page.items[0]).toMatchObject({ jobId: all[29]?.jobId, timings: { createdAt: t(29), queuedAt: t(29) } });
    expect(JSON.stringify(page)).not.toContain('X-Amz-Signature');
  });

  test('bad queries name the parameter; a forged cursor is refused', async () => {
    await rejects(jobs.searchJobs(c.deps, user, { status: 'DONE' }), 'invalid_request', 'status');
    await rejects(jobs.searchJobs(c.deps, user, { status: 'queued' }), 'invalid_request', 'status');
    await rejects(jobs.searchJobs(c.deps, user, { limit: '0' }), 'invalid_request', 'limit');
    await rejects(jobs.searchJobs(c.deps, user, { limit: 'ten' }), 'invalid_request', 'limit');
    await rejects(jobs.searchJobs(c.deps, user, { from: 'yesterday' }), 'invalid_request', 'from');
    await rejects(jobs.searchJobs(c.deps, user, { from: t(9), to: t(1) }), 'invalid_request', 'from');
    await rejects(jobs.searchJobs(c.deps, user, { functionId: 'fn/../x' }), 'invalid_request', 'functionId');
    await rejects(jobs.searchJobs(c.deps, user, { sort: 'asc' }), 'invalid_request');
    await rejects(jobs.searchJobs(c.deps, user, { cursor: 'bm90LWEtY3Vyc29y' }), 'invalid_request', 'cursor');
    const forged = Buffer.from(JSON.stringify([t(3), 'job_x', 'usr_someoneelse'])).toString('base64url');
    // A cursor only ever resumes inside the caller's own jobs (the developer id is never taken from it).
    const page = await jobs.searchJobs(c.deps, user, { cursor: forged });
    for (const item of page.items) expect(all.map((j) => j.jobId)).toContain(item.jobId);
  });
});

describe('view', () => {
  test('a finished job shows provider, timings, run time, cost and result and log links', async () => {
    const { user } = await c.newUser();
    const fn = await functions.createFunction(c.deps, user, definition());
    const done = await job(user, fn.functionId, new Date().toISOString(), 'SUCCEEDED', {
      providerId: 'prv_test',
      assignedAt: new Date().toISOString(),
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      runtimeMs: 12,
      exitCode: 0,
      resultSha256: 'a'.repeat(64),
      resultSize: 3,
      cost: 700,
      paid: true,
    });
    const view = await jobs.jobView(c.deps, done);
    expect(view).toMatchObject({ status: 'SUCCEEDED', providerId: 'prv_test', runtimeMs: 12, cost: 700, paid: true, result: { size: 3 } });
    expect(Object.keys(view.timings).sort()).toEqual(['assignedAt', 'cancelledAt', 'createdAt', 'finishedAt', 'queuedAt', 'startedAt']);
    expect(view.resultUrl).toContain(done.resultKey);
    expect(view.logUrl).toContain(done.logKey);
  });
});

describe('cancel', () => {
  test('a QUEUED job is cancelled (conditional), leaves the waiting index, and has no result or log link', async () => {
    const { user } = await c.newUser();
    const fn = await functions.createFunction(c.deps, user, definition());
    const queued = await job(user, fn.functionId, new Date().toISOString());
    const cancelled = await jobs.cancelJob(c.deps, user, queued.jobId);
    expect(cancelled).toMatchObject({ status: 'CANCELLED', reason: 'cancelled by the developer' });
    const stored = await c.deps.jobs.getJob(queued.jobId);
    expect(stored).toMatchObject({ status: 'CANCELLED' });
    expect(stored?.waitingShard).toBeUndefined();
    expect((await c.deps.jobs.listWaiting(1000)).map((j) => j.jobId)).not.toContain(queued.jobId);
    const view = await jobs.jobView(c.deps, stored as JobRecord);
    expect(view.resultUrl).toBeUndefined();
    expect(view.logUrl).toBeUndefined();
    expect(view.timings.cancelledAt).toBeDefined();
    // Twice: the job is no longer QUEUED.
    const again = await rejects(jobs.cancelJob(c.deps, user, queued.jobId), 'conflict');
    expect(again.details).toMatchObject({ status: 'CANCELLED' });
  });

  test('only while QUEUED: an ASSIGNED or finished job is 409; another user’s job is 404', async () => {
    const { user } = await c.newUser();
    const fn = await functions.createFunction(c.deps, user, definition());
    for (const status of ['ASSIGNED', 'SUCCEEDED', 'FAILED'] as const) {
      const j = await job(user, fn.functionId, new Date().toISOString(), status);
      const refused = await rejects(jobs.cancelJob(c.deps, user, j.jobId), 'conflict');
      expect(refused.message).toMatch(/only a QUEUED job/);
      expect((await c.deps.jobs.getJob(j.jobId))?.status).toBe(status);
    }
    const queued = await job(user, fn.functionId, new Date().toISOString());
    await rejects(jobs.cancelJob(c.deps, (await c.newUser()).user, queued.jobId), 'not_found');
    expect((await c.deps.jobs.getJob(queued.jobId))?.status).toBe('QUEUED');
  });

  test('a cancel racing a placement: exactly one of them moves the job', async () => {
    const { user } = await c.newUser();
    const fn = await functions.createFunction(c.deps, user, definition());
    for (let i = 0; i < 5; i++) {
      const queued = await job(user, fn.functionId, new Date().toISOString());
      const [cancel, place] = await Promise.allSettled([
        jobs.cancelJob(c.deps, user, queued.jobId),
        c.deps.jobs.transition(queued.jobId, ['QUEUED'], { status: 'ASSIGNED', providerId: 'prv_race' }, { attempt: 1 }, ['waitingShard']),
      ]);
      const placed = place.status === 'fulfilled' && place.value === true;
      expect(cancel.status === 'fulfilled').toBe(!placed);
      expect((await c.deps.jobs.getJob(queued.jobId))?.status).toBe(placed ? 'ASSIGNED' : 'CANCELLED');
    }
  });
});
