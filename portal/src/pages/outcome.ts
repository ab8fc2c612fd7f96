import { ApiClient, describeError, JobView } from '../client';
import { alertBox, clear, facts, h, statusBadge } from '../dom';
import { bytes, credits, duration } from '../format';
import { link } from '../app';

/**
 * What a finished job produced, for the test-invoke panel and the job page: status, run time,
 * cost, the result (shown when it is small text, downloadable always) and the log (the function's
 * stderr). Result and log are read from their presigned S3 links, which the bucket's CORS rule
 * lets the portal's origin fetch.
 */

const PREVIEW_LIMIT = 64 * 1024;

export async function jobOutcome(job: JobView, options: { heading: string; showFacts?: boolean }): Promise<HTMLElement> {
  const box = h('div', { class: 'outcome', id: 'outcome' });
  const failed = job.status !== 'SUCCEEDED';
  box.append(h('h3', {}, options.heading, ' ', statusBadge(job.status)));
  if (options.showFacts !== false)
    box.append(
      facts([
          ['Job', link(`#/jobs/${job.jobId}`, job.jobId)],
          ['Run time', duration(job.runtimeMs)],
          ['Cost', h('span', { class: 'job-cost' }, outcomeCost(job))],
          ...(failed ? ([['Why', failureText(job)]] as [string, string][]) : []),
          ...(job.limits?.length ? ([['Limits reached', job.limits.map((l) => l.detail).join('; ')]] as [string, string][]) : []),
          ...(job.limitsUnwatched?.length
            ? ([['Not watched', job.limitsUnwatched.map((u) => `${u.limit}: ${u.why}`).join('; ')]] as [string, string][])
            : []),
        ]),
    );
  if (job.status === 'SUCCEEDED' && job.resultUrl) box.append(await resultView(job));
  // A job that ran and has no log link wrote nothing to stderr: the agent stores no empty log.
  if (job.logUrl) box.append(await logView(job.logUrl));
  else if (job.runtimeMs !== undefined) box.append(logSection(noLog()));
  return box;
}

function outcomeCost(job: JobView): string {
  if (job.cost !== undefined) return `${credits(job.cost)} credits${job.paid === false ? ' (not paid)' : ''}`;
  return job.status === 'CANCELLED' ? 'nothing: cancelled jobs are not charged' : 'not settled yet: the ledger settles it within moments…';
}

/**
 * Keeps an outcome's Cost up to date: reads the job again every second until the ledger has
 * settled its cost (the read model follows the ledger a moment after the job ends), for a minute.
 */
export async function followCost(api: ApiClient, job: JobView, box: HTMLElement, signal: AbortSignal): Promise<JobView> {
  const until = Date.now() + 60_000;
  let current = job;
  while (current.cost === undefined && current.status !== 'CANCELLED' && Date.now() < until && !signal.aborted) {
    await new Promise((r) => setTimeout(r, 1000));
    if (signal.aborted) break;
    current = await api.getJob(job.jobId, signal);
    box.querySelectorAll('.job-cost').forEach((el) => (el.textContent = outcomeCost(current)));
  }
  if (current.cost === undefined && !signal.aborted) box.querySelectorAll('.job-cost').forEach((el) => (el.textContent = 'not settled yet: open the job later to see it'));
  return current;
}

export function failureText(job: JobView): string {
  if (job.status === 'CANCELLED') return job.reason ?? 'cancelled';
  // The controller states the reason in words; older jobs may carry the report's code.
  const reason = job.reason ? (REASONS[job.reason] ?? job.reason) : undefined;
  const exit = job.exitCode !== undefined && job.exitCode !== null && !/code \d/.test(reason ?? '') ? `exit code ${job.exitCode}` : undefined;
  return [reason, exit].filter(Boolean).join('; ') || '—';
}

const REASONS: Record<string, string> = {
  exit: 'the function exited with an error',
  oom: 'the function ran out of memory and was killed',
  timeout: 'the function ran past its timeout and was stopped',
  output_too_large: 'the function’s output was larger than the platform accepts',
  runtime_error: 'the provider could not run the container',
  image_unavailable: 'the provider could not pull the image',
};

/**
 * Reads the result behind a job's link. A small result's link is a `data:` URL carrying the bytes
 * (issue #16): decoded here, since the page's connect-src does not (and need not) allow `data:`.
 */
async function readResult(url: string): Promise<Blob> {
  const inline = /^data:[^,]*;base64,(.*)$/.exec(url);
  if (inline) return new Blob([Uint8Array.from(atob(inline[1] ?? ''), (c) => c.charCodeAt(0))], { type: 'application/octet-stream' });
  const res = await fetch(url);
  if (!res.ok) throw new Error(`the results bucket answered HTTP ${res.status}${res.status === 403 ? ' (the link may have expired: reload the page)' : ''}`);
  return res.blob();
}

async function resultView(job: JobView): Promise<HTMLElement> {
  const size = job.result?.size;
  const section = h('div', { class: 'result' }, h('h4', {}, 'Result ', h('span', { class: 'muted' }, `(${bytes(size)})`)));
  const download = h('button', { type: 'button', id: 'download-result' }, 'Download result');
  const message = h('div', { 'aria-live': 'polite' });
  download.addEventListener('click', async () => {
    try {
      saveBlob(await readResult(job.resultUrl as string), `${job.jobId}-result`);
    } catch (err) {
      clear(message, alertBox(`Could not download the result: ${describeError(err)}`));
    }
  });
  // Browsers do not open a data: URL in a new tab; an inline result opens as a blob: URL of its bytes.
  const href = job.resultUrl?.startsWith('data:') ? URL.createObjectURL(await readResult(job.resultUrl)) : (job.resultUrl as string);
  section.append(h('p', {}, download, ' ', h('a', { href, rel: 'noopener', target: '_blank' }, 'open the result link')), message);
  if (size !== undefined && size <= PREVIEW_LIMIT) {
    try {
      const text = await (await readResult(job.resultUrl as string)).text();
      section.append(h('pre', { class: 'output', id: 'result-text', tabindex: 0, 'aria-label': 'Result' }, prettyJson(text)));
    } catch (err) {
      section.append(alertBox(`The result could not be read from its link (${(err as Error).message}); use Download.`));
    }
  }
  return section;
}

const logSection = (...content: HTMLElement[]) => h('div', { class: 'log' }, h('h4', {}, 'Log (the function’s stderr)'), ...content);
const noLog = () => h('p', { class: 'muted', id: 'log-text' }, 'The function wrote nothing to stderr.');

async function logView(url: string): Promise<HTMLElement> {
  const section = logSection();
  try {
    const res = await fetch(url);
    if (res.status === 404) {
      section.append(h('p', { class: 'muted' }, 'No log was stored for this job.'));
      return section;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    section.append(
      text.length === 0
        ? noLog()
        : h('pre', { class: 'output', id: 'log-text', tabindex: 0, 'aria-label': 'Log' }, text.length > PREVIEW_LIMIT ? `${text.slice(0, PREVIEW_LIMIT)}\n… (${bytes(text.length - PREVIEW_LIMIT)} more)` : text),
    );
  } catch (err) {
    section.append(alertBox(`The log could not be read from its link (${(err as Error).message}).`));
  }
  return section;
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
