import { CreateFunctionBody, ImageRef, RuntimeReport } from '../../contract/src';

const digest = 'sha256:' + 'b'.repeat(64);

test('image references must be pinned by digest', () => {
  expect(ImageRef.safeParse(`127.0.0.1:5000/chainfaas/sha256@${digest}`).success).toBe(true);
  expect(ImageRef.safeParse(`registry.example.com/team/fn@${digest}`).success).toBe(true);
  expect(ImageRef.safeParse('127.0.0.1:5000/chainfaas/sha256:latest').success).toBe(false);
  expect(ImageRef.safeParse(`127.0.0.1:5000/chainfaas/sha256@sha256:${'b'.repeat(63)}`).success).toBe(false);
  expect(ImageRef.safeParse(`UPPER/case@${digest}`).success).toBe(false);
});

test('function defaults: stdio protocol, sync mode, no network, empty env', () => {
  const fn = CreateFunctionBody.parse({ name: 'f', image: `r/x@${digest}`, resources: { vcpu: 1, memoryMb: 128, timeoutS: 5 } });
  expect(fn).toMatchObject({ protocol: 'stdio', mode: 'sync', network: 'none', env: {} });
});

test('a run-time report needs a reason exactly when it failed', () => {
  const base = {
    v: 1,
    jobId: 'job_1',
    providerId: 'prv_1',
    attempt: 1,
    exitCode: 0,
    runtimeMs: 5,
    resultSha256: 'c'.repeat(64),
    resultSize: 0,
    logSize: 0,
    startedAt: '2026-11-23T12:00:00.000Z',
    finishedAt: '2026-11-23T12:00:01.000Z',
  };
  expect(RuntimeReport.safeParse({ ...base, status: 'succeeded' }).success).toBe(true);
  expect(RuntimeReport.safeParse({ ...base, status: 'failed' }).success).toBe(false);
  expect(RuntimeReport.safeParse({ ...base, status: 'failed', reason: 'oom', exitCode: 137 }).success).toBe(true);
  expect(RuntimeReport.safeParse({ ...base, status: 'succeeded', reason: 'oom' }).success).toBe(false);
});
