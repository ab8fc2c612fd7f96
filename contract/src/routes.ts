import { z } from 'zod';
import * as A from './answers';
import { ReportBody } from './envelope';
import { Problem } from './problem';
import * as R from './requests';

/**
 * The route table: for each operation of the controller's HTTP API, what it takes (parameters,
 * body) and what it answers (schema per success status, the error statuses it documents). Which
 * routes exist is the manifest's to say (lambdas/handlers/manifest.ts); test/controller/openapi.test.ts
 * checks that this table has exactly the manifest's routes. openapi.ts turns it into the document.
 */

export type Auth = 'none' | 'user' | 'user-or-key';

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema: z.ZodType;
  description?: string;
}

export interface Operation {
  summary: string;
  description?: string;
  /** Who may call it; `user` unless said. */
  auth?: Auth;
  params?: Parameter[];
  body?: z.ZodType;
  /** The body may be left out (every member is optional and an empty request is accepted). */
  bodyOptional?: boolean;
  /** status → the answer's schema, or null for no body */
  ok: Record<number, z.ZodType | null>;
  /** Other media types a success may be sent as (status → media type, a text body), e.g. a bill as CSV. */
  okText?: Record<number, string>;
  /** documented error statuses (each answers a Problem) */
  errors?: number[];
}

/** What each documented error status means, for every operation that names it. */
export const ERROR_STATUSES: Record<number, string> = {
  400: 'Bad input: a wrong type, a missing or unknown field, malformed JSON; `field` names it',
  401: 'Missing, unknown, revoked or expired credentials',
  402: 'Not enough balance',
  403: 'The credentials may not do this (role, invoke key)',
  404: "Unknown id, or another user's (ids are not an oracle)",
  409: 'Conflicts with the current state (idempotency key reused, concurrent update, job no longer QUEUED)',
  413: 'A body or input over its limit',
  429: 'Too many jobs waiting for this developer (Retry-After)',
  503: 'No capacity or a dependency unavailable (Retry-After)',
};

const pathId = z.string().max(100);
const path = (name: string, description?: string, schema: z.ZodType = pathId): Parameter => ({ name, in: 'path', schema, description });
const month = path('month', 'a month as YYYY-MM', R.Month);
const query = (name: string, schema: z.ZodType, description?: string): Parameter => ({ name, in: 'query', schema, description });
/** Every member of a query schema of the contract, as query parameters. */
const queryOf = (schema: z.ZodObject, descriptions: Record<string, string> = {}): Parameter[] =>
  Object.entries(schema.shape).map(([name, s]) => query(name, s as z.ZodType, descriptions[name]));

export const OPERATIONS = {
  'POST /users': { summary: 'Register with one or more roles; returns an API token once', auth: 'none', body: R.RegisterUserBody, ok: { 201: A.Registration }, errors: [400, 409, 413] },
  'POST /sessions': { summary: 'Log in; returns a session token', auth: 'none', body: R.LoginBody, ok: { 201: A.Session }, errors: [400, 401] },
  'GET /me': { summary: 'The caller’s account', ok: { 200: A.User }, errors: [401, 403] },
  'GET /controller/public-key': { summary: "The controller's Ed25519 public key (envelopes, callbacks)", auth: 'none', ok: { 200: A.PublicKey } },
  'GET /openapi.json': { summary: 'This document', auth: 'none', ok: { 200: A.OpenApi } },
  'POST /tokens': { summary: 'A new API token (shown once)', body: R.CreateCredentialBody, bodyOptional: true, ok: { 201: A.NewToken }, errors: [400, 401, 403, 409] },
  'GET /tokens': { summary: "The caller's API tokens (never the secrets)", ok: { 200: A.CredentialList }, errors: [401, 403] },
  'DELETE /tokens/{tokenId}': { summary: 'Revoke an API token', params: [path('tokenId')], ok: { 204: null }, errors: [401, 403, 404] },
  'POST /functions': { summary: 'Register a function (image pinned by digest)', body: R.CreateFunctionBody, ok: { 201: A.FunctionRecord }, errors: [400, 401, 403, 413] },
  'GET /functions': { summary: "The caller's functions, newest first (deleted ones omitted)", ok: { 200: A.FunctionList }, errors: [401, 403] },
  'GET /functions/{functionId}': {
    summary: 'A function, or one of its versions',
    params: [path('functionId'), ...queryOf(R.FunctionQuery, { version: 'a past version' })],
    ok: { 200: A.FunctionRecord },
    errors: [400, 401, 403, 404],
  },
  'PUT /functions/{functionId}': {
    summary: 'Replace the definition: writes version n+1; running and queued jobs keep their version',
    params: [path('functionId')],
    body: R.CreateFunctionBody,
    ok: { 200: A.FunctionRecord },
    errors: [400, 401, 403, 404, 409, 413],
  },
  'DELETE /functions/{functionId}': {
    summary: 'Delete: no new invocations (404 with deleted: true); the record, versions and jobs stay readable',
    params: [path('functionId')],
    ok: { 204: null },
    errors: [401, 403, 404],
  },
  'POST /functions/{functionId}/keys': {
    summary: 'A new invoke key for this function (shown once)',
    params: [path('functionId')],
    body: R.CreateCredentialBody,
    bodyOptional: true,
    ok: { 201: A.NewInvokeKey },
    errors: [400, 401, 403, 404, 409],
  },
  'GET /functions/{functionId}/keys': { summary: "The function's invoke keys (never the secrets)", params: [path('functionId')], ok: { 200: A.CredentialList }, errors: [401, 403, 404] },
  'DELETE /functions/{functionId}/keys/{keyId}': { summary: 'Revoke an invoke key', params: [path('functionId'), path('keyId')], ok: { 204: null }, errors: [401, 403, 404] },
  'POST /functions/{functionId}/inputs': {
    summary: 'Presign the upload of a large input (then invoke with inputUpload)',
    auth: 'user-or-key',
    params: [path('functionId')],
    body: R.CreateInputBody,
    ok: { 201: A.InputUpload },
    errors: [400, 401, 403, 404],
  },
  'POST /functions/{functionId}/invocations': {
    summary: 'Invoke: sync waits up to waitS (200 when done), otherwise 202 with Location',
    auth: 'user-or-key',
    params: [
      path('functionId'),
      { name: 'idempotency-key', in: 'header', schema: R.IdempotencyKey, description: 'the same key and body return the same job; the same key with another body is 409' },
    ],
    body: R.InvokeBody,
    ok: { 200: A.Job, 202: A.Job },
    errors: [400, 401, 403, 404, 409, 413, 429, 503],
  },
  'GET /jobs': {
    summary: "Search the developer's jobs, newest first",
    description: '400 when `from` is after `to`, or when `cursor` is not the `next` of an earlier answer.',
    params: queryOf(R.JobsQuery, {
      status: `one or more of ${A.JOB_STATUSES.join(', ')}, comma-separated`,
      from: 'created at or after',
      to: 'created at or before',
      cursor: 'the `next` of the previous page',
    }),
    ok: { 200: A.JobPage },
    errors: [400, 401, 403],
  },
  'GET /jobs/{jobId}': { summary: 'A job: status, timings, provider, run time, cost, result link', auth: 'user-or-key', params: [path('jobId')], ok: { 200: A.Job }, errors: [401, 403, 404] },
  'POST /jobs/{jobId}/cancel': { summary: 'Cancel a QUEUED job', params: [path('jobId')], ok: { 200: A.Job }, errors: [401, 403, 404, 409] },
  'GET /jobs/{jobId}/ledger': { summary: "The job's monitoring-ledger record and history", params: [path('jobId')], ok: { 200: A.JobLedger }, errors: [401, 403, 404] },
  'POST /providers': { summary: 'Register a provider (creates its queue)', body: R.RegisterProviderBody, ok: { 201: A.ProviderRegistration }, errors: [400, 401, 403] },
  'PUT /providers/{providerId}/heartbeat': {
    summary: 'Heartbeat: alive, caches, running jobs',
    params: [path('providerId')],
    body: R.HeartbeatBody,
    bodyOptional: true,
    ok: { 200: A.HeartbeatAnswer },
    errors: [400, 401, 403, 404],
  },
  'POST /providers/{providerId}/reports': {
    summary: 'A signed run-time report',
    description: "403 when the signature does not verify against the provider's registered key or the report names another provider.",
    params: [path('providerId')],
    body: ReportBody,
    ok: { 200: A.ReportOutcome },
    errors: [400, 401, 403, 404, 409],
  },
  'POST /providers/{providerId}/credentials': {
    summary: "Fresh credentials scoped to the provider's queue",
    params: [path('providerId')],
    ok: { 200: A.ProviderCredentials },
    errors: [401, 403, 404],
  },
  'GET /operator/dlq': { summary: "The provider queues' dead letters (operator)", params: queryOf(R.DeadLetterQuery), ok: { 200: A.DeadLetters }, errors: [400, 401, 403] },
  'POST /operator/claim': {
    summary: 'Claim the operator right with the one-time token the deploy generated (once per platform)',
    description: '403 when the token is not the platform’s; 409 once any account has claimed (the token is useless after) or when no claim token is configured.',
    body: R.OperatorClaimBody,
    ok: { 200: A.OperatorClaim },
    errors: [400, 401, 403, 409],
  },
  'POST /operator/dlq/redrive': { summary: 'Redrive dead letters as fresh attempts (operator)', body: R.RedriveBody, ok: { 200: A.Redrive }, errors: [400, 401, 403] },
  'GET /account': { summary: 'Balance (read model) and the ledger’s', ok: { 200: A.Account }, errors: [401, 403] },
  'GET /account/history': {
    summary: "The account's ledger history, newest first",
    description: '400 when `cursor` is not the `next` of an earlier answer.',
    params: queryOf(R.HistoryQuery, { cursor: 'the `next` of the previous page' }),
    ok: { 200: A.AccountHistory },
    errors: [400, 401, 403],
  },
  'GET /account/reconciliation': { summary: 'Read model against the ledger', ok: { 200: A.Reconciliation }, errors: [401, 403] },
  'GET /ledger/verify': { summary: "Verify the embedded ledger's hash chain", ok: { 200: A.LedgerVerification }, errors: [401, 403] },
  'POST /account/top-ups': {
    summary: 'Top up through the payment provider (idempotent per reference)',
    description: `409 when the reference was used for another amount, or when the balance would pass ${R.LIMITS.maxBalance} micro-credits; 402 when the payment is declined.`,
    body: R.TopUpBody,
    ok: { 201: A.TopUp, 200: A.TopUp },
    errors: [400, 401, 402, 409, 503],
  },
  'POST /account/card-top-ups': {
    summary: "A card top-up: answers the payment provider's checkout page; credited only by the provider's signed webhook (idempotent per reference)",
    body: R.CardTopUpBody,
    ok: { 201: A.CardTopUp, 200: A.CardTopUp },
    errors: [400, 401, 409, 503],
  },
  'POST /payments/webhook': {
    summary: "The payment provider's events (Stripe-Signature checked over the exact body): top-ups paid, refunds, disputes",
    auth: 'none',
    params: [{ name: 'stripe-signature', in: 'header', schema: z.string().max(2000), description: "Stripe's signature of the body" }],
    body: R.PaymentWebhookBody,
    ok: { 200: A.WebhookReceipt },
    errors: [400, 409, 503],
  },
  'POST /account/payouts': {
    summary: 'Withdraw settled earnings (provider): 202 queued, 200 the same reference again; paid out by the payment provider, returned if it fails',
    body: R.WithdrawBody,
    ok: { 202: A.Payout, 200: A.Payout },
    errors: [400, 401, 402, 403, 409, 503],
  },
  'GET /account/payouts': { summary: "The account's payouts on the ledger, newest first", ok: { 200: A.Payouts }, errors: [401] },
  'POST /account/payouts/onboarding': {
    summary: "The provider's payout account at the payment provider (created once) and its onboarding link",
    body: R.ConnectBody,
    bodyOptional: true,
    ok: { 200: A.PayoutOnboarding },
    errors: [400, 401, 403, 409, 503],
  },
  'GET /account/bills': { summary: 'Monthly statements, newest first', ok: { 200: A.Bills }, errors: [401] },
  'GET /account/bills/{month}': {
    summary: "A month's statement (per function); ?format=csv for CSV",
    params: [month, query('format', z.enum(['json', 'csv']), 'json (default) or csv')],
    ok: { 200: A.Bill },
    okText: { 200: 'text/csv' },
    errors: [400, 401],
  },
  'POST /account/bills/{month}/pay': {
    summary: "Pay a closed month's bill from the balance (invoice terms only); 202 queued, 200 already paid (same receipt)",
    params: [month],
    ok: { 202: A.BillReceipt, 200: A.BillReceipt },
    errors: [400, 401, 402, 409],
  },
  'GET /prices': { summary: 'Billing units in force and published versions', ok: { 200: A.Prices }, errors: [401] },
  'POST /operator/prices': {
    summary: 'Publish the next billing units version (operator)',
    description: `version: absent for the version in force + 1; 409 when it is not above the version in force, or more than ${R.LIMITS.maxPriceVersionStep} above it.`,
    body: R.PricesBody,
    ok: { 201: A.PublishedPrices },
    errors: [400, 401, 403, 409],
  },
  'PUT /operator/accounts/{accountId}/terms': {
    summary: "Put a developer's account on prepaid or invoice terms with a credit limit (operator); applied once the ledger commits it",
    params: [path('accountId')],
    body: R.TermsBody,
    ok: { 202: A.Terms },
    errors: [400, 401, 403, 404],
  },
  'GET /providers/{providerId}/earnings': {
    summary: "A provider's earnings per day or per function, from the ledger",
    params: [path('providerId'), ...queryOf(R.EarningsQuery, { by: 'day (default) or function' })],
    ok: { 200: A.Earnings },
    errors: [400, 401, 403, 404],
  },
  'GET /providers': { summary: "The caller's own providers: capacity, free capacity, online state, running jobs", ok: { 200: A.ProviderList }, errors: [401] },
  'DELETE /providers/{providerId}': {
    summary: "Remove one of the caller's providers, with its queue and the queue's alarm",
    description: '409 while it runs jobs (its reserved capacity is not zero): drain it first (`chainfaas-provider stop`), then remove it.',
    params: [path('providerId')],
    ok: { 204: null },
    errors: [401, 403, 404, 409],
  },
  'GET /providers/{providerId}': { summary: "One of the caller's providers (another user's is 404)", params: [path('providerId')], ok: { 200: A.ProviderView }, errors: [401, 404] },
  'POST /peers': {
    summary: "Enrol a peer (peer operators): the organisation's CAs sign the peer's CSRs; the answer is the join bundle and command",
    description:
      'Each CSR must be a PEM PKCS#10 request for an EC P-256 key, signed by that key (else 400 naming it). Needs a platform on Fabric (LEDGER_MODE=fabric): with the embedded ledger the answer is 409.',
    body: R.CreatePeerBody,
    ok: { 201: A.PeerEnrolment },
    errors: [400, 401, 403, 409, 413],
  },
  'GET /peers': { summary: "The caller's peers with their status in the channel (Fabric discovery)", ok: { 200: A.PeerList }, errors: [401, 403] },
  'GET /peers/{peerId}': {
    summary: "One of the caller's peers: status, and its join bundle unless revoked (another operator's is 404)",
    params: [path('peerId')],
    ok: { 200: A.PeerDetail },
    errors: [401, 403, 404],
  },
  'DELETE /peers/{peerId}': {
    summary: 'Revoke a peer: the controller stops vouching for it (no CRL in the channel yet)',
    params: [path('peerId')],
    ok: { 200: A.PeerDetail },
    errors: [401, 403, 404],
  },
} satisfies Record<string, Operation>;
export type OperationKey = keyof typeof OPERATIONS;

/**
 * The schema an answer of `key` with `status` must match: the operation's for a success, a
 * Problem for an error; null when it has no body, undefined when the status is not a success of it.
 */
export function answerSchema(key: string, status: number): z.ZodType | null | undefined {
  const op = (OPERATIONS as Record<string, Operation>)[key];
  if (!op) return undefined;
  if (status >= 400) return Problem;
  return op.ok[status];
}
