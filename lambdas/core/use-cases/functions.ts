import { invalid, notFound } from '../errors';
import type { FunctionRecord, User } from '../model';
import { newId } from '../passwords';
import { worstCaseCost } from '../pricing';
import { CreateFunctionBody } from '../schemas';
import { Deps, nowIso, parse, requireRole } from './context';

/** The function registry: images pinned by digest, resources, protocol, mode, price cap. */

export async function createFunction(deps: Deps, user: User, body: unknown): Promise<FunctionRecord> {
  requireRole(user, 'developer');
  const req = parse(CreateFunctionBody, body);
  const worstCase = worstCaseCost(req.resources, deps.config.billing);
  if (req.maxPrice !== undefined && req.maxPrice < 1) throw invalid('maxPrice', 'maxPrice: must be at least 1 micro-credit');
  const at = nowIso(deps);
  const fn: FunctionRecord = {
    functionId: newId('fn'),
    ownerId: user.userId,
    name: req.name,
    version: 1,
    image: req.image,
    resources: req.resources,
    protocol: req.protocol,
    mode: req.mode,
    network: req.network,
    maxPrice: req.maxPrice ?? worstCase,
    env: req.env,
    createdAt: at,
    updatedAt: at,
  };
  await deps.functions.putFunction(fn);
  return fn;
}

export async function getOwnFunction(deps: Deps, user: User, functionId: string): Promise<FunctionRecord> {
  const fn = await deps.functions.getFunction(functionId);
  // Another user's function is reported as missing, not forbidden: ids are not an oracle.
  if (!fn || fn.ownerId !== user.userId) throw notFound('function', functionId);
  return fn;
}
