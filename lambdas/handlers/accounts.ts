import { authenticate, login, publicUser, registerUser } from '../core/use-cases/accounts';
import { depsFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/** Accounts: register, log in, who am I, and the controller's public key. */
export const handler = httpApi({
  'POST /users': async (req) => json(201, await registerUser(deps, req.body)),
  'POST /sessions': async (req) => json(201, await login(deps, req.body)),
  'GET /me': async (req) => json(200, publicUser(await authenticate(deps, req.header('authorization')))),
  'GET /controller/public-key': async () => {
    const key = await deps.signer.publicKey();
    return json(200, { publicKey: key.pem, keyId: key.keyId, algorithm: 'Ed25519' });
  },
});
