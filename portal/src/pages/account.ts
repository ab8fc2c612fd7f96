import { AccountEntry, Credential, describeError } from '../client';
import { alertBox, announce, busy, clear, facts, field, h, notice, table } from '../dom';
import { clearFormError, showFormError } from '../forms';
import { credits, when } from '../format';
import { link, PageContext, pageTitle } from '../app';

/** Account: balance as the read model and the ledger see it, account history, API tokens. */

export async function accountPage(ctx: PageContext): Promise<Node> {
  const [account, history] = await Promise.all([ctx.api.account(), ctx.api.accountHistory()]);
  const agree = account.ledgerBalance === undefined || account.ledgerBalance === account.balance;
  return h(
    'section',
    {},
    pageTitle('Account'),
    facts([
      ['Account', `${ctx.me.email} (${account.accountId})`],
      ['Roles', ctx.me.roles.join(', ')],
      ['Balance', h('strong', { id: 'balance' }, `${credits(account.balance)} credits`)],
      [
        'On the ledger',
        h(
          'span',
          { id: 'ledger-balance' },
          account.ledgerBalance === undefined ? 'the ledger did not answer' : `${credits(account.ledgerBalance)} credits${agree ? ' (agrees)' : ' — the balance above is catching up with the ledger'}`,
        ),
      ],
    ]),
    h('p', { class: 'hint' }, '1 credit = 1 000 000 micro-credits; amounts are exact. The balance follows the monetary ledger’s committed transactions.'),
    historyTable(history.items),
    await tokensPanel(ctx),
  );
}

function historyTable(items: AccountEntry[]): HTMLElement {
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, 'Account history'),
    table(
      'Account history',
      ['When', 'What', 'Amount (credits)', 'Reference', 'Ledger transaction'],
      items.map((e) => [when(e.timestamp), entryKind(e), h('span', { class: e.amount < 0 ? 'debit' : 'credit' }, `${e.amount > 0 ? '+' : ''}${credits(e.amount)}`), referenceOf(e), h('code', { title: e.txId }, `${e.txId.slice(0, 12)}…`)]),
      { captionHidden: true, empty: 'No movements yet.' },
    ),
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
  section.append(h('p', {}, 'For the ', h('code', {}, 'chainfaas'), ' CLI, the provider agent and your scripts. A token acts as you; revoke one you no longer use.'));
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
          const revoke = h('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke token ${t.name ?? t.hint}` }, 'Revoke');
          revoke.addEventListener('click', async () => {
            try {
              await busy(section, () => ctx.api.revokeToken(t.tokenId));
              clear(created, notice(`Revoked token ${t.name ?? t.hint}.`, 'ok'));
              announce(`Revoked token ${t.name ?? t.hint}.`);
              await refresh();
              (section.querySelector('#token-name') as HTMLElement | null)?.focus();
            } catch (err) {
              clear(created, alertBox(describeError(err)));
            }
          });
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
