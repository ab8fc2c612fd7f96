import { ApiError, describeError, FunctionRecord, JobLedger, JobView, LedgerJob, TERMINAL_STATUSES } from '../client';
import { alertBox, announce, busy, clear, confirmButton, facts, field, h, statusBadge, table } from '../dom';
import { between, credits, duration, phaseText, when } from '../format';
import { hashOf, link, PageContext, pageTitle } from '../app';
import { failureText, jobOutcome } from './outcome';

/** Tasks: search and filter the developer's jobs; a job's detail, live while it runs, with its ledger record. */

const STATUSES = ['QUEUED', 'ASSIGNED', 'SUCCEEDED', 'FAILED', 'CANCELLED'];

export async function jobsPage(ctx: PageContext): Promise<Node> {
  const q = ctx.query;
  const functions = await ctx.api.listFunctions().then((r) => r.items).catch(() => [] as FunctionRecord[]);
  const names = new Map(functions.map((f) => [f.functionId, f.name]));

  const fnSelect = h(
    'select',
    { name: 'functionId', id: 'filter-function', 'data-field': 'functionId' },
    h('option', { value: '' }, 'All functions'),
    ...functions.map((f) => h('option', { value: f.functionId, selected: q.get('functionId') === f.functionId }, `${f.name} (${f.functionId})`)),
  );
  if (q.get('functionId') && !names.has(q.get('functionId') as string)) {
    fnSelect.append(h('option', { value: q.get('functionId') as string, selected: true }, q.get('functionId') as string));
  }
  const chosen = new Set((q.get('status') ?? '').split(',').filter(Boolean));
  const statusBoxes = STATUSES.map((s) => h('input', { type: 'checkbox', name: 'status', value: s, id: `status-${s}`, checked: chosen.has(s) }));
  const from = h('input', { type: 'datetime-local', name: 'from', id: 'filter-from', 'data-field': 'from', value: toUtcInput(q.get('from')), step: 1 });
  const to = h('input', { type: 'datetime-local', name: 'to', id: 'filter-to', 'data-field': 'to', value: toUtcInput(q.get('to')), step: 1 });
  const form = h(
    'form',
    { class: 'card filters', role: 'search', 'aria-label': 'Filter tasks', novalidate: true },
    field('Function', fnSelect),
    h('fieldset', { class: 'statuses', 'data-field': 'status', id: 'filter-status' }, h('legend', {}, 'Status'), ...statusBoxes.map((b) => h('span', { class: 'check' }, b, h('label', { for: b.id }, b.value)))),
    h('div', { class: 'row' }, field('Created from (UTC)', from, 'UTC, like every time the portal shows.'), field('Created until (UTC)', to)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Search'), h('a', { href: '#/jobs' }, 'Clear filters')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(
      hashOf('/jobs', {
        functionId: fnSelect.value,
        status: statusBoxes.filter((b) => b.checked).map((b) => b.value).join(','),
        from: fromUtcInput(from.value),
        to: fromUtcInput(to.value),
      }),
    );
  });

  const results = h('div', { id: 'job-results' });
  const rows: JobView[] = [];
  const more = h('button', { type: 'button', id: 'more-jobs' }, 'Show more');
  const renderRows = (next: string | undefined) => {
    clear(
      results,
      table(
        'Tasks',
        ['Job', 'Function', 'Status', 'Created', 'Run time', 'Cost (credits)', 'Provider'],
        rows.map((j) => [
          link(`#/jobs/${j.jobId}`, j.jobId),
          names.get(j.functionId) ?? j.functionId,
          statusBadge(j.status),
          when(j.timings.createdAt),
          duration(j.runtimeMs),
          j.cost === undefined ? '—' : credits(j.cost),
          j.providerId ?? '—',
        ]),
        { captionHidden: true, empty: q.toString() ? 'No task matches these filters.' : 'No tasks yet. Test-invoke a function to run one.' },
      ),
      next ? more : null,
    );
  };
  let cursor: string | undefined;
  const load = async () => {
    const page = await ctx.api.searchJobs(
      { functionId: q.get('functionId') ?? undefined, status: q.get('status') ?? undefined, from: q.get('from') ?? undefined, to: q.get('to') ?? undefined, limit: 25, cursor },
      ctx.signal,
    );
    rows.push(...page.items);
    cursor = page.next;
    renderRows(cursor);
  };
  // The list refreshes by itself: statuses, run times and costs change while it is open, and new
  // jobs appear. Every few seconds the pages shown so far are read again (one request).
  const updated = h('p', { class: 'hint', id: 'jobs-updated', role: 'status' });
  const autoRefresh = async () => {
    while (!ctx.signal.aborted) {
      await sleep(REFRESH_MS);
      if (ctx.signal.aborted) return;
      if (document.hidden) continue;
      try {
        const page = await ctx.api.searchJobs(
          { functionId: q.get('functionId') ?? undefined, status: q.get('status') ?? undefined, from: q.get('from') ?? undefined, to: q.get('to') ?? undefined, limit: Math.min(100, Math.max(25, rows.length)) },
          ctx.signal,
        );
        if (ctx.signal.aborted) return;
        const focused = results.contains(document.activeElement) ? (document.activeElement as HTMLElement).getAttribute('href') : null;
        rows.splice(0, rows.length, ...page.items);
        cursor = page.next;
        renderRows(cursor);
        if (focused) (results.querySelector(`a[href="${CSS.escape(focused)}"]`) as HTMLElement | null)?.focus();
        updated.textContent = `Updated ${when(new Date().toISOString())}; this list refreshes by itself.`;
      } catch (err) {
        if (ctx.signal.aborted || (err as Error).name === 'AbortError') return;
        updated.textContent = `Could not refresh the list: ${describeError(err)}`;
      }
    }
  };
  more.addEventListener('click', async () => {
    const focusIndex = rows.length;
    try {
      await busy(results, load);
      (results.querySelectorAll('tbody a')[focusIndex] as HTMLElement | undefined)?.focus();
    } catch (err) {
      results.append(alertBox(describeError(err)));
    }
  });
  try {
    await load();
  } catch (err) {
    // A filter the API refused (bad time range…) is shown next to the form, not as a page failure.
    if (!(err instanceof ApiError) || err.status === 401 || err.status >= 500) throw err;
    clear(results, alertBox(describeError(err)));
  }

  const open = h('input', { name: 'jobId', id: 'open-job', placeholder: 'job_…', autocomplete: 'off', spellcheck: 'false' });
  const openForm = h('form', { class: 'inline-form', novalidate: true }, field('Open a task by id', open), h('button', { type: 'submit' }, 'Open'));
  openForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (open.value.trim()) ctx.navigate(`#/jobs/${encodeURIComponent(open.value.trim())}`);
  });
  void autoRefresh();
  return h('section', {}, pageTitle('Tasks'), form, updated, results, openForm);
}

/** The filter's inputs are in UTC, as every time the portal shows: `2026-11-23T19:44:41`. */
function toUtcInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 19);
}

function fromUtcInput(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(`${value}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export async function jobPage(ctx: PageContext): Promise<Node> {
  const id = ctx.params.jobId as string;
  let job = await ctx.api.getJob(id, ctx.signal);
  const fn = await ctx.api.getFunction(job.functionId).catch(() => undefined);
  const live = h('p', { class: 'live', role: 'status', id: 'job-live' });
  const summary = h('div', { id: 'job-summary' });
  const outcome = h('div', { id: 'job-outcome' });
  const ledger = h('section', { class: 'panel', id: 'job-ledger', 'aria-labelledby': 'ledger-title' }, h('h2', { id: 'ledger-title' }, 'Ledger record'));
  const actions = h('div', { class: 'actions' });

  const renderSummary = () => {
    clear(
      summary,
      facts([
        ['Status', statusBadge(job.status)],
        ['Function', link(`#/functions/${job.functionId}`, `${fn ? `${fn.name} ` : ''}v${job.functionVersion} (${job.functionId})`)],
        ['Provider', providerText(job)],
        ...(job.status === 'ASSIGNED' ? ([['Phase', h('span', { id: 'job-phase' }, phaseText(job, Date.now()))]] as [string, HTMLElement][]) : []),
        ['Attempt', String(job.attempt)],
        ['Run time', job.runtimeMs !== undefined ? duration(job.runtimeMs) : job.status === 'CANCELLED' ? 'none: it never ran' : '—'],
        ['Cost', costText(job, fn?.maxPrice)],
        ...(job.status === 'FAILED' || job.status === 'CANCELLED' ? ([['Why', failureText(job)]] as [string, string][]) : []),
      ]),
      timingsTable(job),
      verificationTable(job),
    );
    clear(actions);
    if (job.status === 'QUEUED') {
      actions.append(
        confirmButton('Cancel this task', `Cancel ${job.jobId}? It will not run, and nothing is charged.`, 'Yes, cancel it', async () => {
          job = await ctx.api.cancelJob(job.jobId);
          announce(`Job ${job.jobId} is ${job.status}.`);
          renderSummary();
        }, { id: 'cancel-job' }, 'Keep it queued'),
      );
    }
    tick();
  };
  // While the job runs, the time since it was created (and since it was placed) counts up every second.
  const tick = () => {
    if (TERMINAL_STATUSES.includes(job.status)) return;
    const now = new Date().toISOString();
    const elapsed = summary.querySelector('#job-elapsed');
    if (elapsed) elapsed.textContent = seconds(between(job.timings.createdAt, now));
    const phase = summary.querySelector('#job-phase');
    if (phase) phase.textContent = phaseText(job, Date.now());
    const running = summary.querySelector('#job-running-for');
    if (running && job.timings.assignedAt) running.textContent = `running for ${seconds(between(job.timings.assignedAt, now))} so far`;
  };
  const timer = window.setInterval(() => (ctx.signal.aborted || TERMINAL_STATUSES.includes(job.status) ? window.clearInterval(timer) : tick()), 1000);
  renderSummary();

  const page = h('section', {}, pageTitle(`Task ${job.jobId}`), live, actions, summary, outcome, ledger);

  const finish = async () => {
    live.textContent = `Finished: ${job.status}.`;
    clear(outcome, await jobOutcome(job, { heading: job.status === 'SUCCEEDED' ? 'Result' : 'Outcome', showFacts: false }));
  };

  // Live status: poll while the job runs, then settle the ledger view.
  void (async () => {
    try {
      while (!TERMINAL_STATUSES.includes(job.status) && !ctx.signal.aborted) {
        live.textContent = `Live: ${phaseText(job, Date.now())} — updating every second.`;
        await sleep(1000);
        if (ctx.signal.aborted) return;
        const next = await ctx.api.getJob(id, ctx.signal);
        if (next.status !== job.status || next.progress?.phase !== job.progress?.phase) announce(`Job is now ${phaseText(next)}.`);
        job = next;
        renderSummary();
        const pending = ledger.querySelector('#ledger-pending');
        if (pending) pending.textContent = ledgerPending(job);
      }
      if (ctx.signal.aborted) return;
      await finish();
      await followLedger(ctx, job, ledger, () => renderSummary(), (j) => (job = j));
    } catch (err) {
      if (!ctx.signal.aborted && (err as Error).name !== 'AbortError') live.replaceWith(alertBox(describeError(err)));
    }
  })();
  if (!TERMINAL_STATUSES.includes(job.status)) ledger.append(h('p', { class: 'muted', id: 'ledger-pending' }, ledgerPending(job)));
  return page;
}

/** Issue #19: a replicated job's replicas: provider, the hash each signed, its outcome in the decision, what it was paid. */
function verificationTable(job: JobView): HTMLElement | null {
  const v = job.verification;
  if (!v) return null;
  const decision = v.decision === 'agreed' ? `agreed on ${v.agreedSha256?.slice(0, 16) ?? ''}…` : v.decision === 'no-quorum' ? 'no quorum: nobody paid' : 'pending';
  return h(
    'div',
    { id: 'job-verification' },
    facts(
      (
        [
          ['Verification', `replicated on ${v.k} owners, quorum ${v.quorum} (at most ${v.maxReplicas} replicas): ${decision}`],
          // Answered before the quorum (respond first), or run alone on a trusted provider (adaptive): only when so.
          ['First result', v.verdict],
          ['Unchecked', v.trusted ? `ran alone on ${v.trusted.providerId}, trusted after ${v.trusted.validRuns} agreements in a row (checked with chance 1/${v.trusted.validRuns})` : undefined],
        ] as [string, string | undefined][]
      ).filter(([, value]) => value !== undefined),
    ),
    table(
      'Replicas',
      ['Replica', 'Provider', 'Status', 'Result SHA-256', 'Outcome', 'Paid'],
      (v.replicas ?? []).map((r) => [
        link(`#/jobs/${r.jobId}`, r.jobId),
        r.providerId ?? '—',
        r.status,
        r.resultSha256 ? `${r.resultSha256.slice(0, 16)}…` : '—',
        r.outcome,
        r.cost === undefined ? 'not settled' : r.paid ? `${credits(r.cost)} credits` : 'not paid',
      ]),
      { empty: 'No replica has started yet.' },
    ),
  );
}

/** Who ran the job: its provider, or, for a replicated job, its replicas' (each has a row below). */
function providerText(job: JobView): string {
  if (job.providerId) return job.providerId;
  if (job.verification) return `the replicas' (${job.verification.replicas?.length ?? 0}, below)`;
  if (job.status === 'CANCELLED') return 'none: cancelled before it was placed';
  return TERMINAL_STATUSES.includes(job.status) ? 'none' : 'not placed yet';
}

function ledgerPending(job: JobView): string {
  if (job.status === 'QUEUED') return 'The ledger record appears once the job is placed on a provider.';
  return `Placed on ${job.providerId ?? 'a provider'}: the ledger records the job now; its run time, receipt and cost follow when it ends.`;
}

function costText(job: JobView, maxPrice: number | undefined): string {
  if (job.cost !== undefined) return `${credits(job.cost)} credits${job.paid === false ? ' (not paid)' : ''}`;
  if (job.status === 'CANCELLED') return 'nothing: cancelled jobs are not charged';
  if (job.status === 'FAILED') return 'not settled yet (a failed job is charged only for what the ledger settles)';
  return TERMINAL_STATUSES.includes(job.status) ? 'not settled yet' : `at most ${maxPrice !== undefined ? `${credits(maxPrice)} credits` : 'the price cap'} (settled when it ends)`;
}

/** A clock that counts up: whole seconds (`7 s`, `2 min 5 s`). */
function seconds(ms: number | undefined): string {
  const s = Math.max(0, Math.floor((ms ?? 0) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Each step, and how long after the step before it (whichever earlier step the job went through). */
function timingsTable(job: JobView): HTMLElement {
  const t = job.timings as Record<string, string | undefined>;
  const running = !TERMINAL_STATUSES.includes(job.status) && t.assignedAt && !t.startedAt;
  const rows: [string, string | undefined, Node | string | undefined][] = [
    ['Created', t.createdAt, undefined],
    ['Queued', t.queuedAt, undefined],
    ['Assigned to a provider', t.assignedAt, undefined],
    // The provider reports the exact start with its result; until then the job runs from its placement.
    ['Started', t.startedAt ?? (running ? t.assignedAt : undefined), running ? h('span', { id: 'job-running-for' }, '') : undefined],
    ['Finished', t.finishedAt, undefined],
    ['Cancelled', t.cancelledAt, undefined],
  ];
  const shown = rows.filter(([, at]) => at);
  return h(
    'div',
    {},
    TERMINAL_STATUSES.includes(job.status) ? null : facts([['Elapsed', h('strong', { id: 'job-elapsed' }, seconds(between(t.createdAt, new Date().toISOString())))]]),
    table(
      'Timings',
      ['Step', 'At', 'After previous step'],
      shown.map(([label, at, extra], i) => {
        const prev = shown[i - 1]?.[1];
        return [label, when(at), extra ?? (prev && label !== 'Queued' ? duration(between(prev, at)) : '—')];
      }),
    ),
  );
}

/** Shows the job's ledger record and history, re-reading until the job is settled (or a minute passed). */
async function followLedger(ctx: PageContext, job: JobView, section: HTMLElement, rerender: () => void, update: (j: JobView) => void): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    let entry: JobLedger | undefined;
    try {
      entry = await ctx.api.getJobLedger(job.jobId);
    } catch (err) {
      clear(section, h('h2', { id: 'ledger-title' }, 'Ledger record'), alertBox(describeError(err)));
      return;
    }
    renderLedger(section, entry, job);
    const settled = entry.record && (entry.record.paid || entry.record.failed || entry.record.unpaidReason || job.status === 'CANCELLED');
    if ((settled && job.cost !== undefined) || job.status === 'CANCELLED' || Date.now() > until || ctx.signal.aborted) return;
    await sleep(1000);
    if (ctx.signal.aborted) return;
    if (settled) {
      // The read model (cost on the job) follows the ledger a moment later.
      job = await ctx.api.getJob(job.jobId, ctx.signal);
      update(job);
      rerender();
    }
  }
}

function renderLedger(section: HTMLElement, entry: JobLedger, job: JobView): void {
  const title = h('h2', { id: 'ledger-title' }, 'Ledger record');
  if (!entry.onLedger || !entry.record) {
    clear(
      section,
      title,
      h(
        'p',
        { class: 'muted' },
        job.verification
          ? 'A replicated job is on the ledger replica by replica, with the quorum decision and who was paid: open a replica above for its record.'
          : job.status === 'CANCELLED'
            ? 'This job never reached the ledger (it was cancelled before it was placed).'
            : 'Not on the ledger yet: the ledger writer commits it within moments…',
      ),
    );
    return;
  }
  const r = entry.record;
  clear(
    section,
    title,
    h('p', {}, 'The monitoring ledger’s copy of this job (Hyperledger Fabric chaincode): the provider signed the run time; the controller confirmed the result; the chaincode moved the cost.'),
    facts([
      ['Developer', r.developerId],
      ['Provider', r.providerId],
      ['Function', `${r.functionId} v${r.functionVersion}`],
      ['Created on the ledger', when(r.createdAt)],
      ['Run time (signed by the provider)', r.runtimeMs === undefined ? 'not reported yet' : `${duration(r.runtimeMs)}${r.status ? `, ${r.status}` : ''}${r.runtimeSetAt ? ` at ${when(r.runtimeSetAt)}` : ''}`],
      ['Result received', r.received ? `yes${r.resultSha256 ? `, SHA-256 ${r.resultSha256.slice(0, 16)}…` : ''}${r.receivedAt ? ` at ${when(r.receivedAt)}` : ''}` : 'not yet'],
      ['Price cap', `${credits(r.maxCost)} credits`],
      ['Cost', r.cost === undefined ? '—' : `${credits(r.cost)} credits`],
      ['Paid', r.paid ? `yes${r.paidAt ? `, at ${when(r.paidAt)}` : ''}` : r.unpaidReason ? `no: ${r.unpaidReason}` : r.failed ? `no: ${r.failed}` : 'not yet'],
    ]),
    h('h3', {}, 'History'),
    table(
      'Ledger history of the job',
      ['#', 'Committed', 'Transaction', 'Change'],
      entry.history.map((hEntry, i) => [String(i + 1), when(hEntry.timestamp), h('code', { title: hEntry.txId }, `${hEntry.txId.slice(0, 12)}…`), describeChange(entry.history[i - 1]?.value ?? null, hEntry.value)]),
      { captionHidden: true },
    ),
  );
}

/**
 * What one ledger write changed, in words. One transaction may both create a job and settle it
 * (the ledger writer batches a job's events when they wait together), so a creation also names
 * what else it recorded.
 */
function describeChange(before: LedgerJob | null, after: LedgerJob | null): string {
  if (!after) return 'deleted';
  const said: string[] = before ? [] : ['job created'];
  const was: Partial<LedgerJob> = before ?? {};
  if (after.runtimeMs !== undefined && was.runtimeMs === undefined) said.push(`run time ${duration(after.runtimeMs)} set (provider’s signature verified)`);
  if (after.received && !was.received) said.push('result receipt confirmed');
  if (after.paid && !was.paid) said.push(`paid ${credits(after.cost)} credits`);
  if (after.unpaidReason && !was.unpaidReason) said.push(`not paid: ${after.unpaidReason}`);
  if (after.failed && !was.failed) said.push(`failed: ${after.failed}`);
  if (said.length === 0 && before) {
    const keys = Object.keys(after).filter((k) => JSON.stringify((after as Record<string, unknown>)[k]) !== JSON.stringify((before as Record<string, unknown>)[k]));
    said.push(keys.length ? `changed ${keys.join(', ')}` : 'no change');
  }
  return said.join('; ');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How often the Tasks list reads its jobs again. */
const REFRESH_MS = 3000;
