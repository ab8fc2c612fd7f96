import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DomainError } from '../core/errors';
import { authenticate } from '../core/use-cases/accounts';
import { billCsv, getBill, listBills, listPrices, payBill, providerEarnings, publishPrices, setAccountTerms, topUp } from '../core/use-cases/billing';
import { cardTopUp, listPayouts, paymentWebhook, payoutOnboarding, withdraw } from '../core/use-cases/payments';
import { depsFromEnv, ledgerFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/** Marks a response whose body is text to send as is (the CSV statement), not JSON. */
const RAW_TEXT = 'x-chainfaas-raw-text';

/**
 * Billing: top-ups through the payment provider (by card: use-cases/payments.ts, with the
 * provider's webhook and providers' payouts), monthly bills (JSON or CSV) and paying them on
 * invoice terms, the operator's versioned price lists and accounts' payment terms, and providers'
 * earnings from the ledger (use-cases/billing.ts).
 */
const routes = httpApi({
  'POST /account/top-ups': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const result = await topUp(deps, user, req.body);
    return json(result.replayed ? 200 : 201, result, result.replayed ? { 'idempotent-replayed': 'true' } : {});
  },
  'POST /account/card-top-ups': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const result = await cardTopUp(deps, user, req.body);
    return json(result.replayed ? 200 : 201, result, result.replayed ? { 'idempotent-replayed': 'true' } : {});
  },
  // The payment provider's events: the signature is over the exact bytes received, so the raw body is checked, not the parsed one.
  'POST /payments/webhook': async (req) => {
    const raw = req.event.isBase64Encoded ? Buffer.from(req.event.body ?? '', 'base64').toString('utf8') : (req.event.body ?? '');
    return json(200, await paymentWebhook(deps, raw, req.header('stripe-signature')));
  },
  'POST /account/payouts': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const { status, payout } = await withdraw(deps, await ledgerFromEnv(), user, req.body);
    return json(status, payout, payout.replayed ? { 'idempotent-replayed': 'true' } : {});
  },
  'GET /account/payouts': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await listPayouts(await ledgerFromEnv(), user));
  },
  'POST /account/payouts/onboarding': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await payoutOnboarding(deps, user, req.body));
  },
  'GET /account/bills': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await listBills(deps, user, await ledgerFromEnv()));
  },
  'GET /account/bills/{month}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const format = req.query.format ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new DomainError('invalid_request', `format: must be json or csv, got ${format}`, 'format');
    const bill = await getBill(deps, user, req.params.month ?? '', await ledgerFromEnv());
    if (format === 'json') return json(200, bill);
    return json(200, billCsv(bill), {
      [RAW_TEXT]: 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="chainfaas-bill-${bill.month}.csv"`,
    });
  },
  'POST /account/bills/{month}/pay': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const paid = await payBill(deps, await ledgerFromEnv(), user, req.params.month ?? '');
    return json(paid.status, paid.receipt, paid.receipt.replayed ? { 'idempotent-replayed': 'true' } : {});
  },
  'PUT /operator/accounts/{accountId}/terms': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(202, await setAccountTerms(deps, user, req.params.accountId ?? '', req.body));
  },
  'GET /prices': async (req) => {
    await authenticate(deps, req.header('authorization'));
    return json(200, await listPrices(deps));
  },
  'POST /operator/prices': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(201, await publishPrices(deps, user, req.body));
  },
  'GET /providers/{providerId}/earnings': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await providerEarnings(deps, await ledgerFromEnv(), user, req.params.providerId ?? '', req.query));
  },
});

/** The shared JSON edge, then text bodies (marked RAW_TEXT) unwrapped and sent with their own content type. */
export const handler = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
  const res = (await routes(event, context)) as APIGatewayProxyStructuredResultV2;
  const type = res.headers?.[RAW_TEXT];
  if (typeof type !== 'string' || typeof res.body !== 'string') return res;
  const headers: Record<string, string | number | boolean> = { ...res.headers, 'content-type': type };
  delete headers[RAW_TEXT];
  return { ...res, headers, body: JSON.parse(res.body) as string };
};
