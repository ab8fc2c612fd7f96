import { authenticate } from '../core/use-cases/accounts';
import { reconcile } from '../core/use-cases/balances';
import { accountHistory } from '../core/use-cases/billing';
import { depsFromEnv, ledgerFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/**
 * The caller's money as the read model and the ledger see it: balance (DynamoDB, following the
 * ledger's events) next to the ledger's own, the ledger's account history, a reconciliation of
 * the two, and verification of the embedded ledger's hash chain.
 */
export const handler = httpApi({
  'GET /account': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const ledger = await ledgerFromEnv();
    const [balance, ledgerBalance, held] = await Promise.all([
      deps.balances.get(user.userId),
      ledger.getBalance(user.userId).catch(() => undefined),
      deps.balances.account?.(user.userId),
    ]);
    // available = balance minus the holds of running jobs (billing.ts); on invoice terms, the credit
    // limit minus what is owed minus the holds.
    return json(200, {
      accountId: user.userId,
      balance: balance ?? 0,
      ledgerBalance,
      available: held?.available ?? balance ?? 0,
      held: held?.held ?? 0,
      terms: held?.terms ?? 'prepaid',
      creditLimit: held?.creditLimit ?? 0,
      owed: held?.owed ?? 0,
      unit: 'micro-credits',
    });
  },
  'GET /account/history': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    // Newest first, paginated (?limit=&cursor=), each entry with its job or top-up reference.
    return json(200, await accountHistory(await ledgerFromEnv(), user, req.query));
  },
  'GET /account/reconciliation': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const ledger = await ledgerFromEnv();
    const balance = await deps.balances.get(user.userId);
    const settled = await deps.jobs.listSettled(user.userId);
    // What the account owes (invoice terms) is reconciled with the ledger's unpaid invoices too.
    const owed = (await deps.balances.account?.(user.userId))?.owed;
    const report = await reconcile(ledger, balance === undefined ? [] : [{ accountId: user.userId, balance, owed }], settled);
    return json(200, { accountId: user.userId, ...report });
  },
  'GET /ledger/verify': async (req) => {
    await authenticate(deps, req.header('authorization'));
    const ledger = (await ledgerFromEnv()) as unknown as { verifyChain?: () => unknown };
    if (typeof ledger.verifyChain !== 'function') return json(200, { mode: 'fabric', ok: true, note: 'Fabric peers validate the chain themselves; nothing to verify here' });
    return json(200, { mode: 'embedded', ...(ledger.verifyChain() as object) });
  },
});
