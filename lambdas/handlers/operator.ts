import { authenticate } from '../core/use-cases/accounts';
import { listDeadLetters, redriveDeadLetters } from '../core/use-cases/operator';
import { depsFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/** The platform operator's routes (accounts in OPERATOR_USER_IDS): the provider queues' dead letters. */
export const handler = httpApi({
  'GET /operator/dlq': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await listDeadLetters(deps, user, req.query));
  },
  'POST /operator/dlq/redrive': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await redriveDeadLetters(deps, user, req.body));
  },
});
