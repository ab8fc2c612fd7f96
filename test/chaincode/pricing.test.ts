import { isBilledOutcome, jobCost, vcpuMillicores, worstCaseCost } from '../../chaincode/src/pricing';

describe('jobCost', () => {
  const billing = { version: 1, vcpuMs: 10, mbMs: 1 };

  it('charges runtime x (vCPU x vcpuMs + MB x mbMs) in integer micro-credits', () => {
    expect(jobCost({ vcpu: 0.5, memoryMb: 128, timeoutS: 10 }, billing, 1234)).toBe(1234 * (5 + 128));
    expect(jobCost({ vcpu: 2, memoryMb: 1024, timeoutS: 10 }, billing, 0)).toBe(0);
  });

  it('reads vCPU as exact millicores (2.007 vCPU is 2007, though 2.007 * 1000 is 2007.0000000000002)', () => {
    expect(Math.ceil(2.007 * 1000)).toBe(2008);
    expect(vcpuMillicores(2.007)).toBe(2007);
    expect(vcpuMillicores(0.0005)).toBe(1); // rounded up
    expect(jobCost({ vcpu: 2.007, memoryMb: 16, timeoutS: 1 }, { version: 1, vcpuMs: 1000, mbMs: 0 }, 1)).toBe(2007);
  });

  it('accepts fractional prices and rounds the total up, once', () => {
    const fractional = { version: 2, vcpuMs: 0.001, mbMs: 0.000001 };
    // 1 vCPU x 0.001 + 100 MB x 0.000001 = 0.0011 per ms; x 1000 ms = 1.1 -> 2
    expect(jobCost({ vcpu: 1, memoryMb: 100, timeoutS: 5 }, fractional, 1000)).toBe(2);
    expect(jobCost({ vcpu: 1, memoryMb: 100, timeoutS: 5 }, fractional, 10_000)).toBe(11);
  });

  it('caps the cost at maxCost and prices the worst case at the full timeout', () => {
    const resources = { vcpu: 1, memoryMb: 256, timeoutS: 60 };
    expect(worstCaseCost(resources, billing)).toBe(60_000 * (10 + 256));
    expect(jobCost(resources, billing, 60_000, 5)).toBe(5);
    expect(jobCost(resources, billing, 1, 1_000_000)).toBe(266);
  });

  it('refuses negative, fractional or non-finite inputs', () => {
    const resources = { vcpu: 1, memoryMb: 256, timeoutS: 60 };
    expect(() => jobCost(resources, billing, -1)).toThrow(/runtimeMs/);
    expect(() => jobCost(resources, billing, 1.5)).toThrow(/runtimeMs/);
    expect(() => jobCost({ ...resources, vcpu: Number.NaN }, billing, 1)).toThrow(/resources.vcpu/);
    expect(() => jobCost(resources, { ...billing, mbMs: -1 }, 1)).toThrow(/billing.mbMs/);
    expect(() => jobCost(resources, billing, 1, 2.5)).toThrow(/maxCost/);
  });

  it('bills succeeded runs only: a failed run costs nothing, whatever the reason', () => {
    expect(isBilledOutcome('succeeded')).toBe(true);
    for (const reason of ['exit', 'oom', 'timeout', 'output_too_large', 'runtime_error', 'image_unavailable', undefined]) {
      expect(isBilledOutcome('failed', reason)).toBe(false);
    }
  });
});
