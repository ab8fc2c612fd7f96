import { randomBytes } from 'node:crypto';
import { PLATFORM_NODE, requireNode } from '../lambdas/core/node-support';
import { ENV } from '../lambdas/handlers/manifest';
import { startPlatform } from './platform';

/**
 * `npm start`: brings the whole platform up on this machine and keeps it running until Ctrl-C
 * (or SIGTERM), then stops every service it started. It also opens a local operator account
 * (the platform owner's: dead-letter queue, price list) and prints its token once.
 */
async function main(): Promise<void> {
  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  const registryPort = process.env.REGISTRY_PORT === undefined ? 5000 : Number(process.env.REGISTRY_PORT);
  const platform = await startPlatform({ port, registryPort, log: (line) => console.log(`[chainfaas] ${line}`) });
  const operatorToken = await openOperatorAccount(platform.apiUrl);
  console.log(
    [
      '',
      'ChainFaaS is running.',
      `  API:      ${platform.apiUrl}`,
      `  Portal:   ${platform.apiUrl}/`,
      `  Registry: ${platform.registry}`,
      `  Operator: token ${operatorToken} (shown once; local mode only)`,
      `  Try:      curl -s ${platform.apiUrl}/controller/public-key`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[chainfaas] ${signal}: stopping (draining the provider agent first)`);
    await platform.stop();
    console.log('[chainfaas] stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * Registers an operator through the public API and lists its user id in OPERATOR_USER_IDS, which
 * the handlers (running in this process, as in local mode) read on each use. In AWS the platform
 * owner sets the same variable through CDK context instead.
 */
async function openOperatorAccount(apiUrl: string): Promise<string> {
  const res = await fetch(`${apiUrl}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `operator-${Date.now()}@local.chainfaas`, password: randomBytes(18).toString('base64url'), roles: ['developer'] }),
  });
  const body = (await res.json()) as { token?: string; user?: { userId: string }; error?: { message: string } };
  if (res.status !== 201 || !body.token || !body.user) throw new Error(`could not open the local operator account: ${body.error?.message ?? res.status}`);
  const ids = (process.env[ENV.operatorUserIds] ?? '').split(',').filter(Boolean);
  process.env[ENV.operatorUserIds] = [...ids, body.user.userId].join(',');
  return body.token;
}

requireNode('npm start', PLATFORM_NODE);
main().catch((err) => {
  console.error(`[chainfaas] could not start: ${(err as Error).message}`);
  process.exit(1);
});
