import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import Docker from 'dockerode';
import { waitUntil } from './services';

/**
 * Makes sure a Docker engine answers on the default socket. If none does and we are root on a
 * machine with `dockerd` installed (Debian's docker.io), starts one in the background, logging to
 * `logFile`; otherwise explains what to install.
 */
export async function ensureDocker(logFile: string): Promise<Docker> {
  const docker = new Docker();
  if (
    await docker.ping().then(
      () => true,
      () => false,
    )
  )
    return docker;
  if (process.getuid?.() !== 0)
    throw new Error('no Docker engine answers on /var/run/docker.sock; start dockerd (Debian: apt-get install docker.io) or run as root');
  const out = openSync(logFile, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', out, out] });
  child.on('error', () => undefined);
  child.unref();
  await waitUntil('dockerd', () => docker.ping().then(() => true), 60_000, child).catch((err: Error) => {
    throw new Error(`${err.message}\nInstall Docker's engine with: apt-get install -y docker.io (log: ${logFile})`);
  });
  return docker;
}
