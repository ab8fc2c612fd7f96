import { AccountEntry, describeError } from '../client';
import { alertBox, busy, clear, field, h, notice, table } from '../dom';
import { credits, when } from '../format';
import { onAmountSubmit } from '../forms';
import { PageContext, pageTitle } from '../app';
import { cardTopUp, listPayouts, Payout, payoutOnboarding, withdraw } from '../payments-client';

/**
 * Money in and out (issue #21), `#/payments`: top up by card (the payment provider's checkout page:
 * the portal redirects there and the provider sends the user back here), and for providers the
 * payout account, withdrawals and their history; the ledger's movements of both. Each top-up or
 * withdrawal keeps its reference until the API answered, so a double click or a retry after a
 * network error opens one checkout or requests one payout.
 */
export async function paymentsPage(ctx: PageContext): Promise<Node> {
  const isProvider = ctx.me.roles.includes('provider');
  const [history, payouts] = await Promise.all([
    ctx.api.accountHistory({ limit: 200 }).catch((err: unknown) => err as Error),
    isProvider ? listPayouts(ctx.api).catch((err: unknown) => err as Error) : Promise.resolve(undefined),
  ]);
  return h(
    'section',
    {},
    pageTitle('Payments'),
    cardPanel(ctx),
    isProvider ? payoutPanel(ctx) : '',
    payouts === undefined ? '' : payoutsTable(payouts),
    movements(history),
  );
}

function cardPanel(ctx: PageContext): HTMLElement {
  const amount = h('input', { id: 'card-amount', name: 'amount', 'data-field': 'amount', inputmode: 'decimal', autocomplete: 'off', placeholder: 'e.g. 25' });
  const form = h('form', { class: 'inline-form', id: 'card-form', novalidate: true }, field('Amount (credits)', amount, 'Whole cents: one credit is one cent by default.'), h('button', { type: 'submit' }, 'Pay by card'));
  onAmountSubmit(form, amount, {
    referencePrefix: 'portal-card',
    invalid: 'Amount: write a number of credits such as 25.',
    send: async (micro, reference) => {
      const back = `${location.origin}${location.pathname}#/payments`;
      const topUp = await busy(form, () => cardTopUp(ctx.api, micro, reference, back));
      if (topUp.checkoutUrl) location.assign(topUp.checkoutUrl);
      else form.append(notice(`Card top-up ${topUp.reference} is already ${topUp.status}.`, 'info'));
    },
  });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'card-title' },
    h('h2', { id: 'card-title' }, 'Top up by card'),
    h('p', {}, "You pay on the payment provider's page and come back here; your balance grows by what the provider says you paid, once it confirms the payment."),
    form,
  );
}

function payoutPanel(ctx: PageContext): HTMLElement {
  const result = h('div', { id: 'payout-result', 'aria-live': 'polite' });
  const onboard = h('button', { type: 'button', id: 'payout-onboard' }, 'Set up payout account');
  onboard.addEventListener('click', async () => {
    try {
      const o = await payoutOnboarding(ctx.api, `${location.origin}${location.pathname}#/payments`);
      location.assign(o.onboardingUrl);
    } catch (err) {
      clear(result, alertBox(describeError(err)));
    }
  });
  const amount = h('input', { id: 'withdraw-amount', name: 'amount', 'data-field': 'amount', inputmode: 'decimal', autocomplete: 'off', placeholder: 'e.g. 25' });
  const form = h('form', { class: 'inline-form', id: 'withdraw-form', novalidate: true }, field('Amount (credits)', amount, 'Settled earnings only.'), h('button', { type: 'submit' }, 'Withdraw'));
  onAmountSubmit(form, amount, {
    referencePrefix: 'portal-payout',
    invalid: 'Amount: write a number of credits such as 25.',
    send: async (micro, reference) => {
      const p = await busy(form, () => withdraw(ctx.api, micro, reference));
      amount.value = '';
      clear(result, notice(`Payout ${p.payoutId} of ${credits(p.amount)} credits requested (${credits(p.net)} sent after the fee). Reload to follow it.`, 'ok'));
    },
  });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'payout-title' },
    h('h2', { id: 'payout-title' }, 'Withdraw earnings'),
    h('p', {}, 'Payouts go to your account at the payment provider; set it up once, then withdraw what your machines earned.'),
    onboard,
    form,
    result,
  );
}

function payoutsTable(payouts: { items: Payout[] } | Error): HTMLElement {
  if (payouts instanceof Error) return alertBox(`Your payouts could not be read from the ledger: ${describeError(payouts)}`);
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'payouts-title' },
    h('h2', { id: 'payouts-title' }, 'Payouts'),
    table(
      'Payouts',
      ['Requested', 'Payout', 'Status', 'Amount (credits)', 'Fee', 'Transfer or reason'],
      payouts.items.map((p) => [when(p.requestedAt), h('code', {}, p.payoutId), p.status, credits(p.amount), credits(p.fee), p.transferId ?? p.failureReason ?? '']),
      { captionHidden: true, empty: 'No payouts yet.' },
    ),
  );
}

const MONEY_KINDS = new Set(['topup', 'reversal', 'payout', 'payoutreturn']);

function movements(history: { items: AccountEntry[] } | Error): HTMLElement {
  if (history instanceof Error) return alertBox(`Your history could not be read from the ledger: ${describeError(history)}`);
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'money-title' },
    h('h2', { id: 'money-title' }, 'Money in and out'),
    table(
      'Money in and out',
      ['When', 'Kind', 'Amount (credits)', 'Reference'],
      history.items.filter((e) => MONEY_KINDS.has(e.kind)).map((e) => [when(e.timestamp), e.kind, `${e.amount > 0 ? '+' : ''}${credits(e.amount)}`, e.reference]),
      { captionHidden: true, empty: 'No top-ups or payouts yet.' },
    ),
  );
}
