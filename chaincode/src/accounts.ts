import { balanceOf, credit, entriesOf, requireAccount } from './balances';
import { keys } from './keys';
import { Account, AccountEntry, TopUpRecord } from './models';
import { retryUnpaidJobs } from './settlement';
import type { Applied, Tx } from './state';
import { requireId, requireInteger, requireReference, requireText } from './validate';

/** The monetary ledger's operations, shared by MonetaryContract's transactions and the batch. */

/** Opens an account. Opening it again for the same owner is a duplicate; for another owner, refused. */
export async function openAccount(tx: Tx, accountIdArg: unknown, ownerArg: unknown): Promise<Applied> {
  const accountId = requireId('accountId', accountIdArg);
  const owner = requireText('owner', ownerArg, 256);
  const key = keys.account(tx.state, accountId);
  const existing = await tx.state.get<Account>(key);
  if (existing) {
    if (existing.owner === owner) return 'duplicate';
    throw new Error(`account ${accountId} already exists with another owner`);
  }
  const account: Account = { accountId, owner, openedAt: tx.timestamp };
  tx.state.put(key, account);
  return 'applied';
}

/**
 * Credits `amount` to the account, once per payment `reference`: a replay of the same top-up is a
 * duplicate and credits nothing; a different top-up under a used reference is refused. Then
 * retries the account's unpaid jobs while its balance covers them.
 */
export async function topUp(tx: Tx, accountIdArg: unknown, amountArg: unknown, referenceArg: unknown): Promise<Applied> {
  const accountId = requireId('accountId', accountIdArg);
  const amount = requireInteger('amount', amountArg, 1);
  const reference = requireReference('reference', referenceArg);
  await requireAccount(tx, accountId);
  const refKey = keys.topUp(tx.state, reference);
  const existing = await tx.state.get<TopUpRecord>(refKey);
  if (existing) {
    if (existing.accountId === accountId && existing.amount === amount) return 'duplicate';
    throw new Error(`top-up reference ${reference} was already used for ${existing.amount} to account ${existing.accountId}`);
  }
  const record: TopUpRecord = { reference, accountId, amount, txId: tx.txId, timestamp: tx.timestamp };
  tx.state.put(refKey, record);
  await credit(tx, accountId, amount, 'topup', reference);
  tx.topUps.push({ accountId, amount, reference });
  await retryUnpaidJobs(tx, accountId);
  return 'applied';
}

/** The balance of an existing account, micro-credits. */
export async function accountBalance(tx: Tx, accountIdArg: unknown): Promise<number> {
  const accountId = requireId('accountId', accountIdArg);
  await requireAccount(tx, accountId);
  return balanceOf(tx, accountId);
}

/** The credits and debits of an existing account, oldest first. */
export async function accountHistory(tx: Tx, accountIdArg: unknown): Promise<AccountEntry[]> {
  const accountId = requireId('accountId', accountIdArg);
  await requireAccount(tx, accountId);
  return entriesOf(tx, accountId);
}
