import { authenticate } from '../core/use-cases/accounts';
import { acceptReport, getOwnProviderView, heartbeat, listOwnProviders, refreshCredentials, registerProvider } from '../core/use-cases/providers';
import { removeProvider } from '../core/use-cases/provider-removal';
import { depsFromEnv } from '../adapters/deps';
import { httpApi, json } from './http';

const deps = depsFromEnv();

/**
 * Providers: register capacity (creates the provider's own queue and, in AWS, credentials scoped to
 * it), refresh those credentials, heartbeat (renews the leases of running jobs), signed run-time reports.
 */
export const handler = httpApi({
  'POST /providers': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(201, await registerProvider(deps, user, req.body));
  },
  'PUT /providers/{providerId}/heartbeat': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await heartbeat(deps, user, req.params.providerId ?? '', req.body));
  },
  'POST /providers/{providerId}/reports': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await acceptReport(deps, user, req.params.providerId ?? '', req.body));
  },
  'POST /providers/{providerId}/credentials': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await refreshCredentials(deps, user, req.params.providerId ?? ''));
  },
  // The owner's dashboard: capacity, free capacity, online state (the scheduler's rule), running jobs.
  'GET /providers': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await listOwnProviders(deps, user));
  },
  'GET /providers/{providerId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    return json(200, await getOwnProviderView(deps, user, req.params.providerId ?? ''));
  },
  // Removes the machine with its queue and alarm; refused while it runs jobs.
  'DELETE /providers/{providerId}': async (req) => {
    const user = await authenticate(deps, req.header('authorization'));
    await removeProvider(deps, user, req.params.providerId ?? '');
    return json(204, undefined);
  },
});
