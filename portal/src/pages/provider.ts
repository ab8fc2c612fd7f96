import { AccountEntry, describeError, Earnings, ProviderView } from '../client';
import { alertBox, copyButton, facts, h, table } from '../dom';
import { credits, when } from '../format';
import { PageContext, pageTitle, refreshEvery } from '../app';
import { barChart } from '../charts';

/**
 * The provider dashboard: each of the account's machines (capacity, what is free of it, online or
 * offline by the scheduler's own rule, last heartbeat, running jobs, jobs run and earnings per day
 * and per function from the ledger), what the account earned in all, job by job, and how to
 * connect a machine with the provider agent. Each part that fails says so in place; the rest of
 * the page still shows.
 */
export async function providerPage(ctx: PageContext): Promise<Node> {
  const [account, history, providers] = await Promise.all([
    ctx.api.account().catch((err: unknown) => err as Error),
    ctx.api.accountHistory({ limit: 200 }).catch((err: unknown) => err as Error),
    ctx.api.listProviders().catch((err: unknown) => err as Error),
  ]);
  const cards = providers instanceof Error ? [] : await Promise.all(providers.items.map((p) => providerCard(ctx, p)));
  const machines =
    providers instanceof Error
      ? alertBox(`Your providers could not be read: ${describeError(providers)}`)
      : providers.items.length === 0
        ? h('p', { class: 'empty' }, 'No machine is registered to this account yet. Connect one (below).')
        : h('div', {}, ...cards.map((c) => c.element));
  // Earnings and balance follow the ledger by themselves (redrawn only when they changed).
  let summary = earningsSummary(account, history);
  refreshEvery(
    ctx,
    5000,
    [account, history] as [typeof account, typeof history],
    async () => [await ctx.api.account(), await ctx.api.accountHistory({ limit: 200 })] as [typeof account, typeof history],
    ([a, hist]) => {
      const next = earningsSummary(a, hist);
      summary.replaceWith(next);
      summary = next;
    },
  );
  return h(
    'section',
    {},
    pageTitle('Provider'),
    summary,
    earningsCharts(history, providers instanceof Error ? [] : providers.items.map((p, i) => ({ name: p.name, earned: cards[i]?.total }))),
    h('section', { class: 'panel', 'aria-labelledby': 'machines-title' }, h('h2', { id: 'machines-title' }, 'Your machines'), machines),
    history instanceof Error ? '' : paymentsPanel(history.items.filter((e) => e.kind === 'settlement' && e.amount > 0)),
    connectPanel(ctx),
  );
}

function earningsSummary(account: { balance: number } | Error, history: { items: AccountEntry[] } | Error): HTMLElement {
  if (history instanceof Error) return alertBox(`Your earnings could not be read from the ledger: ${describeError(history)}`);
  const earned = history.items.filter((e) => e.kind === 'settlement' && e.amount > 0);
  const total = earned.reduce((sum, e) => sum + e.amount, 0);
  return facts([
    ['Earnings', h('strong', { id: 'earnings' }, `${credits(total)} credits`)],
    ['Jobs paid', h('span', { id: 'jobs-paid' }, String(earned.length))],
    ['Balance', account instanceof Error ? describeError(account) : `${credits(account.balance)} credits`],
    ['Last payment', earned[0] ? when(earned[0].timestamp) : 'none yet'],
  ]);
}

function ago(seconds: number): string {
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} days ago`;
}

function stateText(p: ProviderView): string {
  if (p.state === 'online') return `online: heard from ${ago(p.silentS)}; the scheduler places jobs on it`;
  if (p.state === 'draining') return 'draining: it finishes its running jobs and takes no new ones';
  return `offline: no heartbeat for ${ago(p.silentS).replace(/ ago$/, '')} (online means one within the last ${p.onlineWithinS} s); start its agent with chainfaas-provider start`;
}

/** Earnings drawn: per day (UTC, the ledger's settlements to this account) and per machine. */
function earningsCharts(history: { items: AccountEntry[] } | Error, machines: { name: string; earned: number | undefined }[]): HTMLElement | string {
  if (history instanceof Error) return '';
  const perDay = new Map<string, number>();
  for (const e of history.items) if (e.kind === 'settlement' && e.amount > 0) perDay.set(e.timestamp.slice(0, 10), (perDay.get(e.timestamp.slice(0, 10)) ?? 0) + e.amount);
  const days = [...perDay.keys()].sort().slice(-14);
  const known = machines.filter((m): m is { name: string; earned: number } => m.earned !== undefined);
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'earnings-charts-title' },
    h('h2', { id: 'earnings-charts-title' }, 'Earnings'),
    barChart('chart-earnings-day', 'Earned per day (UTC), credits', days, days.map((d) => perDay.get(d) ?? 0)),
    barChart('chart-earnings-machine', 'Earned per machine, credits', known.map((m) => m.name), known.map((m) => m.earned)),
  );
}

/** One machine: its state and capacity from GET /providers, its earnings from GET /providers/{id}/earnings. */
async function providerCard(ctx: PageContext, p: ProviderView): Promise<{ element: HTMLElement; total: number | undefined }> {
  const [byDay, byFunction] = await Promise.all([
    ctx.api.providerEarnings(p.providerId, 'day').catch((err: unknown) => err as Error),
    ctx.api.providerEarnings(p.providerId, 'function').catch((err: unknown) => err as Error),
  ]);
  const titleId = `provider-${p.providerId}-title`;
  const earnings = (e: Earnings | Error): [string, HTMLElement | string][] =>
    e instanceof Error
      ? [['Earnings', alertBox(`could not be read from the ledger: ${describeError(e)}`)]]
      : [
          ['Jobs run (paid)', h('span', { class: 'jobs-run' }, String(e.items.reduce((n, i) => n + i.jobs, 0)))],
          ['Earned', h('span', { class: 'provider-earned' }, `${credits(e.total)} credits`)],
        ];
  const element = h(
    'section',
    { class: 'provider-card', id: `provider-${p.providerId}`, 'data-provider': p.providerId, 'aria-labelledby': titleId },
    h('h3', { id: titleId }, p.name, ' ', h('code', {}, p.providerId), ' ', h('span', { class: `badge state-${p.state}`, 'data-state': p.state }, p.state)),
    facts([
      ['State', h('span', { class: 'state-text' }, stateText(p))],
      ['Last heartbeat', h('span', { class: 'last-heartbeat' }, `${when(p.lastHeartbeatAt)} (${ago(p.silentS)})`)],
      ['Capacity', h('span', { class: 'capacity' }, `${p.capacity.vcpu} vCPU, ${p.capacity.memoryMb} MB memory, ${p.capacity.diskMb} MB disk`)],
      ['Free now', h('span', { class: 'free' }, `${p.free.vcpu} vCPU, ${p.free.memoryMb} MB memory, ${p.free.diskMb} MB disk`)],
      ['Running jobs', h('span', { class: 'running' }, String(p.runningJobs))],
      ['Cached images', String(p.cachedImages)],
      // Issue #19: how its results fared when checked against other owners' (replicated jobs).
      [
        'Reputation',
        h(
          'span',
          { class: 'reputation' },
          p.reputation
            ? `score ${p.reputation.score.toFixed(2)}: ${p.reputation.agreed} agreed, ${p.reputation.disagreed} disagreed, ${p.reputation.missed} missed; ` +
                `${p.reputation.consecutiveValid} valid in a row${p.reputation.suspendedUntil && p.reputation.suspendedUntil > new Date().toISOString() ? `; suspended until ${when(p.reputation.suspendedUntil)}` : ''}`
            : 'no replicated job decided yet',
        ),
      ],
      ...earnings(byDay),
    ]),
    byDay instanceof Error || byDay.items.length === 0
      ? ''
      : table(
          `Earnings of ${p.name} per day`,
          ['Day (UTC)', 'Jobs', 'Earned (credits)'],
          byDay.items.map((i) => [i.day ?? '', String(i.jobs), `+${credits(i.earned)}`]),
        ),
    byFunction instanceof Error || byFunction.items.length === 0
      ? ''
      : table(
          `Earnings of ${p.name} per function`,
          ['Function', 'Jobs', 'Disk (MB·s)', 'Earned (credits)'],
          byFunction.items.map((i) => [
            h('span', { title: i.functionId ?? '' }, i.name ?? h('code', {}, i.functionId ?? '')),
            String(i.jobs),
            // Scratch space the jobs held (issue #23), the quantity the disk unit pays for.
            (Math.round((i.diskMbMs ?? 0) / 100) / 10).toLocaleString('en-US'),
            `+${credits(i.earned)}`,
          ]),
        ),
  );
  return { element, total: byDay instanceof Error ? undefined : byDay.total };
}

function paymentsPanel(earned: AccountEntry[]): HTMLElement {
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'earned-title' },
    h('h2', { id: 'earned-title' }, 'Payments for jobs run'),
    table(
      'Payments for jobs run',
      ['When', 'Job', 'Amount (credits)', 'Ledger transaction'],
      earned.map((e) => [when(e.timestamp), e.reference, `+${credits(e.amount)}`, h('code', { title: e.txId }, `${e.txId.slice(0, 12)}…`)]),
      { captionHidden: true, empty: 'No job has paid this account yet. Connect a machine (below) and keep it online.' },
    ),
  );
}

function connectPanel(ctx: PageContext): HTMLElement {
  // Exactly what to run, locally and in AWS: the agent needs no variable besides these flags.
  const commands = `chainfaas-provider register --api-url ${ctx.api.baseUrl} --token <your API token> --vcpu 4 --memory-mb 8192\nchainfaas-provider start\nchainfaas-provider status`;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'connect-title' },
    h('h2', { id: 'connect-title' }, 'Connect a machine'),
    h('p', {}, 'Install Docker, create an API token on the ', h('a', { href: '#/account' }, 'Account'), ' page, then run the provider agent:'),
    h('pre', { class: 'output', id: 'connect-commands', tabindex: 0, 'aria-label': 'Commands to connect a machine' }, commands),
    copyButton(commands, 'Copy the commands', 'copy-connect'),
    h('p', { class: 'hint' }, 'The agent keeps its private key on your machine; the platform only sees its public key.'),
  );
}
