import { startPlatform } from './platform';

/**
 * `npm start`: brings the whole platform up on this machine and keeps it running until Ctrl-C
 * (or SIGTERM), then stops every service it started.
 */
async function main(): Promise<void> {
  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  const registryPort = process.env.REGISTRY_PORT === undefined ? 5000 : Number(process.env.REGISTRY_PORT);
  const platform = await startPlatform({ port, registryPort, log: (line) => console.log(`[chainfaas] ${line}`) });
  console.log(
    `\nChainFaaS is running.\n  API:      ${platform.apiUrl}\n  Registry: ${platform.registry}\n  Try:      curl -s ${platform.apiUrl}/controller/public-key\nPress Ctrl-C to stop.\n`,
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

main().catch((err) => {
  console.error(`[chainfaas] could not start: ${(err as Error).message}`);
  process.exit(1);
});
