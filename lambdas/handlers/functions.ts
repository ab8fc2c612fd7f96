import { authenticate } from '../core/use-cases/accounts';
import { createFunction, getOwnFunction } from '../core/use-cases/functions';
import { depsFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/** Function registry: register a function (image pinned by digest), read it, list your own. */
export const handler = httpApi({
  'POST /functions': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const fn = await createFunction(deps, user, req.body);
    return json(201, fn, { location: `/functions/${fn.functionId}` });
  },
  'GET /functions': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, { items: await deps.functions.listFunctions(user.userId) });
  },
  'GET /functions/{functionId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await getOwnFunction(deps, user, req.params.functionId ?? ''));
  },
});
