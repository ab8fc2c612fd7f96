import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../lib/project-root';

/**
 * What the tests that run `chaincode/network/aws-node.sh` for real share: the fake systemd it
 * starts its units with, the node's units, and a command run to its end without throwing.
 */

export const FAKE_SYSTEMD = join(projectRoot(), 'test', 'fabric', 'fixtures', 'fake-systemd');

/** The systemd units `aws-node.sh` writes on the ledger node. */
export const NODE_UNITS = ['chainfaas-orderer.service', 'chainfaas-peer0.service', 'chainfaas-chaincode.service'];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` to its end; a failure is an exit code, not a rejection. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
