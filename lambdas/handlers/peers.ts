import { authenticate } from '../core/use-cases/accounts';
import { enrolPeer, getPeer, listPeers, revokePeer } from '../core/use-cases/peers';
import { depsFromEnv, peerDepsFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();
const peerDeps = peerDepsFromEnv();

/** Peer operators' peers in the Fabric network: enrol (CSRs → join bundle), list with status, revoke. */
export const handler = httpApi({
  'POST /peers': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(201, await enrolPeer(peerDeps, user, req.body));
  },
  'GET /peers': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await listPeers(peerDeps, user));
  },
  'GET /peers/{peerId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await getPeer(peerDeps, user, req.params.peerId ?? ''));
  },
  'DELETE /peers/{peerId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await revokePeer(peerDeps, user, req.params.peerId ?? ''));
  },
});
