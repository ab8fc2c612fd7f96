import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange } from '../../bench/ledger-network';
import { identityJsonCommand } from '../../lib/constructs/fabric-network';
import { projectRoot } from '../../lib/project-root';
import { FAKE_SYSTEMD, NODE_UNITS, run, type Run } from './aws-node-support';
import { FabricLedger, fabricOptionsFromIdentity } from '../../lambdas/adapters/ledger/fabric-ledger';
import { ENV } from '../../lambdas/handlers/manifest';

/**
 * Issue #20, item 4, as the FabricNetwork construct deploys three Raft orderers
 * (`fabricOrderers: 3`): chaincode/network/aws-node.sh on the node (orderer0, the peer, the
 * chaincode) and `aws-node.sh --orderer N` on two orderer hosts, each "host" with its own data
 * directory, units and stand-in systemd (test/fabric/fixtures/fake-systemd), all on this machine
 * under its first non-loopback IPv4 address. The node writes each orderer's material (the bundle the
 * construct passes through a secret); the hosts start from it alone; the channel becomes active once
 * they run, the controller commits, and it still commits with one orderer host stopped.
 *
 * CHAINFAAS_SKIP_FABRIC=1 skips the file.
 */
const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const address = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
const describeNode = skip || !address ? describe.skip : describe;

const NETWORK = join(projectRoot(), 'chaincode', 'network');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeNode('aws-node.sh with three orderers: the node and two orderer hosts', () => {
  let root: string;
  let base: number;
  let node: NodeJS.ProcessEnv;
  const hosts: NodeJS.ProcessEnv[] = [];
  let nodeRun: Run;
  const hostRuns: Run[] = [];
  let ledger: FabricLedger | undefined;

  /** A host's environment: its own data, units and systemd state; the orderers' names and ports. */
  function hostEnv(name: string, extra: Record<string, string>): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${FAKE_SYSTEMD}:${process.env.PATH}`,
      FAKE_SYSTEMD_STATE: join(root, name, 'systemd-state'),
      CHAINFAAS_SYSTEMD_DIR: join(root, name, 'etc/systemd/system'),
      CHAINFAAS_DATA_DIR: join(root, name, 'var/lib/chainfaas/fabric'),
      CHAINFAAS_SERVICE_USER: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
      FABRIC_LISTEN_ADDRESS: '0.0.0.0',
      FABRIC_PEER_HOST: address,
      FABRIC_BASE_PORT: String(base),
      FABRIC_CHANNEL: 'chainfaas',
      FABRIC_CHAINCODE: 'chainfaas',
      FABRIC_BIN_DIR: execFileSync(join(NETWORK, 'fabric-bin.sh'), { encoding: 'utf8' }).trim(),
      FABRIC_ORDERERS: '3',
      FABRIC_ORDERER1_HOST: address,
      FABRIC_ORDERER2_HOST: address,
      ...extra,
    };
  }
  const systemctl = (env: NodeJS.ProcessEnv, ...args: string[]) => run(join(FAKE_SYSTEMD, 'systemctl'), args, env);

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'chainfaas-aws-orderers-'));
    base = await freePortRange(19);
    node = hostEnv('node', { CHAINFAAS_IDENTITY_DIR: join(root, 'node', 'var/lib/chainfaas/identity') });
    for (const n of [1, 2]) hosts.push(hostEnv(`orderer${n}`, { FABRIC_PEER_HOST: '', CHAINFAAS_ORDERER_BUNDLE: join(root, 'node', 'var/lib/chainfaas/identity', 'orderers', `orderer${n}.b64`) }));
    spawn(
      'bash',
      [
        '-c',
        `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; ` +
          [node, ...hosts].map((env) => `CHAINFAAS_SYSTEMD_DIR='${env.CHAINFAAS_SYSTEMD_DIR}' FAKE_SYSTEMD_STATE='${env.FAKE_SYSTEMD_STATE}' "${FAKE_SYSTEMD}/systemctl" stop ${NODE_UNITS.join(' ')}`).join('; '),
      ],
      { detached: true, stdio: 'ignore' },
    ).unref();

    // The node waits for a majority of orderers; the hosts wait for their material (on AWS: a secret each).
    const nodeDone = run('bash', [join(NETWORK, 'aws-node.sh')], node);
    for (let i = 0; i < 600 && !hosts.every((env) => existsSync(env.CHAINFAAS_ORDERER_BUNDLE as string)); i++) await sleep(500);
    await sleep(500); // put_file renames the bundle into place whole; this only lets the second one land
    hostRuns.push(...(await Promise.all(hosts.map((env, i) => run('bash', [join(NETWORK, 'aws-node.sh'), '--orderer', String(i + 1)], env)))));
    nodeRun = await nodeDone;
    if (nodeRun.code !== 0) console.log(nodeRun.stderr.split('\n').slice(-40).join('\n'));
    for (const r of hostRuns) if (r.code !== 0) console.log(r.stderr.split('\n').slice(-40).join('\n'));
  }, 15 * 60_000);

  afterAll(async () => {
    await ledger?.close();
    for (const env of [node, ...hosts]) if (env) await systemctl(env, 'stop', ...NODE_UNITS);
    if (root && process.env.KEEP_LOGS !== '1') rmSync(root, { recursive: true, force: true });
  }, 60_000);

  test('the node hands each host a bundle that fits a secret; every host and the node exit 0', () => {
    for (const env of hosts) expect(statSync(env.CHAINFAAS_ORDERER_BUNDLE as string).size).toBeLessThan(60_000);
    expect(hostRuns.map((r) => r.code)).toEqual([0, 0]);
    expect(nodeRun.code).toBe(0);
    // An orderer host runs only its orderer, with a Raft cluster listener of its own.
    for (const [i, env] of hosts.entries()) {
      expect(readFileSync(join(env.FAKE_SYSTEMD_STATE as string, 'enabled'), 'utf8').trim()).toBe('chainfaas-orderer.service');
      const ordererEnv = readFileSync(join(env.CHAINFAAS_DATA_DIR as string, 'network/config/orderer.env'), 'utf8');
      expect(ordererEnv).toContain(`ORDERER_GENERAL_CLUSTER_LISTENPORT="${base + 14 + 4 * i}"`);
      expect(ordererEnv).toContain(`orderer${i + 1}.orderer.chainfaas.local/tls/server.crt`);
    }
  });

  test('the controller commits, and still commits with one orderer host down', async () => {
    execFileSync('bash', ['-c', identityJsonCommand(node.CHAINFAAS_IDENTITY_DIR as string)]);
    const identity = readFileSync(join(node.CHAINFAAS_IDENTITY_DIR as string, 'identity.json'), 'utf8');
    ledger = new FabricLedger(
      fabricOptionsFromIdentity(
        { [ENV.fabric.peerEndpoint]: `${address}:${base + 1}`, [ENV.fabric.peerHostAlias]: address, [ENV.fabric.channel]: 'chainfaas', [ENV.fabric.chaincode]: 'chainfaas' },
        identity,
      ),
    );
    await ledger.submit([
      { type: 'OpenAccount', accountId: 'usr_raft3', owner: 'usr_raft3' },
      { type: 'TopUp', accountId: 'usr_raft3', amount: 10, reference: 'raft3-1' },
    ]);
    expect(await ledger.getBalance('usr_raft3')).toBe(10);

    await systemctl(hosts[1] as NodeJS.ProcessEnv, 'stop', 'chainfaas-orderer.service');
    await ledger.submit([{ type: 'TopUp', accountId: 'usr_raft3', amount: 5, reference: 'raft3-2' }]);
    expect(await ledger.getBalance('usr_raft3')).toBe(15);
  }, 5 * 60_000);
});
