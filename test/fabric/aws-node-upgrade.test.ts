import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange } from '../../bench/ledger-network';
import { identityJsonCommand } from '../../lib/constructs/fabric-network';
import { projectRoot } from '../../lib/project-root';
import { FAKE_SYSTEMD, NODE_UNITS, run } from './aws-node-support';
import { FabricLedger, fabricOptionsFromIdentity } from '../../lambdas/adapters/ledger/fabric-ledger';
import { ENV } from '../../lambdas/handlers/manifest';

/**
 * Issue #20: the chaincode upgrade on the EC2 node. aws-node.sh runs from a copy of the asset the
 * construct ships (package files and chaincode/, here with the repository's node_modules linked
 * in), as test/fabric/aws-node.test.ts runs it (stand-in systemd, real Fabric). After an edit of
 * the chaincode's code, running it again commits the next definition sequence (approve, commit)
 * and serves the new package; the balances stay and new transactions commit. A run with the code
 * unchanged changes no definition.
 *
 * CHAINFAAS_SKIP_FABRIC=1 skips the file.
 */
const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const address = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
const describeNode = skip || !address ? describe.skip : describe;

const REPO = projectRoot();

describeNode('aws-node.sh upgrades the chaincode when its code changed', () => {
  let root: string;
  let asset: string;
  let env: NodeJS.ProcessEnv;
  let base: number;
  let ledger: FabricLedger | undefined;
  const script = () => join(asset, 'chaincode', 'network', 'aws-node.sh');
  const record = () => readFileSync(join(env.CHAINFAAS_DATA_DIR as string, 'network', 'channel', 'chaincode-definition'), 'utf8');

  function controllerLedger(): FabricLedger {
    const dir = env.CHAINFAAS_IDENTITY_DIR as string;
    execFileSync('bash', ['-c', identityJsonCommand(dir)]);
    const identity = readFileSync(join(dir, 'identity.json'), 'utf8');
    rmSync(join(dir, 'identity.json'));
    return new FabricLedger(
      fabricOptionsFromIdentity(
        { [ENV.fabric.peerEndpoint]: `${address}:${base + 1}`, [ENV.fabric.peerHostAlias]: address, [ENV.fabric.channel]: 'chainfaas', [ENV.fabric.chaincode]: 'chainfaas' },
        identity,
      ),
    );
  }

  /** The committed definition as the peer reports it (the peer CLI as the org's admin). */
  function committed(): { sequence: number; version: string } {
    const state = join(env.CHAINFAAS_DATA_DIR as string, 'network');
    const out = execFileSync(
      'bash',
      ['-c', `. '${join(asset, 'chaincode', 'network', 'lib.sh')}'; set_state_paths; bin='${env.FABRIC_BIN_DIR}'; peer_cli "$peer_admin" ${base + 1} lifecycle chaincode querycommitted -C chainfaas -n chainfaas --output json`],
      { env: { ...env, FABRIC_STATE_DIR: state }, encoding: 'utf8' },
    );
    return JSON.parse(out) as { sequence: number; version: string };
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'chainfaas-aws-upgrade-'));
    // The asset's layout (FABRIC_ASSET_EXCLUDE): package files and chaincode/, no node_modules or dist.
    asset = join(root, 'asset');
    cpSync(join(REPO, 'package.json'), join(asset, 'package.json'));
    cpSync(join(REPO, 'chaincode'), join(asset, 'chaincode'), { recursive: true, filter: (src) => !/\/(node_modules|dist)(\/|$)/.test(src) });
    symlinkSync(join(REPO, 'node_modules'), join(asset, 'node_modules'));
    base = await freePortRange(10);
    env = {
      ...process.env,
      PATH: `${FAKE_SYSTEMD}:${process.env.PATH}`,
      FAKE_SYSTEMD_STATE: join(root, 'systemd-state'),
      CHAINFAAS_SYSTEMD_DIR: join(root, 'etc/systemd/system'),
      CHAINFAAS_DATA_DIR: join(root, 'var/lib/chainfaas/fabric'),
      CHAINFAAS_IDENTITY_DIR: join(root, 'var/lib/chainfaas/identity'),
      CHAINFAAS_SERVICE_USER: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
      FABRIC_LISTEN_ADDRESS: '0.0.0.0',
      FABRIC_PEER_HOST: address,
      FABRIC_BASE_PORT: String(base),
      FABRIC_CHANNEL: 'chainfaas',
      FABRIC_CHAINCODE: 'chainfaas',
      FABRIC_BIN_DIR: execFileSync(join(REPO, 'chaincode', 'network', 'fabric-bin.sh'), { encoding: 'utf8' }).trim(),
    };
    spawn(
      'bash',
      ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; for u in ${NODE_UNITS.join(' ')}; do "${FAKE_SYSTEMD}/systemctl" stop "$u"; done`],
      { env, detached: true, stdio: 'ignore' },
    ).unref();
    const first = await run('bash', [script()], env);
    if (first.code !== 0) console.log(first.stderr.split('\n').slice(-40).join('\n'));
    expect(first.code).toBe(0);
  }, 15 * 60_000);

  afterAll(async () => {
    await ledger?.close();
    if (env) for (const unit of NODE_UNITS) await run(join(FAKE_SYSTEMD, 'systemctl'), ['stop', unit], env);
    if (root && process.env.KEEP_LOGS !== '1') rmSync(root, { recursive: true, force: true });
  }, 60_000);

  test('sequence 1, then 2 after a code change with the balances kept, and no change on a rerun', async () => {
    expect(committed()).toMatchObject({ sequence: 1, version: '1.0' });
    expect(record()).toMatch(/^sequence=1\nfingerprint=[0-9a-f]{64}\npackage_id=chainfaas_1\.0:[0-9a-f]{64}\n$/);
    ledger = controllerLedger();
    await ledger.submit([
      { type: 'OpenAccount', accountId: 'usr_upgrade1', owner: 'usr_upgrade1' },
      { type: 'TopUp', accountId: 'usr_upgrade1', amount: 700, reference: 'upgrade-1' },
    ]);
    await ledger.close();
    ledger = undefined;

    // Unchanged code: nothing to upgrade.
    const same = await run('bash', [script()], env);
    expect(same.code).toBe(0);
    expect(same.stderr).not.toContain('chaincode upgrade');
    expect(committed().sequence).toBe(1);

    // A new release of the chaincode (what a deploy with an edited chaincode/ ships).
    appendFileSync(join(asset, 'chaincode', 'src', 'index.ts'), '\n// release 2\n');
    const upgraded = await run('bash', [script()], env);
    if (upgraded.code !== 0) console.log(upgraded.stderr.split('\n').slice(-40).join('\n'));
    expect(upgraded.code).toBe(0);
    expect(upgraded.stderr).toContain('chaincode upgrade: sequence 1 -> 2');
    expect(committed()).toMatchObject({ sequence: 2, version: '2.0' });
    const packageId = /^FABRIC_PACKAGE_ID=(chainfaas_2\.0:[0-9a-f]{64})$/m.exec(upgraded.stdout)?.[1];
    expect(packageId).toBeDefined();
    expect(readFileSync(join(env.CHAINFAAS_SYSTEMD_DIR as string, 'chainfaas-chaincode.service'), 'utf8')).toContain(packageId);
    expect(readFileSync(join(env.CHAINFAAS_IDENTITY_DIR as string, 'ca', 'package-id'), 'utf8').trim()).toBe(packageId);

    ledger = controllerLedger();
    expect(await ledger.getBalance('usr_upgrade1')).toBe(700);
    await ledger.submit([{ type: 'TopUp', accountId: 'usr_upgrade1', amount: 5, reference: 'upgrade-2' }]);
    expect(await ledger.getBalance('usr_upgrade1')).toBe(705);

    const again = await run('bash', [script()], env);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('chaincode upgrade');
    expect(committed().sequence).toBe(2);
  }, 10 * 60_000);
});
