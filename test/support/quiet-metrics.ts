/**
 * Jest setup for every test file: the controller's metrics (EMF lines on stdout, see
 * lambdas/adapters/observability.ts) stay off unless a test switches them on, as the local
 * platform does (`local/platform.ts`); test/e2e/observability.test.ts turns them on and reads them.
 */
import { ENV } from '../../lambdas/handlers/manifest';

process.env[ENV.powertools.metricsDisabled] ??= 'true';
