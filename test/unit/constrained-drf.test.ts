import { constrainedDrfTargets, drfTargets } from '../../bench/sim/sim';

/**
 * Issue #24's DRF target in the simulation: progressive filling over the actual machines, job by
 * job, each job only where it fits (constrained max-min fairness), against the pooled targets
 * that treat the summed capacity as one machine.
 */
const total = (machines: { vcpuMilli: number; memoryMb: number }[]) =>
  machines.reduce((a, m) => ({ vcpuMilli: a.vcpuMilli + m.vcpuMilli, memoryMb: a.memoryMb + m.memoryMb }), { vcpuMilli: 0, memoryMb: 0 });

test('a developer whose jobs fit only the large machine gets no share of the small ones; the other takes them', () => {
  // One 2-vCPU machine and two 1-vCPU ones (4 vCPU, 8 GB); both developers want far more than exists.
  const machines = [
    { vcpuMilli: 2000, memoryMb: 4096 },
    { vcpuMilli: 1000, memoryMb: 2048 },
    { vcpuMilli: 1000, memoryMb: 2048 },
  ];
  const needs = [
    { vcpuMilli: 2000, memoryMb: 2048 },
    { vcpuMilli: 500, memoryMb: 512 },
  ];
  const all = total(machines);
  const [big, small] = constrainedDrfTargets(machines, needs, [100, 100], all);
  // Pooled: each gets half of the vCPU.
  expect(drfTargets([{ vcpuMilli: 50, memoryMb: 25 }, { vcpuMilli: 12.5, memoryMb: 6.25 }], { vcpuMilli: 1, memoryMb: 1 })).toEqual([0.5, 0.5]);
  // Constrained: the 2-vCPU job takes the only machine it fits (half of the vCPU); the half-vCPU jobs fill the 1-vCPU machines.
  expect(big).toBeCloseTo(0.5);
  expect(small).toBeCloseTo(0.5);
});

test('each job goes where it fits best, so the small jobs placed first leave the large hole to the large job', () => {
  // The half-vCPU developer is first in the ties; least loaded would put its job on the empty 2-vCPU machine and starve the other.
  const machines = [
    { vcpuMilli: 2000, memoryMb: 4096 },
    { vcpuMilli: 1000, memoryMb: 2048 },
  ];
  const needs = [
    { vcpuMilli: 500, memoryMb: 512 },
    { vcpuMilli: 2000, memoryMb: 2048 },
  ];
  const [small, big] = constrainedDrfTargets(machines, needs, [2, 1], total(machines));
  expect(small).toBeCloseTo(1 / 3);
  expect(big).toBeCloseTo(2 / 3);
});

test('demand met is the target; a developer that cannot place more stops, the others keep filling', () => {
  const machines = Array.from({ length: 4 }, () => ({ vcpuMilli: 1000, memoryMb: 2048 }));
  const all = total(machines);
  const needs = [
    { vcpuMilli: 2000, memoryMb: 2048 },
    { vcpuMilli: 250, memoryMb: 256 },
  ];
  // No machine fits the first developer's job: all 4 vCPU go to the second, whose demand (10 jobs) caps it at 2.5 vCPU.
  const [none, some] = constrainedDrfTargets(machines, needs, [5, 10], all);
  expect(none).toBe(0);
  expect(some).toBeCloseTo((10 * 250) / 4000);
});
