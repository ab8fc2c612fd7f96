import { credits, parseCredits, when } from '../portal/src/format';
import { cardTopUp, listPayouts, newReference, payoutOnboarding, Payout, withdraw } from '../portal/src/payments-client';
import { UsageError } from './args';
import { Command, EXIT, fetchAndShow } from './commands';
import { printJson, printTable } from './output';

/**
 * Card top-ups and payouts in the CLI (issue #21): `top-up --card` prints the checkout page,
 * `withdraw`, `payouts` (and `payouts onboard`). all-commands.ts adds them to the command list.
 */

const REFERENCE = /^[A-Za-z0-9._:-]{1,100}$/;

function amountOf(text: string, command: string): number {
  const amount = parseCredits(text);
  if (amount === undefined || amount < 1) throw new UsageError(`AMOUNT ${text}: write credits such as 25 or 0.5 (at most 6 decimals)`, command);
  return amount;
}

function referenceOf(flag: unknown, prefix: string, command: string, say: (line: string) => void): string {
  const reference = (flag as string | undefined) ?? newReference(prefix);
  if (!REFERENCE.test(reference)) throw new UsageError(`--reference ${reference}: letters, digits and . _ : - only, 1 to 100 characters`, command);
  if (flag === undefined) say(`reference ${reference} (retry with --reference ${reference} if this one's outcome is unknown)`);
  return reference;
}

/** `top-up` with `--card`: a checkout page instead of a direct charge; without it, `topUp` as it was. */
export function withCardTopUp(topUp: Command): Command {
  if (topUp.name !== 'top-up') return topUp;
  return {
    ...topUp,
    usage: `${topUp.usage} [--card]`,
    flags: { ...topUp.flags, card: { kind: 'boolean', help: "pay by card: prints the payment provider's checkout page; the balance grows once it is paid" } },
    details: `${topUp.details ?? ''}\n\nWith --card, prints the checkout page to pay on (exit 0); credits arrive once the payment provider confirms the payment.`,
    async run(ctx) {
      if (ctx.flags.card !== true) return topUp.run(ctx);
      const amountText = ctx.args[0];
      if (amountText === undefined) throw new UsageError('missing AMOUNT', 'top-up');
      if (ctx.args.length > 1) throw new UsageError(`unexpected argument "${ctx.args[1]}"`, 'top-up');
      const amount = amountOf(amountText, 'top-up');
      const reference = referenceOf(ctx.flags.reference, 'cli-card', 'top-up', (line) => ctx.io.stderr.write(`top-up ${line}\n`));
      const t = await cardTopUp(ctx.api(), amount, reference);
      if (ctx.json) printJson(ctx.io, t);
      else if (t.checkoutUrl) ctx.io.stdout.write(`Pay ${credits(t.amount)} credits by card at:\n${t.checkoutUrl}\n`);
      else ctx.io.stdout.write(`Card top-up ${t.reference} is already ${t.status}${t.paidAmount === undefined ? '' : ` (${credits(t.paidAmount)} credits paid)`}: nothing more to pay.\n`);
      return EXIT.ok;
    },
  };
}

const withdrawCommand = fetchAndShow({
  name: 'withdraw',
  summary: 'withdraw settled earnings to your payout account (providers)',
  usage: 'chainfaas withdraw AMOUNT [--reference REF]',
  flags: { reference: { kind: 'string', value: 'REF', help: 'idempotency reference; default: a new one, printed' } },
  details: 'AMOUNT is in credits. The same --reference again pays nothing more. See the outcome with chainfaas payouts.',
  args: ['AMOUNT'],
  fetch: async (ctx, [amountText]) => {
    const amount = amountOf(amountText as string, 'withdraw');
    const reference = referenceOf(ctx.flags.reference, 'cli-payout', 'withdraw', (line) => ctx.io.stderr.write(`withdrawal ${line}\n`));
    return withdraw(ctx.api(), amount, reference);
  },
  show: (ctx, p) =>
    ctx.io.stdout.write(
      p.replayed
        ? `Withdrawal ${p.reference} (${p.payoutId}) was already requested: ${p.status}.\n`
        : `Requested payout ${p.payoutId}: ${credits(p.amount)} credits (fee ${credits(p.fee)}, sent ${credits(p.net)}). chainfaas payouts shows when it is paid.\n`,
    ),
});

const payoutRows = (items: Payout[]) => items.map((p) => [p.payoutId, p.status, credits(p.amount), credits(p.fee), when(p.requestedAt), when(p.settledAt), p.transferId ?? p.failureReason ?? '']);

const payoutsList = fetchAndShow({
  name: 'payouts list',
  summary: 'your payouts, newest first',
  usage: 'chainfaas payouts list',
  flags: {},
  fetch: async (ctx) => (await listPayouts(ctx.api())).items,
  show: (ctx, items) => {
    if (items.length === 0) ctx.io.stdout.write('No payouts.\n');
    else printTable(ctx.io, ['Payout', 'Status', 'Amount', 'Fee', 'Requested', 'Settled', 'Transfer / reason'], payoutRows(items));
  },
});

const payouts: Command = { ...payoutsList, name: 'payouts', summary: 'your payouts (payouts list, payouts onboard)', usage: 'chainfaas payouts [list|onboard]' };

const payoutsOnboard = fetchAndShow({
  name: 'payouts onboard',
  summary: 'set up your payout account: prints the onboarding link',
  usage: 'chainfaas payouts onboard',
  flags: {},
  fetch: async (ctx) => payoutOnboarding(ctx.api()),
  show: (ctx, o) => ctx.io.stdout.write(`Payout account ${o.connectedAccountId}. Finish setting it up at:\n${o.onboardingUrl}\n`),
});

export const PAYMENT_COMMANDS: Command[] = [withdrawCommand, payouts, payoutsList, payoutsOnboard];
