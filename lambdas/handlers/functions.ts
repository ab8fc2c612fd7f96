import { authenticate, createInvokeKey, listInvokeKeys, revokeInvokeKey } from '../core/use-cases/accounts';
import { createFunction, deleteFunction, listOwnFunctions, readFunction, updateFunction } from '../core/use-cases/functions';
import { depsFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/**
 * Function registry: register a function (image pinned by digest), read it (or one of its
 * versions), list your own, replace it (new version), delete it; and its invoke keys.
 */
export const handler = httpApi({
  'POST /functions': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const fn = await createFunction(deps, user, req.body);
    return json(201, fn, { location: `/functions/${fn.functionId}` });
  },
  'GET /functions': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, { items: await listOwnFunctions(deps, user) });
  },
  'GET /functions/{functionId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await readFunction(deps, user, req.params.functionId ?? '', req.query));
  },
  'PUT /functions/{functionId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await updateFunction(deps, user, req.params.functionId ?? '', req.body));
  },
  'DELETE /functions/{functionId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    await deleteFunction(deps, user, req.params.functionId ?? '');
    return json(204, undefined);
  },
  'POST /functions/{functionId}/keys': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const key = await createInvokeKey(deps, user, req.params.functionId ?? '', req.body);
    return json(201, key, { location: `/functions/${key.functionId}/keys/${key.tokenId}` });
  },
  'GET /functions/{functionId}/keys': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, { items: await listInvokeKeys(deps, user, req.params.functionId ?? '') });
  },
  'DELETE /functions/{functionId}/keys/{keyId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    await revokeInvokeKey(deps, user, req.params.functionId ?? '', req.params.keyId ?? '');
    return json(204, undefined);
  },
});
