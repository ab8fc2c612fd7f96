// Card top-ups and payouts (issue #21) over the public API, for the portal and the CLI alike.
// Answer types are the contract's; `import type` keeps zod out of the portal's bundle.
import type { CardTopUp, Payout, PayoutOnboarding, Payouts } from '../../contract/src/answers';
import type { ApiClient } from './client';

export type { CardTopUp, Payout, PayoutOnboarding, Payouts };

/** A card top-up: its checkout page (`checkoutUrl`); the balance grows once the payment provider says it was paid. Idempotent on `reference`. */
export const cardTopUp = (api: ApiClient, amount: number, reference: string, returnUrl?: string) =>
  api.request<CardTopUp>('POST', '/account/card-top-ups', { body: { amount, reference, ...(returnUrl ? { returnUrl } : {}) } }).then((r) => r.body);

/** Withdraws settled earnings; `reference` makes it idempotent (the same one again pays nothing more). */
export const withdraw = (api: ApiClient, amount: number, reference: string) => api.request<Payout>('POST', '/account/payouts', { body: { amount, reference } }).then((r) => r.body);

/** The account's payouts, newest first. */
export const listPayouts = (api: ApiClient) => api.request<Payouts>('GET', '/account/payouts').then((r) => r.body);

/** The payout account at the payment provider (made once) and its onboarding link. */
export const payoutOnboarding = (api: ApiClient, returnUrl?: string) =>
  api.request<PayoutOnboarding>('POST', '/account/payouts/onboarding', { body: returnUrl ? { returnUrl } : {} }).then((r) => r.body);

/** A new idempotency reference for one top-up or withdrawal (kept for its retries). */
export function newReference(prefix: string): string {
  const bytes = new Uint8Array(6);
  globalThis.crypto.getRandomValues(bytes);
  return `${prefix}-${Date.now().toString(36)}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
