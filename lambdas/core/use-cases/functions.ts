import { conflict, DomainError, invalid, notFound } from '../errors';
import type { FunctionRecord, User } from '../model';
import { newId } from '../passwords';
import { worstCaseCost } from '../pricing';
import { CreateFunctionBody, diskMbOf, FunctionQuery } from '../../../contract/src';
import { compileInputSchema } from '../input-validation';
import { Deps, nowIso, parse, requireRole } from './context';
import { resultLocation } from './results';
import { Recent } from '../recent';

/**
 * The function registry: images pinned by digest, resources (vCPU, memory, disk), protocol, mode,
 * price cap, env, description and input schema.
 * An update writes version n+1 (jobs keep the version they were created with: they carry its
 * image, resources, protocol and network, and its env is read from that version's snapshot); a
 * delete stops new invocations and keeps the function, its versions and its jobs readable.
 */

const FUNCTION_ID = /^fn_[A-Za-z0-9]{1,60}$/;

/** Fields of a function that come from the request body (create and update take the same body). */
function fromBody(deps: Deps, body: unknown): Omit<FunctionRecord, 'functionId' | 'ownerId' | 'version' | 'createdAt' | 'updatedAt'> {
  const req = parse(CreateFunctionBody, body);
  if (req.maxPrice !== undefined && req.maxPrice < 1) throw invalid('maxPrice', 'maxPrice: must be at least 1 micro-credit');
  resultLocation(deps, req); // a developer-named result bucket needs its role (in AWS)
  if (req.inputSchema) compileInputSchema(req.inputSchema);
  // The scratch space is stored explicitly (issue #23): the record says what its jobs get.
  const resources = { ...req.resources, diskMb: diskMbOf(req.resources) };
  return { ...req, resources, maxPrice: req.maxPrice ?? worstCaseCost(resources, deps.config.billing) };
}

export async function createFunction(deps: Deps, user: User, body: unknown): Promise<FunctionRecord> {
  requireRole(user, 'developer');
  const fields = fromBody(deps, body);
  const at = nowIso(deps);
  const fn: FunctionRecord = { ...fields, functionId: newId('fn'), ownerId: user.userId, version: 1, createdAt: at, updatedAt: at };
  await deps.functions.createFunction(fn);
  return fn;
}

/**
 * How long an invocation in this process uses a function record it read, without reading it again
 * (issue #16: one read and one round trip on every invocation, for a record its developer changes
 * rarely). An update or a delete made by this process is seen here at once (`forgetFunction`; local
 * mode runs every handler in one process); one made by another process (another Lambda sandbox)
 * within FUNCTION_CACHE_MS, the bound ARCHITECTURE.md states: until then an invocation there may
 * still create a job of the version it read (a whole, consistent version), or of a function just deleted.
 */
export const FUNCTION_CACHE_MS = 1_000;
/** At most this many functions are kept; the oldest goes first. */
export const FUNCTION_CACHE_MAX = 1_000;
const recentFunctions = new Recent<string, FunctionRecord>(FUNCTION_CACHE_MS, FUNCTION_CACHE_MAX);

/** A function this process has just written: read again by its next invocation. */
export function forgetFunction(functionId: string): void {
  recentFunctions.delete(functionId);
}

async function readFunctionRecord(deps: Deps, functionId: string, cached: boolean): Promise<FunctionRecord | undefined> {
  const now = Date.now();
  const kept = cached ? recentFunctions.get(functionId, now) : undefined;
  if (kept) return kept;
  const fn = await deps.functions.getFunction(functionId);
  if (fn) recentFunctions.set(functionId, fn, now);
  else recentFunctions.delete(functionId);
  return fn;
}

/**
 * The caller's function (deleted or not). Another user's function is reported as missing: ids are
 * not an oracle. `cached`: a record this process read within FUNCTION_CACHE_MS will do (invocations).
 */
export async function getOwnFunction(deps: Deps, user: User, functionId: string, { cached = false } = {}): Promise<FunctionRecord> {
  const fn = FUNCTION_ID.test(functionId) ? await readFunctionRecord(deps, functionId, cached) : undefined;
  if (!fn || fn.ownerId !== user.userId) throw notFound('function', functionId);
  return fn;
}

/**
 * Refuses a deleted function: 404 `not_found` with `deleted: true` (the function existed; no new
 * job may be created for it). Its record, versions and jobs stay readable to its owner.
 */
export function requireLive(fn: FunctionRecord): FunctionRecord {
  if (fn.deletedAt !== undefined) {
    throw new DomainError('not_found', `function ${fn.functionId} was deleted at ${fn.deletedAt}`, undefined, { id: fn.functionId, deleted: true });
  }
  return fn;
}

/** `GET /functions/{id}[?version=n]`: the current version, or the snapshot of version n. */
export async function readFunction(deps: Deps, user: User, functionId: string, query: unknown): Promise<FunctionRecord> {
  const { version } = parse(FunctionQuery, query ?? {});
  const fn = await getOwnFunction(deps, user, functionId);
  if (version === undefined || version === fn.version) return fn;
  const snapshot = version < fn.version ? await deps.functions.getFunctionVersion(functionId, version) : undefined;
  if (!snapshot)
    throw new DomainError('not_found', `function ${functionId} has no version ${version} (the latest is ${fn.version})`, 'version', { id: functionId });
  return snapshot;
}

/** `GET /functions`: the caller's functions, newest first, without the deleted ones. */
export async function listOwnFunctions(deps: Deps, user: User): Promise<FunctionRecord[]> {
  return (await deps.functions.listFunctions(user.userId)).filter((fn) => fn.deletedAt === undefined);
}

/**
 * `PUT /functions/{id}`: replaces the function's definition (same body as create), writing version
 * n+1 with a condition on version n. Two concurrent updates cannot both win: the loser gets 409.
 */
export async function updateFunction(deps: Deps, user: User, functionId: string, body: unknown): Promise<FunctionRecord> {
  requireRole(user, 'developer');
  const current = requireLive(await getOwnFunction(deps, user, functionId));
  const fields = fromBody(deps, body);
  const next: FunctionRecord = {
    ...fields,
    functionId,
    ownerId: user.userId,
    version: current.version + 1,
    createdAt: current.createdAt,
    updatedAt: nowIso(deps),
  };
  const updated = await deps.functions.updateFunction(next);
  forgetFunction(functionId);
  if (!updated) {
    throw conflict(`function ${functionId} was changed or deleted meanwhile (it is no longer at version ${current.version}); read it and retry`, {
      id: functionId,
    });
  }
  return next;
}

/** `DELETE /functions/{id}`: no new invocations from now on; the record, versions and jobs are kept. */
export async function deleteFunction(deps: Deps, user: User, functionId: string): Promise<void> {
  requireLive(await getOwnFunction(deps, user, functionId));
  const deleted = await deps.functions.markDeleted(functionId, user.userId, nowIso(deps));
  forgetFunction(functionId);
  if (!deleted) {
    // Deleted concurrently: answer as for any deleted function.
    requireLive(await getOwnFunction(deps, user, functionId));
    throw conflict(`function ${functionId} changed meanwhile; retry`, { id: functionId });
  }
}
