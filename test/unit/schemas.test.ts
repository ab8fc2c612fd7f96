import { CreateFunctionBody, ImageRef, LIMITS, PricesBody, RuntimeReport } from '../../contract/src';
import { jobCost, RUNTIME_GRACE_MS, worstCaseCost } from '../../lambdas/core/pricing';

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

test('#25: at the dearest prices allowed, the costliest job the limits allow costs a safe integer, with room for its run-time grace', () => {
  const prices = { version: 1, vcpuMs: LIMITS.maxVcpuMsPrice, mbMs: LIMITS.maxMbMsPrice };
  const largest = { vcpu: LIMITS.maxVcpu, memoryMb: LIMITS.maxMemoryMb, timeoutS: LIMITS.maxTimeoutS };
  const worst = worstCaseCost(largest, prices);
  expect(Number.isSafeInteger(worst)).toBe(true);
  expect(Number.isSafeInteger(jobCost(largest, prices, LIMITS.maxTimeoutS * 1000 + RUNTIME_GRACE_MS))).toBe(true);
  // The bounds are what the schema enforces: one more micro-credit is refused.
  expect(PricesBody.safeParse({ vcpuMs: LIMITS.maxVcpuMsPrice, mbMs: LIMITS.maxMbMsPrice }).success).toBe(true);
  expect(PricesBody.safeParse({ vcpuMs: LIMITS.maxVcpuMsPrice + 1, mbMs: 0 }).success).toBe(false);
  expect(PricesBody.safeParse({ vcpuMs: 0, mbMs: LIMITS.maxMbMsPrice + 1 }).success).toBe(false);
  // Balances: the most an account may hold plus the largest top-up stays far below 2^53.
  expect(LIMITS.maxBalance + LIMITS.maxTopUp).toBeLessThan(Number.MAX_SAFE_INTEGER / 8);
});
