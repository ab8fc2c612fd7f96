import type { FunctionRecord, JobView, Prices } from './client';

/**
 * Formatting shared by the portal and the CLI. Money is an integer number of micro-credits
 * (1 credit = 1 000 000 micro-credits) and is never turned into a float: it is printed and parsed
 * as decimal strings.
 */

export const MICRO = 1_000_000;

/** `1234567` → `1.234567`; `-5` → `-0.000005`. */
export function credits(micro: number | undefined): string {
  if (micro === undefined || micro === null || !Number.isFinite(micro)) return '—';
  const sign = micro < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(micro));
  const whole = Math.floor(abs / MICRO);
  const frac = String(abs % MICRO).padStart(6, '0');
  return `${sign}${whole.toLocaleString('en-US')}.${frac}`;
}

/** Parses a credit amount typed by a person (`1.5`, `0.000759`, `12`) into micro-credits, exactly. */
export function parseCredits(text: string): number | undefined {
  const m = /^\s*(\d{1,9})(?:\.(\d{0,6}))?\s*$/.exec(text.replace(/,/g, ''));
  if (!m) return undefined;
  const whole = Number(m[1]);
  const frac = Number((m[2] ?? '').padEnd(6, '0'));
  return whole * MICRO + frac;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined || ms === null) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined || n === null) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** An ISO instant as `2026-11-23 19:44:41 UTC`: the same on every machine, sortable. */
export function when(iso: string | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Milliseconds between two ISO instants, or undefined when either is missing. */
export function between(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  return Date.parse(to) - Date.parse(from);
}

/**
 * What a job of this function costs, before it runs: the rate at its resources (per second of run
 * time, from the price list in force) and the most one job may cost (its price cap).
 */
export function priceText(fn: Pick<FunctionRecord, 'maxPrice' | 'resources'>, prices: Pick<Prices, 'current'> | undefined): string {
  const cap = `at most ${credits(fn.maxPrice)} credits per job (its price cap; a job that runs to its ${fn.resources.timeoutS} s timeout costs no more)`;
  if (!prices) return `${cap}. Failed and cancelled jobs cost nothing.`;
  const diskMb = fn.resources.diskMb ?? 64;
  const perS = Math.ceil(1000 * (fn.resources.vcpu * prices.current.vcpuMs + fn.resources.memoryMb * prices.current.mbMs + diskMb * (prices.current.diskMbMs ?? 0)));
  // Disk is named once the price list prices it (issue #23); before, the sentence is as it was.
  const what = prices.current.diskMbMs ? `${fn.resources.vcpu} vCPU, ${fn.resources.memoryMb} MB and ${diskMb} MB disk` : `${fn.resources.vcpu} vCPU and ${fn.resources.memoryMb} MB`;
  return `about ${credits(perS)} credits per second of run time (${what} at price list v${prices.current.version}), ${cap}. Failed and cancelled jobs cost nothing.`;
}


const PHASE_WORDS = { pulling: 'pulling the image', running: 'running', uploading: 'uploading the result' } as const;

/**
 * Where a job is, in words (issue #22), for the portal's progress and the CLI's: queued, placed on
 * its provider, then what the provider last said it is doing (pulling, running, uploading) and,
 * with `now`, for how long; an ended job is finished.
 */
export function phaseText(job: Pick<JobView, 'status' | 'providerId' | 'progress'>, now?: number): string {
  if (job.status === 'QUEUED') return 'queued: waiting for a provider with room';
  if (job.status !== 'ASSIGNED') return `finished: ${job.status}`;
  const on = job.providerId ?? 'a provider';
  if (!job.progress) return `placed on ${on}`;
  const words = `${PHASE_WORDS[job.progress.phase]} on ${on}`;
  return now === undefined ? words : `${words} for ${Math.max(0, Math.floor((now - Date.parse(job.progress.since)) / 1000))} s`;
}
