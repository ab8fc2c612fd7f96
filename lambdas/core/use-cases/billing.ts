import { z } from 'zod';
import { EarningsQuery, HistoryQuery, LIMITS, Month, PricesBody, TermsBody, TopUpBody } from '../../../contract/src/requests';
import type { Bill, BillLine, BillReceipt } from '../../../contract/src/answers';
import { conflict, DomainError, notFound } from '../errors';
import type { AccountEntry, Ledger, LedgerBilling, LedgerInvoice } from '../ledger';
import type { JobRecord, User } from '../model';
import type { PublishedPrices } from '../ports';
import { Deps, getOwnProvider, nowIso, parse, requireOperator } from './context';
import { pricesInForce, rememberPrices } from './holds';

/**
 * Billing (Color-FaaS on top of ChainFaaS's per-job ledger settlement):
 *
 * - Billing units: a versioned price list (micro-credits per vCPU-ms and per MB-ms). The version
 *   in force is the highest of the configured one (PRICE_VERSION...) and the ones the operator
 *   published (`POST /operator/prices`); each job records the units it was created under and the
 *   ledger prices it with them (`holds.ts#pricesInForce`).
 * - Holds (holds.ts, which the job's life uses without this module): an invocation reserves the job's most possible cost (`maxCost`: min(function max price,
 *   timeout × resources × price)) from the developer's `available` balance in one conditional
 *   write, or is refused with 402. The hold is released when the job ends: by its ledger
 *   settlement (which debits the actual cost from balance and available in the same read-model
 *   step), by a cancel, or by the controller failing it.
 * - Top-ups through the PaymentProvider port, then a `TopUp` ledger event (reference
 *   `topup:<account>:<reference>`, which the chaincode credits once).
 * - Bills: monthly statements computed from the developer's settled jobs.
 * - Invoice terms: the operator puts an account on invoice terms with a credit limit
 *   (`PUT /operator/accounts/{id}/terms` → `SetTerms` on the ledger). Its jobs settle by paying
 *   the provider and adding the cost to the month's invoice on the ledger (no balance goes
 *   negative: the debt is its own amount, bounded by the limit); its holds take from the credit
 *   limit minus what it owes; a closed month's bill is `due` and is paid from the balance with
 *   `POST /account/bills/{month}/pay` (`PayBill`, once per bill).
 * - History and provider earnings: read from the monetary ledger.
 */

// ---------- billing units ----------

/** `POST /operator/prices`: the operator publishes the next price version (jobs created from now on use it: in other controller processes within holds.ts#PRICES_CACHE_MS). */
export async function publishPrices(deps: Deps, user: User, body: unknown): Promise<PublishedPrices> {
  requireOperator(deps, user);
  const req = parse(PricesBody, body);
  const store = requireStore(deps);
  const current = await pricesInForce(deps, { fresh: true });
  const version = req.version ?? current.version + 1;
  const refuse = (message: string) => new DomainError('conflict', message, 'version', { current: current.version });
  if (version <= current.version) throw refuse(`version ${version} is not above the version in force (${current.version})`);
  // Versions climb by small steps, so they stay far from the largest safe integer and the next
  // publish always has a version to take (issue #25: 2^53-1 once made every later publish fail).
  if (version > current.version + LIMITS.maxPriceVersionStep) {
    throw refuse(`version ${version} is more than ${LIMITS.maxPriceVersionStep} above the version in force (${current.version})`);
  }
  if (version > LIMITS.maxPriceVersion) throw refuse(`price list versions end at ${LIMITS.maxPriceVersion}; the version in force is ${current.version}`);
  const prices: PublishedPrices = {
    version,
    vcpuMs: req.vcpuMs,
    mbMs: req.mbMs,
    ...(req.diskMbMs === undefined ? {} : { diskMbMs: req.diskMbMs }),
    publishedAt: nowIso(deps),
    publishedBy: user.userId,
  };
  if (!(await store.publishPrices(prices))) throw conflict(`version ${version} was published meanwhile; read GET /prices and publish the next one`);
  rememberPrices(prices);
  return prices;
}

/** `GET /prices`: the price list in force and the published history. */
export async function listPrices(deps: Deps) {
  return { current: await pricesInForce(deps, { fresh: true }), published: (await deps.billingStore?.listPrices()) ?? [], unit: 'micro-credits' };
}

// ---------- invoice terms ----------

const AccountId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 characters of A-Z, a-z, 0-9, _ or -');

/**
 * `PUT /operator/accounts/{accountId}/terms`: the operator puts a developer's account on
 * `prepaid` or `invoice` terms (with a credit limit, micro-credits). Queued as a `SetTerms` ledger
 * event (no ledger write on the request path): the terms hold from the transaction that commits
 * it, and `GET /account` shows them once the read model followed it. 202 with what was asked.
 */
export async function setAccountTerms(deps: Deps, user: User, accountId: string, body: unknown) {
  requireOperator(deps, user);
  const req = parse(TermsBody, body);
  // A malformed id names no account, like an unknown one.
  const account = AccountId.safeParse(accountId).success ? await deps.accounts.getUser(accountId) : undefined;
  if (!account || !account.roles.includes('developer')) throw notFound('account', accountId);
  const id = account.userId;
  const creditLimit = req.terms === 'invoice' ? (req.creditLimit as number) : 0;
  await deps.outbox.append(id, [{ type: 'SetTerms', accountId: id, terms: req.terms, creditLimit }]);
  return {
    accountId: id,
    terms: req.terms,
    creditLimit,
    status: 'pending' as const,
    requestedAt: nowIso(deps),
    requestedBy: user.userId,
    unit: 'micro-credits',
  };
}

// ---------- top-ups ----------

/** The ledger's reference for a developer's top-up: references are per account, the ledger's are global. */
export const ledgerTopUpReference = (accountId: string, reference: string) => `topup:${accountId}:${reference}`;

/**
 * `POST /account/top-ups`: charges the payment provider, then queues the `TopUp` ledger event.
 * Idempotent on (account, reference): a replay answers the first outcome and credits nothing more;
 * the same reference with another amount is a conflict. A crash between charge and ledger event is
 * repaired by the replay (the provider and the ledger are both idempotent on the reference).
 */
export async function topUp(deps: Deps, user: User, body: unknown) {
  const req = parse(TopUpBody, body);
  const store = requireStore(deps);
  if (!deps.payments) throw new DomainError('unavailable', 'top-ups are not available: no payment provider is configured (PAYMENT_PROVIDER)');
  const record = { accountId: user.userId, reference: req.reference, amount: req.amount, status: 'pending' as const, createdAt: nowIso(deps) };
  const created = await store.createTopUp(record);
  if (!created.created) {
    const existing = created.existing;
    if (existing.amount !== req.amount) {
      throw conflict(`reference ${req.reference} was already used for a top-up of ${existing.amount}; use a new reference for a new top-up`, {
        reference: req.reference,
      });
    }
    if (existing.status !== 'pending') return { ...view(existing), replayed: true };
  }
  // A balance stays at most LIMITS.maxBalance, far below 2^53, so every sum kept of it stays exact
  // (checked before the charge; a replay of a declined reference answers the decline).
  const balance = created.created ? ((await deps.balances.get(user.userId)) ?? 0) : 0;
  if (balance + req.amount > LIMITS.maxBalance) {
    const reason = `the balance (${balance}) plus ${req.amount} would pass the most an account may hold (${LIMITS.maxBalance} micro-credits)`;
    await store.updateTopUp(user.userId, req.reference, { status: 'declined', declineReason: reason });
    throw new DomainError('conflict', `amount: ${reason}`, 'amount', { reference: req.reference, status: 'declined', balance });
  }
  const charged = await deps.payments.charge({ accountId: user.userId, amount: req.amount, reference: req.reference });
  if (charged.status === 'declined') {
    await store.updateTopUp(user.userId, req.reference, { status: 'declined', declineReason: charged.reason });
    throw new DomainError('insufficient_funds', `the payment was declined: ${charged.reason}`, 'amount', { reference: req.reference, status: 'declined' });
  }
  await deps.outbox.append(user.userId, [
    { type: 'TopUp', accountId: user.userId, amount: req.amount, reference: ledgerTopUpReference(user.userId, req.reference) },
  ]);
  await store.updateTopUp(user.userId, req.reference, { status: 'approved', paymentId: charged.paymentId });
  return { ...view({ ...record, status: 'approved', paymentId: charged.paymentId }), replayed: !created.created };
}

const view = (r: { accountId: string; reference: string; amount: number; status: string; paymentId?: string; declineReason?: string; createdAt: string }) => ({
  accountId: r.accountId,
  reference: r.reference,
  amount: r.amount,
  status: r.status,
  paymentId: r.paymentId,
  declineReason: r.declineReason,
  createdAt: r.createdAt,
  ledgerReference: ledgerTopUpReference(r.accountId, r.reference),
  unit: 'micro-credits',
});

// ---------- account history ----------

/**
 * `GET /account/history`: every credit and debit of the account on the monetary ledger, newest
 * first, with its reference (a job id for a settlement, the top-up reference for a top-up), in
 * pages of `limit`; `next` is the cursor of the following page.
 */
export async function accountHistory(ledger: Pick<Ledger, 'getAccountHistory'>, user: User, query: unknown) {
  const q = parse(HistoryQuery, query ?? {});
  const entries = [...(await ledger.getAccountHistory(user.userId).catch(() => [] as AccountEntry[]))].reverse();
  let start = 0;
  if (q.cursor !== undefined) {
    const at = entries.findIndex((e) => cursorOf(e) === q.cursor);
    if (at < 0) throw new DomainError('invalid_request', 'cursor: not a cursor of this account history', 'cursor');
    start = at + 1;
  }
  const page = entries.slice(start, start + q.limit).map((e) => ({
    ...e,
    direction: e.amount >= 0 ? ('credit' as const) : ('debit' as const),
    jobId: e.kind === 'settlement' ? e.reference : undefined,
    topUpReference: e.kind === 'topup' ? e.reference : undefined,
  }));
  const last = page[page.length - 1];
  return { accountId: user.userId, items: page, next: start + q.limit < entries.length && last ? cursorOf(last) : undefined };
}

const cursorOf = (e: AccountEntry) => Buffer.from(`${e.txId}|${e.kind}|${e.reference}|${e.amount}`).toString('base64url');

// ---------- bills ----------

/** Settled, paid, succeeded jobs of the developer (failed and cancelled jobs charge nothing). */
async function billedJobs(deps: Deps, developerId: string): Promise<JobRecord[]> {
  return (await deps.jobs.listSettled(developerId)).filter((j) => j.paid === true && j.status === 'SUCCEEDED');
}

/** The names of functions, by id (a deleted function keeps its name); an id no record has is left out. */
async function functionNames(deps: Deps, ids: Iterable<string>): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  const records = await Promise.all(unique.map((id) => deps.functions.getFunction(id)));
  return new Map(records.flatMap((fn) => (fn ? [[fn.functionId, fn.name] as [string, string]] : [])));
}

/** Scratch space a job held while it ran, in MB-ms (issue #23): the quantity the disk unit prices; its run time counts up to its timeout, as settlement's does. */
function diskMbMsOf(job: { resources: { diskMb?: number; timeoutS: number }; runtimeMs?: number }): number {
  return (job.resources.diskMb ?? 0) * Math.min(job.runtimeMs ?? 0, job.resources.timeoutS * 1000);
}

function statement(deps: Deps, accountId: string, month: string, jobs: JobRecord[], invoice?: LedgerInvoice, names?: Map<string, string>): Bill {
  const lines = new Map<string, BillLine>();
  for (const job of jobs) {
    const name = names?.get(job.functionId);
    const line = lines.get(job.functionId) ?? { functionId: job.functionId, ...(name ? { name } : {}), jobs: 0, runtimeMs: 0, diskMbMs: 0, cost: 0 };
    line.jobs++;
    line.runtimeMs += job.runtimeMs ?? 0;
    line.diskMbMs += diskMbMsOf(job);
    line.cost += job.cost ?? 0;
    lines.set(job.functionId, line);
  }
  const sorted = [...lines.values()].sort((a, b) => a.functionId.localeCompare(b.functionId));
  const sum = (f: (l: BillLine) => number) => sorted.reduce((s, l) => s + f(l), 0);
  const closed = month < nowIso(deps).slice(0, 7);
  const invoiced = invoice?.amount ?? 0;
  const amountPaid = invoice?.paidAmount ?? 0;
  const due = invoiced - amountPaid;
  const status = !closed ? 'open' : due > 0 ? 'due' : invoiced > 0 ? 'paid' : 'closed';
  return {
    accountId,
    month,
    status,
    terms: invoice ? 'invoice' : 'prepaid',
    payable: status === 'due',
    lines: sorted,
    jobs: sum((l) => l.jobs),
    runtimeMs: sum((l) => l.runtimeMs),
    diskMbMs: sum((l) => l.diskMbMs),
    total: sum((l) => l.cost),
    invoiced,
    amountPaid,
    amountDue: closed ? due : 0,
    paidAt: invoice?.paidAt,
    unit: 'micro-credits',
  };
}

/** The ledger side of bills: the account's invoices (none for an account the ledger does not know, or without a ledger). */
type BillingLedger = Pick<Partial<Ledger>, 'getBilling'>;

async function ledgerBilling(ledger: BillingLedger | undefined, accountId: string): Promise<LedgerBilling | undefined> {
  if (!ledger?.getBilling) return undefined;
  try {
    return await ledger.getBilling(accountId);
  } catch (err) {
    // An account the ledger has not opened yet owes nothing; anything else is an outage.
    if (/does not exist/.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** `GET /account/bills`: one statement per month with settled jobs or an invoice, newest first (months by job creation, UTC). */
export async function listBills(deps: Deps, user: User, ledger?: BillingLedger) {
  const byMonth = new Map<string, JobRecord[]>();
  for (const job of await billedJobs(deps, user.userId)) {
    const month = job.createdAt.slice(0, 7);
    byMonth.set(month, [...(byMonth.get(month) ?? []), job]);
  }
  const invoices = new Map((await ledgerBilling(ledger, user.userId))?.invoices.map((i) => [i.month, i]) ?? []);
  for (const month of invoices.keys()) if (!byMonth.has(month)) byMonth.set(month, []);
  const items = [...byMonth.entries()]
    .sort(([a], [b]) => b.localeCompare(a))
    .map(([month, jobs]) => {
      const { lines: _lines, ...summary } = statement(deps, user.userId, month, jobs, invoices.get(month));
      void _lines;
      return summary;
    });
  return { accountId: user.userId, items };
}

/** `GET /account/bills/{month}`: the month's statement, per function, with what its invoice (if any) owes. */
export async function getBill(deps: Deps, user: User, month: string, ledger?: BillingLedger): Promise<Bill> {
  const m = parse(z.object({ month: Month }), { month }).month;
  const invoice = (await ledgerBilling(ledger, user.userId))?.invoices.find((i) => i.month === m);
  const jobs = (await billedJobs(deps, user.userId)).filter((j) => j.createdAt.startsWith(m));
  return statement(deps, user.userId, m, jobs, invoice, await functionNames(deps, jobs.map((j) => j.functionId)));
}

/** The statement as CSV: one row per function, then a total row. */
export function billCsv(bill: Bill): string {
  // diskMbMs (issue #23) comes last, so readers of the earlier columns keep their positions.
  const rows = [['month', 'functionId', 'function', 'jobs', 'runtimeMs', 'cost_micro_credits', 'diskMbMs']];
  for (const l of bill.lines) rows.push([bill.month, l.functionId, l.name ?? '', String(l.jobs), String(l.runtimeMs), String(l.cost), String(l.diskMbMs)]);
  rows.push([bill.month, 'TOTAL', '', String(bill.jobs), String(bill.runtimeMs), String(bill.total), String(bill.diskMbMs)]);
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) || /^[=+\-@]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/**
 * `POST /account/bills/{month}/pay`: pays a closed month's invoice from the balance.
 *
 * - A month with no invoice (every job was prepaid) → 409, nothing is due; an open month → 409.
 * - A bill already paid → 200 with its receipt (`replayed`), nothing moves.
 * - A balance on the ledger below the amount due → 402 naming the amount.
 * - Otherwise a `PayBill` event for exactly the amount due is queued → 202 with the receipt.
 *   Requests that race queue the same event; the chaincode pays the first and finds the others
 *   duplicates (nothing due, same amount), so the bill is paid once and every answer is the same.
 */
export async function payBill(
  deps: Deps,
  ledger: Pick<Ledger, 'getBalance'> & BillingLedger,
  user: User,
  month: string,
): Promise<{ status: 200 | 202; receipt: BillReceipt & { replayed: boolean } }> {
  const bill = await getBill(deps, user, month, ledger);
  const receipt = (amount: number, status: BillReceipt['status']): BillReceipt => ({
    accountId: user.userId,
    month: bill.month,
    amount,
    reference: `bill:${user.userId}:${bill.month}`,
    status,
    paidAt: status === 'paid' ? bill.paidAt : undefined,
    unit: 'micro-credits',
  });
  if (bill.status === 'open') {
    throw conflict(`the bill of ${bill.month} is still open: a month's bill is paid once the month is over`, {
      month: bill.month,
      status: bill.status,
      invoiced: bill.invoiced,
    });
  }
  if (bill.terms === 'prepaid') {
    throw conflict(`the account was on prepaid terms in ${bill.month}: its jobs were paid from the balance as they settled; nothing is due`, {
      month: bill.month,
      total: bill.total,
      amountDue: bill.amountDue,
      terms: bill.terms,
    });
  }
  if (bill.status === 'paid') return { status: 200, receipt: { ...receipt(bill.amountPaid, 'paid'), replayed: true } };
  // The ledger's balance (the one PayBill debits), not the read model's; an outage is not a 402.
  const balance = await ledger.getBalance(user.userId).catch((err: Error) => {
    if (/does not exist/.test(err.message)) return 0;
    throw err;
  });
  if (balance < bill.amountDue) {
    throw new DomainError(
      'insufficient_funds',
      `insufficient funds: the bill of ${bill.month} is ${bill.amountDue} micro-credits and the balance is ${balance}; top up with POST /account/top-ups`,
      'amount',
      { required: bill.amountDue, balance, month: bill.month },
    );
  }
  await deps.outbox.append(user.userId, [{ type: 'PayBill', accountId: user.userId, month: bill.month, amount: bill.amountDue }]);
  return { status: 202, receipt: { ...receipt(bill.amountDue, 'pending'), replayed: false } };
}

// ---------- provider earnings ----------

/**
 * `GET /providers/{id}/earnings?by=day|function`: what the provider's jobs earned, from the
 * ledger: the settlement credits of its payout account (the owner's account), each traced to its
 * job record on the ledger for the provider, the function and the day (UTC) it settled.
 */
export async function providerEarnings(deps: Deps, ledger: Pick<Ledger, 'getAccountHistory' | 'getJob'>, user: User, providerId: string, query: unknown) {
  const q = parse(EarningsQuery, query ?? {});
  // Another user's provider is reported as missing, not forbidden, like every other id: ids are not an oracle.
  const provider = await getOwnProvider(deps, user, providerId);
  const credits = (await ledger.getAccountHistory(provider.ownerId).catch(() => [] as AccountEntry[])).filter((e) => e.kind === 'settlement' && e.amount > 0);
  const groups = new Map<string, { key: string; jobs: number; diskMbMs: number; earned: number }>();
  let total = 0;
  for (const entry of credits) {
    const job = await ledger.getJob(entry.reference);
    if (!job || job.providerId !== providerId) continue;
    const key = q.by === 'day' ? entry.timestamp.slice(0, 10) : job.functionId;
    const g = groups.get(key) ?? { key, jobs: 0, diskMbMs: 0, earned: 0 };
    g.jobs++;
    g.diskMbMs += diskMbMsOf(job);
    g.earned += entry.amount;
    groups.set(key, g);
    total += entry.amount;
  }
  const names = q.by === 'function' ? await functionNames(deps, groups.keys()) : new Map<string, string>();
  const items = [...groups.values()]
    .sort((a, b) => (q.by === 'day' ? b.key.localeCompare(a.key) : a.key.localeCompare(b.key)))
    .map((g) =>
      q.by === 'day'
        ? { day: g.key, jobs: g.jobs, diskMbMs: g.diskMbMs, earned: g.earned }
        : { functionId: g.key, ...(names.has(g.key) ? { name: names.get(g.key) } : {}), jobs: g.jobs, diskMbMs: g.diskMbMs, earned: g.earned },
    );
  return { providerId, accountId: provider.ownerId, by: q.by, items, total, unit: 'micro-credits' };
}

function requireStore(deps: Deps) {
  if (!deps.billingStore) throw new DomainError('unavailable', 'billing is not configured on this controller');
  return deps.billingStore;
}
