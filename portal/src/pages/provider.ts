import { h, facts, table } from '../dom';
import { credits, when } from '../format';
import { PageContext, pageTitle } from '../app';

/**
 * The provider dashboard: what the account earned, job by job, from the monetary ledger (every
 * settlement that paid this provider), and how to connect a machine with the provider agent.
 */
export async function providerPage(ctx: PageContext): Promise<Node> {
  const [account, history] = await Promise.all([ctx.api.account(), ctx.api.accountHistory()]);
  const earned = history.items.filter((e) => e.kind === 'settlement' && e.amount > 0);
  const total = earned.reduce((sum, e) => sum + e.amount, 0);
  return h(
    'section',
    {},
    pageTitle('Provider'),
    facts([
      ['Earnings', h('strong', { id: 'earnings' }, `${credits(total)} credits`)],
      ['Jobs paid', h('span', { id: 'jobs-paid' }, String(earned.length))],
      ['Balance', `${credits(account.balance)} credits`],
      ['Last payment', earned[0] ? when(earned[0].timestamp) : 'none yet'],
    ]),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'earned-title' },
      h('h2', { id: 'earned-title' }, 'Payments for jobs run'),
      table(
        'Payments for jobs run',
        ['When', 'Job', 'Amount (credits)', 'Ledger transaction'],
        earned.map((e) => [when(e.timestamp), e.reference, `+${credits(e.amount)}`, h('code', { title: e.txId }, `${e.txId.slice(0, 12)}…`)]),
        { captionHidden: true, empty: 'No job has paid this account yet. Connect a machine (below) and keep it online.' },
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'connect-title' },
      h('h2', { id: 'connect-title' }, 'Connect a machine'),
      h('p', {}, 'Install Docker, create an API token on the ', h('a', { href: '#/account' }, 'Account'), ' page, then run the provider agent:'),
      h(
        'pre',
        { class: 'output', tabindex: 0, 'aria-label': 'Commands to connect a machine' },
        `chainfaas-provider register --api-url ${ctx.api.baseUrl} --token <your API token> --vcpu 4 --memory-mb 8192\nchainfaas-provider start\nchainfaas-provider status`,
      ),
      h('p', { class: 'hint' }, 'The agent keeps its private key on your machine; the platform only sees its public key.'),
    ),
  );
}
