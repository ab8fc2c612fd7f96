import { canonicalJson } from '../../../contract/src';
import { invalid } from '../errors';
import { JobRecord, TERMINAL } from '../model';
import type { CallbackSender } from '../ports';
import { Deps, now } from './context';
import { jobView } from './jobs';
import { verdictOwed } from './verification';

/**
 * Completion callbacks. An invocation with `callbackUrl` puts its job on the sparse `callbacks`
 * index (`callbackShard`, `callbackDueAt`). `deliverDueCallbacks` — run by a scheduled Lambda, off
 * the report path entirely — takes the due jobs: a job that has not ended yet is looked at again
 * later; an ended one gets `POST <callbackUrl>` with the job view, signed with the controller's
 * Ed25519 key over the exact body bytes. Deliveries are bounded (MAX_ATTEMPTS, exponential
 * backoff) and claimed with a conditional write on the attempt counter, so two sweepers never
 * deliver the same attempt. Delivery is at least once: receivers dedupe on `x-chainfaas-delivery`.
 *
 * Issue #19: a replicated job answered with its first result, unverified (`respond: first`), owes a
 * second delivery once its quorum decided: `job.verified`, delivery id `<jobId>.verdict.<attempt>`,
 * carrying the job view with `verification.verdict` confirmed or overturned. It is queued when the
 * first delivery is done (given up included) and the decision is taken, whichever comes last
 * (`JobStore.queueVerdictCallback` lets one writer queue it); it is retried like the first.
 *
 * Receivers verify `x-chainfaas-signature` (base64 Ed25519 over the request body) with the key
 * served at GET /controller/public-key; the body's `sentAt` bounds replays.
 */

export const CALLBACK = {
  maxAttempts: 5,
  /** First retry after this long; each further one waits twice as long. */
  backoffS: 10,
  timeoutMs: 5000,
  /** A job that has not ended is looked at again after this long. */
  recheckS: 2,
  /** A claimed attempt is retried after this long if its sweeper died mid-delivery. */
  claimS: 60,
} as const;

/**
 * Checks a callback URL: https with a host name (not an address in a private, loopback or
 * link-local range, not localhost). Local mode also allows http://127.0.0.1 and http://localhost.
 * Name resolution is not checked here (a name may still resolve to a private address).
 */
export function checkCallbackUrl(raw: string, allowLoopback: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('callbackUrl', 'callbackUrl: must be an absolute URL');
  }
  if (url.username || url.password) throw invalid('callbackUrl', 'callbackUrl: must not carry credentials (user:password@)');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  if (allowLoopback && loopback && (url.protocol === 'http:' || url.protocol === 'https:')) return url.toString();
  if (url.protocol !== 'https:') throw invalid('callbackUrl', `callbackUrl: must be https${allowLoopback ? ' (or http://127.0.0.1 in local mode)' : ''}`);
  if (loopback || host.endsWith('.localhost') || host.endsWith('.internal') || isPrivateAddress(host)) {
    throw invalid('callbackUrl', 'callbackUrl: must name a public host, not a loopback, private or link-local address');
  }
  return url.toString();
}

function isPrivateAddress(host: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      a >= 224
    );
  }
  // Any IPv6 literal is refused: the ranges to exclude are many, and a callback needs a name.
  return host.includes(':');
}

export interface DeliveryReport {
  delivered: number;
  retrying: number;
  gaveUp: number;
  /** Jobs not ended yet, looked at again later. */
  postponed: number;
}

/** The signed request for one delivery: body bytes and headers. */
export async function callbackRequest(deps: Deps, job: JobRecord, attempt: number): Promise<{ body: string; headers: Record<string, string> }> {
  const verdict = job.callbackPhase === 'verdict';
  const event = verdict ? 'job.verified' : 'job.finished';
  const payload = { event, sentAt: now(deps).toISOString(), attempt, job: await jobView(deps, job) };
  const body = canonicalJson(payload);
  const { signature, keyId } = await deps.signer.sign(payload);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'chainfaas-callbacks/1',
      'x-chainfaas-event': event,
      'x-chainfaas-delivery': verdict ? `${job.jobId}.verdict.${attempt}` : `${job.jobId}.${attempt}`,
      'x-chainfaas-signature': signature,
      'x-chainfaas-key-id': keyId,
    },
  };
}

const later = (deps: Deps, seconds: number) => new Date(now(deps).getTime() + seconds * 1000).toISOString();

/** Delivers the callbacks that are due, at most `limit` jobs per run. */
export async function deliverDueCallbacks(deps: Deps, sender: CallbackSender, limit = 25): Promise<DeliveryReport> {
  const report: DeliveryReport = { delivered: 0, retrying: 0, gaveUp: 0, postponed: 0 };
  const due = await deps.jobs.listDueCallbacks(now(deps).toISOString(), limit);
  await Promise.all(due.map((job) => deliverOne(deps, sender, job, report)));
  return report;
}

async function deliverOne(deps: Deps, sender: CallbackSender, indexed: JobRecord, report: DeliveryReport): Promise<void> {
  const attempts = indexed.callbackAttempts ?? 0;
  const job = (await deps.jobs.getJob(indexed.jobId)) ?? indexed;
  if (!job.callbackUrl || job.callbackShard === undefined) return;
  if (!TERMINAL.includes(job.status)) {
    if (await deps.jobs.recordCallback(job.jobId, attempts, { callbackDueAt: later(deps, CALLBACK.recheckS) }, false)) report.postponed++;
    return;
  }
  // Claim this attempt: only the sweeper whose write succeeds sends it.
  const attempt = attempts + 1;
  if (!(await deps.jobs.recordCallback(job.jobId, attempts, { callbackAttempts: attempt, callbackDueAt: later(deps, CALLBACK.claimS) }, false))) return;
  const { body, headers } = await callbackRequest(deps, job, attempt);
  let outcome: string;
  try {
    const status = await sender.post(job.callbackUrl, body, headers, CALLBACK.timeoutMs);
    outcome = status >= 200 && status < 300 ? 'ok' : `the receiver answered ${status}`;
  } catch (err) {
    outcome = `the request failed: ${(err as Error).name === 'TimeoutError' ? `no answer within ${CALLBACK.timeoutMs} ms` : (err as Error).message}`;
  }
  if (outcome === 'ok') {
    if (await deps.jobs.recordCallback(job.jobId, attempt, { callbackDeliveredAt: now(deps).toISOString() }, true)) await queueVerdictIfOwed(deps, job.jobId);
    report.delivered++;
  } else if (attempt >= CALLBACK.maxAttempts) {
    if (await deps.jobs.recordCallback(job.jobId, attempt, { callbackError: `${outcome}; gave up after ${attempt} attempts` }, true)) await queueVerdictIfOwed(deps, job.jobId);
    report.gaveUp++;
  } else {
    await deps.jobs.recordCallback(job.jobId, attempt, { callbackError: outcome, callbackDueAt: later(deps, CALLBACK.backoffS * 2 ** (attempt - 1)) }, false);
    report.retrying++;
  }
}

/** Issue #19: after a first delivery is done, the verdict of a job answered unverified, if its quorum decided meanwhile. */
async function queueVerdictIfOwed(deps: Deps, jobId: string): Promise<void> {
  const job = await deps.jobs.getJob(jobId);
  if (job && verdictOwed(job)) await deps.jobs.queueVerdictCallback(jobId, now(deps).toISOString());
}
