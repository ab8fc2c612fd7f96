import type { Context } from 'fabric-contract-api';
import { canonicalJson } from './canonical-json';
import { requireController } from './guard';
import { Tx } from './state';

/**
 * How every transaction runs: begin a Tx over the context, check authorisation, do the work on
 * the state overlay, write it out and return the result as canonical JSON. If the work throws,
 * nothing is written and Fabric fails the transaction.
 */

/** A state-changing transaction only the controller may submit; `action` names it in the refusal. */
export async function controllerSubmit(ctx: Context, action: string, work: (tx: Tx) => Promise<unknown>): Promise<string> {
  const tx = Tx.begin(ctx);
  await requireController(tx, action);
  const result = await work(tx);
  await tx.commit();
  return canonicalJson(result);
}

/** A state-changing transaction anyone may submit: the work authorises it (SetRuntime checks a signature). */
export async function openSubmit(ctx: Context, work: (tx: Tx) => Promise<unknown>): Promise<string> {
  const tx = Tx.begin(ctx);
  const result = await work(tx);
  await tx.commit();
  return canonicalJson(result);
}

/** A query: reads only, writes nothing. `undefined` results are returned as JSON `null`. */
export async function evaluate(ctx: Context, work: (tx: Tx) => Promise<unknown>): Promise<string> {
  const result = await work(Tx.begin(ctx));
  return canonicalJson(result ?? null);
}
