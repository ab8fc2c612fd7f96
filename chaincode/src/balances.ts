import { keys, keyTypes } from './keys';
import { Account, AccountEntry } from './models';
import type { Tx } from './state';

/**
 * Balances without hot keys. An account's balance is the sum of its delta keys
 * (`balance~<account>~<txId>`), one per transaction that touched it. A credit is a blind write to
 * the transaction's own delta key, so transactions crediting the same provider never conflict.
 * A debit must read the whole balance (balances never go negative), and since it has read every
 * delta anyway it folds them into its own delta key, so a payer's delta count stays at one.
 * Every credit and debit also writes one history entry.
 */

interface BalanceDelta {
  amount: number;
}

export function getAccount(tx: Tx, accountId: string): Promise<Account | undefined> {
  return tx.state.get<Account>(keys.account(tx.state, accountId));
}

export async function requireAccount(tx: Tx, accountId: string): Promise<Account> {
  const account = await getAccount(tx, accountId);
  if (!account) throw new Error(`account ${accountId} does not exist`);
  return account;
}

/** The account's balance in micro-credits, this transaction's pending changes included. */
export async function balanceOf(tx: Tx, accountId: string): Promise<number> {
  const deltas = await tx.state.listByPartialKey<BalanceDelta>(keyTypes.balanceDelta, [accountId]);
  return deltas.reduce((sum, delta) => sum + delta.value.amount, 0);
}

/** Adds `amount` to the account without reading its balance (nor anything else from the peer). */
export async function credit(tx: Tx, accountId: string, amount: number, kind: AccountEntry['kind'], reference: string): Promise<void> {
  const key = keys.balanceDelta(tx.state, accountId, tx.txId);
  // The key holds this transaction's id: no committed value can be there, so the peer is not asked.
  const own = tx.state.pendingValue<BalanceDelta>(key);
  tx.state.put(key, { amount: (own?.amount ?? 0) + amount });
  addEntry(tx, accountId, amount, kind, reference);
}

/** Takes `amount` from the account; throws if its balance does not cover it. */
export async function debit(tx: Tx, accountId: string, amount: number, kind: AccountEntry['kind'], reference: string): Promise<void> {
  const deltas = await tx.state.listByPartialKey<BalanceDelta>(keyTypes.balanceDelta, [accountId]);
  const balance = deltas.reduce((sum, delta) => sum + delta.value.amount, 0);
  if (balance < amount) throw new Error(`insufficient funds in account ${accountId}: balance ${balance}, needs ${amount}`);
  const ownKey = keys.balanceDelta(tx.state, accountId, tx.txId);
  for (const delta of deltas) if (delta.key !== ownKey) tx.state.delete(delta.key);
  tx.state.put(ownKey, { amount: balance - amount });
  addEntry(tx, accountId, -amount, kind, reference);
}

/** The account's credits and debits, oldest first. */
export async function entriesOf(tx: Tx, accountId: string): Promise<AccountEntry[]> {
  const entries = await tx.state.listByPartialKey<AccountEntry>(keyTypes.entry, [accountId]);
  return entries.map((entry) => entry.value);
}

function addEntry(tx: Tx, accountId: string, amount: number, kind: AccountEntry['kind'], reference: string): void {
  const entry: AccountEntry = { txId: tx.txId, timestamp: tx.timestamp, amount, kind, reference };
  tx.state.put(keys.entry(tx.state, accountId, tx.timestamp, tx.txId, tx.nextSequence()), entry);
}
