import { Account, AccountEntry, Bill, Credential, describeError } from '../client';
import { alertBox, announce, busy, clear, confirmButton, copyButton, facts, field, h, notice, table } from '../dom';
import { clearFormError, onAmountSubmit, showFormError } from '../forms';
import { credits, duration, when } from '../format';
import { link, PageContext, pageTitle, refreshEvery } from '../app';
import { barChart } from '../charts';

/**
 * Account: balance, holds and what is available, payment terms; top-ups; monthly bills (download
 * as JSON or CSV, pay when the API says a bill is payable); the account history on the monetary
 * ledger, newest first, a page at a time; API tokens.
 */

const HISTORY_PAGE = 20;

export async function accountPage(ctx: PageContext): Promise<Node> {
  const [account, history, bills] = await Promise.all([
    ctx.api.account(),
    // A ledger or bills outage leaves the rest of the page usable: the panel says what went wrong.
    ctx.api.accountHistory({ limit: HISTORY_PAGE }).catch((err: unknown) => err as Error),
    // A bills outage leaves the rest of the page usable: the panel says what went wrong.
    ctx.api.listBills().catch((err: unknown) => err as Error),
  ]);
  const summary = h('div', { id: 'account-summary' });
  const showSummary = (a: Account) => clear(summary, summaryFacts(ctx, a, bills instanceof Error ? undefined : bills.items));
  showSummary(account);
  const historyPanel = historySection(ctx, history instanceof Error ? [] : history.items, history instanceof Error ? undefined : history.next);
  if (history instanceof Error) historyPanel.element.querySelector('#history-list')?.replaceChildren(alertBox(`The account history could not be read from the ledger: ${describeError(history)}`));
  const refresh = async () => {
    showSummary(await ctx.api.account());
    await historyPanel.reload();
  };
  // Balance, held and available follow settlements by themselves (redrawn only when they changed).
  refreshEvery(ctx, 5000, account, () => ctx.api.account(), showSummary);
  const spending = ctx.me.roles.includes('developer') ? await spendingPanel(ctx, bills instanceof Error ? [] : bills.items) : null;
  return h(
    'section',
    {},
    pageTitle('Account'),
    summary,
    spending,
    h('p', { class: 'hint' }, '1 credit = 1 000 000 micro-credits; amounts are exact. The balance follows the monetary ledger’s committed transactions.'),
    topUpPanel(ctx, refresh),
    billsPanel(ctx, bills, refresh),
    historyPanel.element,
    await tokensPanel(ctx),
  );
}

/**
 * Where the money went, drawn: what jobs cost per day (UTC, from the ledger's settlements in the
 * newest 200 movements) and per function this month (the month's statement, by function name).
 */
async function spendingPanel(ctx: PageContext, bills: Bill[]): Promise<HTMLElement> {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'spending-title' }, h('h2', { id: 'spending-title' }, 'Spending'));
  const [history, bill] = await Promise.all([
    ctx.api.accountHistory({ limit: 200 }).catch((err: unknown) => err as Error),
    bills[0] ? ctx.api.getBill(bills[0].month).catch((err: unknown) => err as Error) : Promise.resolve(undefined),
  ]);
  if (history instanceof Error) section.append(alertBox(`The spending per day could not be read from the ledger: ${describeError(history)}`));
  else {
    const perDay = new Map<string, number>();
    for (const e of history.items) if (e.kind === 'settlement' && e.amount < 0) perDay.set(e.timestamp.slice(0, 10), (perDay.get(e.timestamp.slice(0, 10)) ?? 0) - e.amount);
    const days = [...perDay.keys()].sort().slice(-14);
    section.append(barChart('chart-spend-day', 'Spent per day (UTC), credits', days, days.map((d) => perDay.get(d) ?? 0)));
  }
  if (bill instanceof Error) section.append(alertBox(`The spending per function could not be read: ${describeError(bill)}`));
  else if (bill)
    section.append(
      barChart(
        'chart-spend-function',
        `Spent per function in ${bill.month}, credits`,
        bill.lines.map((l) => l.name ?? l.functionId),
        bill.lines.map((l) => l.cost),
      ),
    );
  return section;
}

function summaryFacts(ctx: PageContext, account: Account, bills: Bill[] | undefined): HTMLElement {
  const agree = account.ledgerBalance === undefined || account.ledgerBalance === account.balance;
  const terms = account.terms ?? bills?.[0]?.terms ?? 'prepaid';
  return facts([
    ['Account', `${ctx.me.email} (${account.accountId})`],
    ['Roles', ctx.me.roles.join(', ')],
    ['Balance', h('strong', { id: 'balance' }, `${credits(account.balance)} credits`)],
    [
      'Held',
      h(
        'span',
        { id: 'held' },
        `${credits(account.held ?? 0)} credits`,
        h('span', { class: 'hint' }, ' (reserved for running jobs: each one’s most possible cost)'),
      ),
    ],
    ['Available', h('span', { id: 'available' }, `${credits(account.available ?? account.balance)} credits`)],
    [
      'Terms',
      h(
        'span',
        { id: 'terms' },
        terms === 'invoice' ? 'invoice: jobs are billed monthly; pay each bill below' : `${terms}: each job is paid from the balance when it settles`,
      ),
    ],
    ...(terms === 'invoice'
      ? ([
          ['Credit limit', h('span', { id: 'credit-limit' }, `${credits(account.creditLimit ?? 0)} credits`)],
          ['Owed', h('span', { id: 'owed' }, `${credits(account.owed ?? 0)} credits`)],
        ] as [string, HTMLElement][])
      : []),
    [
      'On the ledger',
      h(
        'span',
        { id: 'ledger-balance' },
        account.ledgerBalance === undefined
          ? 'the ledger did not answer'
          : `${credits(account.ledgerBalance)} credits${agree ? ' (agrees)' : ' — the balance above is catching up with the ledger'}`,
      ),
    ],
  ]);
}

/**
 * Top up through the payment provider. The reference is made once per top-up and reused until
 * the API confirms it, so a double click, a retry after a network error or a resubmission charges
 * once; a different amount is a different top-up with a reference of its own.
 */
function topUpPanel(ctx: PageContext, refresh: () => Promise<void>): HTMLElement {
  const amount = h('input', { id: 'top-up-amount', name: 'amount', 'data-field': 'amount', inputmode: 'decimal', autocomplete: 'off', placeholder: 'e.g. 25' });
  const submit = h('button', { type: 'submit' }, 'Top up');
  const form = h('form', { class: 'inline-form', id: 'top-up-form', novalidate: true }, field('Amount (credits)', amount, 'Up to 6 decimals.'), submit);
  const result = h('div', { id: 'top-up-result', 'aria-live': 'polite' });
  onAmountSubmit(form, amount, {
    referencePrefix: 'portal',
    invalid: 'Amount: write a number of credits such as 25 or 0.5 (at most 6 decimals).',
    send: async (micro, reference) => {
      const topUp = await busy(form, () => ctx.api.topUp(micro, reference));
      amount.value = '';
      clear(result, notice(`Top-up of ${credits(topUp.amount)} credits approved (reference ${topUp.reference}). Waiting for the ledger to credit it…`, 'info'));
      const credited = await waitForCredit(ctx, topUp.reference);
      if (ctx.signal.aborted) return;
      await refresh();
      const message = credited
        ? `Top-up of ${credits(topUp.amount)} credits credited (reference ${topUp.reference}).`
        : `Top-up of ${credits(topUp.amount)} credits approved (reference ${topUp.reference}); the ledger has not credited it yet — reload in a moment.`;
      clear(result, notice(message, credited ? 'ok' : 'info'));
      announce(message);
    },
  });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'top-up-title' },
    h('h2', { id: 'top-up-title' }, 'Top up'),
    h('p', {}, 'Add credits to your balance through the payment provider. Each top-up is charged once, however often the button is pressed.'),
    form,
    result,
  );
}

/**
 * Polls until the top-up is credited: its transaction is on the ledger (the newest history
 * entries) and the balance read model has followed the ledger (`balance` agrees with
 * `ledgerBalance`), so the balance shown next includes it. Gives up after a minute.
 */
async function waitForCredit(ctx: PageContext, reference: string): Promise<boolean> {
  const until = Date.now() + 60_000;
  let onLedger = false;
  while (Date.now() < until && !ctx.signal.aborted) {
    if (!onLedger) onLedger = (await ctx.api.accountHistory({ limit: 10 })).items.some((e) => e.kind === 'topup' && e.reference.endsWith(`:${reference}`));
    if (onLedger) {
      const account = await ctx.api.account();
      if (account.ledgerBalance === undefined || account.ledgerBalance === account.balance) return true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/** Monthly bills: download the statement as JSON or CSV; pay one the API marks payable. */
function billsPanel(ctx: PageContext, bills: { items: Bill[] } | Error, refresh: () => Promise<void>): HTMLElement {
  const list = h('div', { id: 'bill-list' });
  const message = h('div', { id: 'bills-message', 'aria-live': 'polite' });
  const section = h('section', { class: 'panel', 'aria-labelledby': 'bills-title' }, h('h2', { id: 'bills-title' }, 'Bills'), message, list);
  const show = (items: Bill[]) =>
    clear(
      list,
      table(
        'Monthly bills',
        ['Month', 'Status', 'Jobs', 'Run time', 'Disk (MB·s)', 'Total (credits)', 'Due (credits)', 'Download', ''],
        items.map((b) => [
          b.month,
          h('span', { class: `badge bill-${b.status}` }, b.status),
          String(b.jobs),
          duration(b.runtimeMs),
          // Scratch space held while the jobs ran (issue #23), the quantity the disk unit prices.
          (Math.round((b.diskMbMs ?? 0) / 100) / 10).toLocaleString('en-US'),
          credits(b.total),
          credits(b.amountDue),
          h('span', { class: 'cell-actions' }, downloadButton(ctx, b.month, 'json', message), ' ', downloadButton(ctx, b.month, 'csv', message)),
          b.payable === true ? payButton(ctx, b, section, message, reload) : '',
        ]),
        { captionHidden: true, empty: 'No bills yet: a month gets a statement once a job of yours has settled in it.' },
      ),
    );
  const reload = async () => {
    show((await ctx.api.listBills()).items);
    await refresh();
  };
  if (bills instanceof Error) clear(list, alertBox(`The bills could not be read: ${describeError(bills)}`));
  else show(bills.items);
  return section;
}

function downloadButton(ctx: PageContext, month: string, format: 'json' | 'csv', message: HTMLElement): HTMLButtonElement {
  const button = h(
    'button',
    { type: 'button', class: 'small', id: `bill-${month}-${format}`, 'aria-label': `Download the ${month} bill as ${format.toUpperCase()}` },
    format.toUpperCase(),
  );
  button.addEventListener('click', async () => {
    try {
      const blob =
        format === 'csv'
          ? new Blob([await busy(button.parentElement as HTMLElement, () => ctx.api.getBillCsv(month))], { type: 'text/csv' })
          : new Blob([`${JSON.stringify(await busy(button.parentElement as HTMLElement, () => ctx.api.getBill(month)), null, 2)}\n`], {
              type: 'application/json',
            });
      saveBlob(blob, `chainfaas-bill-${month}.${format}`);
      clear(message);
    } catch (err) {
      clear(message, alertBox(`Could not download the ${month} bill: ${describeError(err)}`));
    }
  });
  return button;
}

function payButton(ctx: PageContext, bill: Bill, section: HTMLElement, message: HTMLElement, reload: () => Promise<void>): HTMLButtonElement {
  const button = h(
    'button',
    { type: 'button', class: 'small', id: `pay-${bill.month}`, 'aria-label': `Pay the ${bill.month} bill, ${credits(bill.amountDue)} credits` },
    `Pay ${credits(bill.amountDue)}`,
  );
  button.addEventListener('click', async () => {
    try {
      const paid = await busy(section, () => ctx.api.payBill(bill.month));
      const text = paid.replayed
        ? `The ${paid.month} bill was already paid (${credits(paid.amount)} credits, reference ${paid.reference}).`
        : `Paid the ${paid.month} bill: ${credits(paid.amount)} credits from your balance (reference ${paid.reference}); the ledger records it within moments.`;
      await reload();
      clear(message, notice(text, 'ok'));
      announce(text);
    } catch (err) {
      clear(message, alertBox(`The ${bill.month} bill was not paid. ${describeError(err)}`));
      (message.firstElementChild as HTMLElement | null)?.setAttribute('tabindex', '-1');
      (message.firstElementChild as HTMLElement | null)?.focus();
    }
  });
  return button;
}

function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The ledger's history, newest first, a page at a time ("Load more" follows the API's cursor). */
function historySection(ctx: PageContext, first: AccountEntry[], firstNext: string | undefined): { element: HTMLElement; reload(): Promise<void> } {
  let items = [...first];
  let next = firstNext;
  const region = h('div', { id: 'history-list' });
  const more = h('button', { type: 'button', id: 'history-more' }, 'Load more');
  const message = h('div', { 'aria-live': 'polite' });
  const show = () => {
    clear(region, historyTable(items));
    more.hidden = !next;
  };
  more.addEventListener('click', async () => {
    if (!next) return;
    try {
      const page = await busy(element, () => ctx.api.accountHistory({ limit: HISTORY_PAGE, cursor: next }));
      items = [...items, ...page.items];
      next = page.next;
      show();
      clear(message);
      announce(`Loaded ${page.items.length} more movements${next ? '' : '; that is all of them'}.`);
      (next ? more : ((region.querySelector('.table-wrap') as HTMLElement | null) ?? more)).focus();
    } catch (err) {
      clear(message, alertBox(describeError(err)));
    }
  });
  const element = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, 'Account history'),
    region,
    message,
    h('p', {}, more),
  );
  show();
  return {
    element,
    reload: async () => {
      const page = await ctx.api.accountHistory({ limit: Math.max(HISTORY_PAGE, items.length) });
      items = page.items;
      next = page.next;
      show();
    },
  };
}

function historyTable(items: AccountEntry[]): HTMLElement {
  return table(
    'Account history',
    ['When', 'What', 'Amount (credits)', 'Reference', 'Ledger transaction'],
    items.map((e) => [
      when(e.timestamp),
      entryKind(e),
      h('span', { class: e.amount < 0 ? 'debit' : 'credit' }, `${e.amount > 0 ? '+' : ''}${credits(e.amount)}`),
      referenceOf(e),
      h('code', { title: e.txId }, `${e.txId.slice(0, 12)}…`),
    ]),
    { captionHidden: true, empty: 'No movements yet.' },
  );
}

function entryKind(e: AccountEntry): string {
  if (e.kind === 'topup') return e.reference.startsWith('signup:') ? 'Sign-up credit' : 'Top-up';
  if (e.kind === 'settlement') return e.amount < 0 ? 'Job paid' : 'Job earned';
  return e.kind;
}

function referenceOf(e: AccountEntry): Node | string {
  const job = /^(job_[A-Za-z0-9]+)$/.exec(e.reference) ?? /(job_[A-Za-z0-9]+)/.exec(e.reference);
  if (e.kind === 'settlement' && job && e.amount < 0) return link(`#/jobs/${job[1]}`, e.reference);
  return e.reference;
}

/** API tokens for the CLI and scripts: created here, shown once, revoked here. */
async function tokensPanel(ctx: PageContext): Promise<HTMLElement> {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'tokens-title' }, h('h2', { id: 'tokens-title' }, 'API tokens'));
  section.append(
    h('p', {}, 'For the ', h('code', {}, 'chainfaas'), ' CLI, the provider agent and your scripts. A token acts as you; revoke one you no longer use.'),
  );
  const list = h('div', { id: 'token-list' });
  const created = h('div', { 'aria-live': 'polite', id: 'token-created' });
  const refresh = async () => {
    const { items } = await ctx.api.listTokens();
    clear(
      list,
      table(
        'API tokens',
        ['Name', 'Token', 'Created', 'Expires', ''],
        items.map((t: Credential) => {
          const label = t.name ?? t.hint;
          const revoke = confirmButton(
            'Revoke',
            `Revoke token ${label}? Everything using it (a CLI login, a provider agent, a script) is refused from now on.`,
            `Yes, revoke ${label}`,
            async () => {
              await ctx.api.revokeToken(t.tokenId);
              clear(created, notice(`Revoked token ${label}.`, 'ok'));
              announce(`Revoked token ${label}.`);
              await refresh();
              (section.querySelector('#token-name') as HTMLElement | null)?.focus();
            },
            { class: 'danger small', 'aria-label': `Revoke token ${label}` },
          );
          return [t.name ?? '(no name)', h('code', {}, t.hint), when(t.createdAt), when(t.expiresAt), revoke];
        }),
        { captionHidden: true, empty: 'No API tokens.' },
      ),
    );
  };
  const name = h('input', { id: 'token-name', name: 'name', 'data-field': 'name', autocomplete: 'off', placeholder: 'e.g. laptop CLI' });
  const form = h('form', { class: 'inline-form', novalidate: true }, field('Token name', name), h('button', { type: 'submit' }, 'Create token'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFormError(form);
    try {
      const t = await busy(form, () => ctx.api.createToken(name.value.trim() ? { name: name.value.trim() } : {}));
      clear(
        created,
        h(
          'div',
          { class: 'alert ok', role: 'status' },
          h('p', {}, h('strong', {}, 'Copy this token now: it is shown once. '), 'Use it with ', h('code', {}, 'chainfaas login --token'), '.'),
          h('code', { class: 'secret', id: 'new-token' }, t.token),
          ' ',
          copyButton(t.token, 'Copy the token', 'copy-new-token'),
        ),
      );
      name.value = '';
      await refresh();
    } catch (err) {
      showFormError(form, err);
    }
  });
  try {
    await refresh();
  } catch (err) {
    clear(list, alertBox(describeError(err)));
  }
  section.append(form, created, list);
  return section;
}
