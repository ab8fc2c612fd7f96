import { randomBytes } from 'node:crypto';
import { PLATFORM_NODE, requireNode } from '../contract/src/node-support';
import { ENV } from '../lambdas/handlers/manifest';
import { startPlatform } from './platform';

/**
 * `npm start`: brings the whole platform up on this machine and keeps it running until Ctrl-C
 * (or SIGTERM), then stops every service it started. It also opens a local operator account
 * (the platform owner's: dead-letter queue, price list) and prints its token once.
 */
async function main(): Promise<void> {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined = undefined;
  let stopping = false;
  // Output nobody reads any more (`npm start | tee log`, and tee died with the Ctrl-C) is not an
  // error to report: the platform goes quiet and stops cleanly (issue #18 item 7).
  let quiet = false;
  const say = (line: string) => {
    if (!quiet) console.log(line);
  };
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`\n[chainfaas] ${why}: stopping (draining the provider agent first)`);
    // Before the platform is up there is nothing to drain: exiting runs the services' exit hook.
    if (platform === undefined) process.exit(130);
    await platform.stop();
    say('[chainfaas] stopped');
    process.exit(0);
  };
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      quiet = true;
      void stop('output closed');
    });
  }
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGHUP', () => void stop('SIGHUP'));

  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  const registryPort = process.env.REGISTRY_PORT === undefined ? 5000 : Number(process.env.REGISTRY_PORT);
  platform = await startPlatform({ port, registryPort, log: (line) => say(`[chainfaas] ${line}`) });
  const operatorToken = await openOperatorAccount(platform.apiUrl);
  say(
    [
      '',
      'ChainFaaS is running.',
      `  API:      ${platform.apiUrl}`,
      `  Portal:   ${platform.apiUrl}/`,
      `  Registry: ${platform.registry}`,
      `  Operator: token ${operatorToken} (shown once; local mode only)`,
      `  Claim:    the one-time operator claim token is in ${platform.env[ENV.operatorClaim.file]} (POST /operator/claim)`,
      `  Try:      curl -s ${platform.apiUrl}/controller/public-key`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
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
