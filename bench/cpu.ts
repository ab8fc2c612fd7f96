import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where a benchmark's CPU goes on this machine (Linux `/proc`): each process's user + system time
 * between two snapshots, summed by component, and how busy the whole machine was. A process that
 * exits between the snapshots is not seen here: such a process reports its own CPU time
 * (bench/settlement-producer.ts does).
 */
export interface CpuSnapshot {
  /** Every process's CPU ticks and command line. */
  processes: Map<number, { ticks: number; command: string }>;
  /** The machine's ticks since boot, in all and idle (idle + iowait). */
  machine: { total: number; idle: number };
  at: number;
}

let ticksPerSecond: number | undefined;
function hz(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export function cpuSnapshot(): CpuSnapshot {
  const processes = new Map<number, { ticks: number; command: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\u0000', ' ').trim();
      processes.set(Number(name), { ticks: Number(fields[11]) + Number(fields[12]), command });
    } catch {
      // gone between the listing and the read
    }
  }
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { processes, machine: { total, idle: (cpu[3] ?? 0) + (cpu[4] ?? 0) }, at: Date.now() };
}

/**
 * CPU seconds by component between `before` and `after`: this process under `self`, every other
 * process under its `componentOf` (`other` for the rest). `busyShare` is the share of all cores'
 * time the machine spent busy, whatever ran.
 */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot, self: string) {
  const seconds: Record<string, number> = {};
  for (const [pid, p] of after.processes) {
    const used = (p.ticks - (before.processes.get(pid)?.ticks ?? 0)) / hz();
    if (used <= 0) continue;
    const name = pid === process.pid ? self : (componentOf(p.command) ?? 'other');
    seconds[name] = (seconds[name] ?? 0) + used;
  }
  const total = after.machine.total - before.machine.total;
  const busyShare = total > 0 ? 1 - (after.machine.idle - before.machine.idle) / total : 0;
  return { wallSeconds: (after.at - before.at) / 1000, busyShare, seconds };
}

/** The part of the platform (or of its stand-ins) a process is, by its command line: one list for every benchmark. */
export function componentOf(command: string): string | undefined {
  if (command.includes('DynamoDBLocal')) return 'dynamodbLocal';
  if (command.includes('fauxqs')) return 'fauxqs';
  // Before the peer: the chaincode service's command line may name the peer's address.
  if (command.includes('chaincode')) return 'chaincode';
  if (/(^|\/)orderer(\s|$)/.test(command)) return 'orderer';
  if (/(^|\/)peer(\s|$)/.test(command)) return 'peer';
  if (/(^|\/)(dockerd|containerd|containerd-shim\S*|runc)(\s|$)/.test(command)) return 'dockerEngine';
  return undefined;
}

/** Each component's CPU seconds as CPU milliseconds per unit of work (a settled job, a job), largest first, to 2 decimals. */
export function msPer(seconds: Record<string, number>, units: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(seconds)
      .sort(([, a], [, b]) => b - a)
      .map(([name, s]) => [name, Math.round((s * 100_000) / Math.max(1, units)) / 100]),
  );
}
