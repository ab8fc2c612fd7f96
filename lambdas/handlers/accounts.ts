import { authenticate, createApiToken, listApiTokens, login, publicUser, registerUser, revokeApiToken } from '../core/use-cases/accounts';
import { claimOperator } from '../core/use-cases/operator-claim';
import { depsFromEnv } from '../adapters/deps';
import { openApiDocument } from '../../contract/src/openapi';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/** Accounts: register, log in, who am I, API tokens, the one-time operator claim, the controller's public key, and the API's OpenAPI document. */
export const handler = httpApi({
  'POST /users': async (req) => json(201, await registerUser(deps, req.body)),
  'POST /sessions': async (req) => json(201, await login(deps, req.body)),
  'GET /me': async (req) => json(200, publicUser(await authenticate(deps, req.header('authorization')))),
  'POST /tokens': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    const token = await createApiToken(deps, user, req.body);
    return json(201, token, { location: `/tokens/${token.tokenId}` });
  },
  'GET /tokens': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, { items: await listApiTokens(deps, user) });
  },
  'DELETE /tokens/{tokenId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    await revokeApiToken(deps, user, req.params.tokenId ?? '');
    return json(204, undefined);
  },
  'POST /operator/claim': async (req) => json(200, await claimOperator(deps, await authenticate(deps, req.header('authorization')), req.body)),
  'GET /controller/public-key': async () => {
    const key = await deps.signer.publicKey();
    return json(200, { publicKey: key.pem, keyId: key.keyId, algorithm: 'Ed25519' });
  },
  'GET /openapi.json': async () => json(200, openApiDocument, { 'cache-control': 'public, max-age=300' }),
});
