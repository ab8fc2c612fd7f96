/**
 * Jest setup for every test file: the controller's metrics (EMF lines on stdout, see
 * lambdas/adapters/observability.ts) stay off unless a test switches them on, as the local
 * platform does (`local/platform.ts`); test/e2e/observability.test.ts turns them on and reads them.
 * Its logs keep to warnings and errors (POWERTOOLS_LOG_LEVEL), unless the environment asks for
 * more: the INFO lines of every request refused on purpose and every reaper sweep were ~4,700 of
 * CI's ~5,900 lines. The observability test turns INFO on for the platform it reads.
 */
import { ENV } from '../../lambdas/handlers/manifest';

process.env[ENV.powertools.metricsDisabled] ??= 'true';
process.env[ENV.powertools.logLevel] ??= 'WARN';
