import { openAccount, topUp } from './accounts';
import { confirmReceipt, createJob, failJob, registerProvider, setRuntime } from './jobs';
import { payBill, setTerms } from './invoicing';
import { completePayout, failPayout, requestPayout, reverseTopUp } from './payouts';
import { EventResult } from './models';
import { decideReplicas } from './verification';
import type { Applied, Tx } from './state';
import { parseJsonArg, requireObject } from './validate';

/** Most events one `SubmitBatch` transaction accepts. */
export const MAX_BATCH_EVENTS = 1000;

/**
 * Applies a list of ledger events in order within one transaction. Each event runs in a fork of
 * the transaction's state: if the chaincode refuses it, its writes are dropped and its result says
 * why, and the events after it still run. The caller checks authorisation once for the batch.
 */
export async function applyBatch(tx: Tx, eventsJson: string): Promise<EventResult[]> {
  const events = parseJsonArg('events', eventsJson);
  if (!Array.isArray(events)) throw new Error('events must be a JSON array');
  if (events.length > MAX_BATCH_EVENTS) throw new Error(`a batch holds at most ${MAX_BATCH_EVENTS} events, got ${events.length}`);
  const results: EventResult[] = [];
  for (const event of events) {
    const unit = tx.fork();
    try {
      const applied = await applyEvent(unit, event);
      unit.merge();
      results.push(applied === 'duplicate' ? { ok: true, duplicate: true } : { ok: true });
    } catch (err) {
      results.push({ ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return results;
}

/** Applies one ledger event (the controller's `LedgerEvent`, discriminated by `type`). */
function applyEvent(tx: Tx, input: unknown): Promise<Applied> {
  const event = requireObject('event', input);
  switch (event.type) {
    case 'OpenAccount':
      return openAccount(tx, event.accountId, event.owner);
    case 'TopUp':
      return topUp(tx, event.accountId, event.amount, event.reference);
    case 'SetTerms':
      return setTerms(tx, event.accountId, event.terms, event.creditLimit);
    case 'PayBill':
      return payBill(tx, event.accountId, event.month, event.amount);
    case 'RequestPayout':
      return requestPayout(tx, event.accountId, event.payoutId, event.amount, event.fee);
    case 'CompletePayout':
      return completePayout(tx, event.accountId, event.payoutId, event.transferId);
    case 'FailPayout':
      return failPayout(tx, event.accountId, event.payoutId, event.reason);
    case 'ReverseTopUp':
      return reverseTopUp(tx, event.accountId, event.amount, event.reference);
    case 'RegisterProvider':
      return registerProvider(tx, event.providerId, event.accountId, event.publicKeyPem);
    case 'CreateJob':
      return createJob(tx, event);
    case 'SetRuntime':
      return setRuntime(tx, event.jobId, event.report, event.signature);
    case 'ConfirmReceipt':
      return confirmReceipt(tx, event.jobId, event.resultSha256, event.resultSize, event.acceptedAt);
    case 'FailJob':
      return failJob(tx, event.jobId, event.reason);
    case 'DecideReplicas':
      return decideReplicas(tx, event.groupId, event.quorum, event.replicas);
    default:
      throw new Error(`unknown event type ${JSON.stringify(event.type)}`);
  }
}
