import { execFileSync, spawn } from 'node:child_process';
import { createPrivateKey, sign, verify, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange } from '../../bench/ledger-network';
import { caJsonCommand, identityJsonCommand } from '../../lib/constructs/fabric-network';
import { FabricPeerEnrolment, parseCaSecret } from '../../lambdas/adapters/fabric-enrolment';
import { projectRoot } from '../../lib/project-root';
import { FAKE_SYSTEMD, NODE_UNITS, run, type Run } from './aws-node-support';
import { FabricLedger, fabricOptionsFromIdentity } from '../../lambdas/adapters/ledger/fabric-ledger';
import { ENV } from '../../lambdas/handlers/manifest';

/**
 * chaincode/network/aws-node.sh for real, as the FabricNetwork construct runs it on its EC2 node,
 * minus EC2: the same script and contract variables, Fabric's real binaries, the peer bound to
 * 0.0.0.0 and advertised under this machine's first non-loopback IPv4 address (on EC2: the private
 * DNS name), and a stand-in for systemd (test/fabric/fixtures/fake-systemd: it starts each unit's
 * ExecStart with its EnvironmentFile, so the units the script wrote are what runs). The controller
 * then reaches the ledger the way the Lambdas do: the identity JSON built by the user data's own jq
 * command, the peer's address, TLS checked against that name.
 *
 * A "reboot" stops every unit and starts the enabled ones again, as systemd would at boot: the
 * ledger's state survives, and running the script again changes nothing (no new crypto material,
 * no second InitLedger, the same identity).
 *
 * Needs Fabric's binaries (fabric-bin.sh builds them with Go the first time).
 * CHAINFAAS_SKIP_FABRIC=1 skips the file, as for test/fabric/fabric-network.test.ts.
 */

const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const address = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
const describeNode = skip || !address ? describe.skip : describe;
if (!skip && !address) console.warn('aws-node.test.ts: no non-loopback IPv4 address on this machine; skipped');

const NETWORK = join(projectRoot(), 'chaincode', 'network');

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

describeNode('aws-node.sh on a node (real Fabric, systemd units run by a stand-in)', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let base: number;
  let first: Run;
  let ledger: FabricLedger | undefined;
  const identityDir = (): string => env.CHAINFAAS_IDENTITY_DIR as string;
  const systemctl = (...args: string[]): Promise<Run> => run(join(FAKE_SYSTEMD, 'systemctl'), args, env);

  /** The controller's view: the identity JSON the user data stores in Secrets Manager, and the peer's address. */
  function controllerLedger(): FabricLedger {
    execFileSync('bash', ['-c', identityJsonCommand(identityDir())]);
    const identity = readFileSync(join(identityDir(), 'identity.json'), 'utf8');
    rmSync(join(identityDir(), 'identity.json'));
    return new FabricLedger(
      fabricOptionsFromIdentity(
        {
          [ENV.fabric.peerEndpoint]: `${address}:${base + 1}`,
          [ENV.fabric.peerHostAlias]: address,
          [ENV.fabric.channel]: 'chainfaas',
          [ENV.fabric.chaincode]: 'chainfaas',
        },
        identity,
      ),
    );
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'chainfaas-aws-node-'));
    base = await freePortRange(10);
    const binDir = execFileSync(join(NETWORK, 'fabric-bin.sh'), { encoding: 'utf8' }).trim();
    env = {
      ...process.env,
      PATH: `${FAKE_SYSTEMD}:${process.env.PATH}`,
      FAKE_SYSTEMD_STATE: join(root, 'systemd-state'),
      CHAINFAAS_SYSTEMD_DIR: join(root, 'etc/systemd/system'),
      CHAINFAAS_DATA_DIR: join(root, 'var/lib/chainfaas/fabric'),
      CHAINFAAS_IDENTITY_DIR: join(root, 'var/lib/chainfaas/identity'),
      // The units run as whoever runs the test (no useradd on a shared machine).
      CHAINFAAS_SERVICE_USER: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
      FABRIC_LISTEN_ADDRESS: '0.0.0.0',
      FABRIC_PEER_HOST: address,
      FABRIC_BASE_PORT: String(base),
      FABRIC_ORDERER_PORT: String(base),
      FABRIC_PEER_PORT: String(base + 1),
      FABRIC_CHANNEL: 'chainfaas',
      FABRIC_CHAINCODE: 'chainfaas',
      FABRIC_BIN_DIR: binDir,
    };
    // If jest dies before afterAll, stop the units once this process is gone.
    spawn(
      'bash',
      ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; for u in ${NODE_UNITS.join(' ')}; do "${FAKE_SYSTEMD}/systemctl" stop "$u"; done`],
      { env, detached: true, stdio: 'ignore' },
    ).unref();
    const started = Date.now();
    first = await run('bash', [join(NETWORK, 'aws-node.sh')], env);
    console.log(
      `aws-node.sh: exit ${first.code} in ${((Date.now() - started) / 1000).toFixed(1)} s (${root}, ports ${base}-${base + 9}, peer ${address}:${base + 1})`,
    );
    if (first.code !== 0) console.log(first.stderr.split('\n').slice(-40).join('\n'));
  }, 15 * 60_000);

  afterAll(async () => {
    await ledger?.close();
    if (env) for (const unit of NODE_UNITS) await systemctl('stop', unit);
    if (root && process.env.KEEP_LOGS !== '1') rmSync(root, { recursive: true, force: true });
  }, 60_000);

  test('exits 0 once the peer answers, with three units enabled and running', async () => {
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('InitLedger as the controller');
    expect(
      readFileSync(join(env.FAKE_SYSTEMD_STATE as string, 'enabled'), 'utf8')
        .trim()
        .split('\n')
        .sort(),
    ).toEqual([...NODE_UNITS].sort());
    for (const unit of NODE_UNITS) expect((await systemctl('is-active', unit)).code).toBe(0);
    expect(first.stdout).toContain(`FABRIC_PEER_ENDPOINT=${address}:${base + 1}`);
  });

  test('writes the controller identity the construct stores: MSP id, User1 certificate, PKCS#8 key, TLS CA', () => {
    const dir = identityDir();
    expect(readFileSync(join(dir, 'msp-id'), 'utf8')).toBe('ChainFaaSMSP\n');
    const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem')));
    expect(cert.subject).toContain('CN=User1@chainfaas.local');
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPrivateKey(key).asymmetricKeyType).toBe('ec');
    const tlsCa = new X509Certificate(readFileSync(join(dir, 'tls-ca.pem')));
    const peerTls = new X509Certificate(
      readFileSync(join(env.CHAINFAAS_DATA_DIR as string, 'network/crypto/peerOrganizations/chainfaas.local/peers/peer0.chainfaas.local/tls/server.crt')),
    );
    expect(peerTls.verify(tlsCa.publicKey)).toBe(true);
    expect(peerTls.subjectAltName).toContain(`IP Address:${address}`);
  });

  test("issue #20: writes the organisation's CAs the construct stores in the CA secret, and enrolment works from that secret alone", async () => {
    execFileSync('bash', ['-c', caJsonCommand(identityDir())]);
    const json = readFileSync(join(identityDir(), 'ca.json'), 'utf8');
    rmSync(join(identityDir(), 'ca.json'));
    const material = parseCaSecret(json, 'arn:test:ca');
    const packageId = /^FABRIC_PACKAGE_ID=(.+)$/m.exec(first.stdout)?.[1];
    expect(material).toMatchObject({ mspId: 'ChainFaaSMSP', packageId, ccaasAddress: `127.0.0.1:${base + 6}` });
    const pairs: [string, string][] = [
      [material.caCertificate, material.caKey],
      [material.tlsCaCertificate, material.tlsCaKey],
    ];
    for (const [certificate, key] of pairs) {
      // Each key is its certificate's: what it signs, the certificate verifies.
      const signature = sign('sha256', Buffer.from('enrol'), createPrivateKey(key));
      expect(verify('sha256', Buffer.from('enrol'), new X509Certificate(certificate).publicKey, signature)).toBe(true);
    }
    // The peer's TLS server certificate and the orderer's chain to the CAs in the secret.
    const peerTls = new X509Certificate(
      readFileSync(join(env.CHAINFAAS_DATA_DIR as string, 'network/crypto/peerOrganizations/chainfaas.local/peers/peer0.chainfaas.local/tls/server.crt')),
    );
    expect(peerTls.verify(new X509Certificate(material.tlsCaCertificate).publicKey)).toBe(true);
    // The Lambda's environment as the stack sets it: no MSP id, package id or chaincode address (only the node knows them).
    const enrolment = new FabricPeerEnrolment(
      {
        [ENV.fabric.peerEndpoint]: `${address}:${base + 1}`,
        [ENV.fabric.peerHostAlias]: address,
        [ENV.peerEnrolment.ordererEndpoint]: `${address}:${base}`,
        [ENV.peerEnrolment.ordererHostAlias]: address,
        [ENV.peerEnrolment.gossipBootstrap]: `${address}:${base + 1}`,
      },
      async () => material,
      async () => {
        throw new Error('not used');
      },
    );
    const info = await enrolment.info();
    expect(info).toMatchObject({ mspId: 'ChainFaaSMSP', domain: 'chainfaas.local', chaincode: { packageId, address: `127.0.0.1:${base + 6}` } });
    // The gossip bootstrap is the address outside peers reach (FABRIC_GOSSIP_BOOTSTRAP), which the peer's certificate carries.
    expect(info.gossipBootstrap.endpoint).toBe(`${address}:${base + 1}`);
    expect(peerTls.subjectAltName).toContain(`IP Address:${address}`);
    const authority = await enrolment.authority('identity');
    const signed = await authority.sign(Buffer.from('tbs'));
    expect(verify('sha256', Buffer.from('tbs'), new X509Certificate(authority.certificatePem).publicKey, signed)).toBe(true);
  });

  test('the peer and the orderer answer on the node address; admin, operations, chaincode ports only on loopback', async () => {
    expect(await portOpen(address!, base)).toBe(true);
    expect(await portOpen(address!, base + 1)).toBe(true);
    for (const port of [base + 2, base + 3, base + 4, base + 5, base + 6]) {
      expect([port, await portOpen(address!, port)]).toEqual([port, false]);
      expect([port, await portOpen('127.0.0.1', port)]).toEqual([port, true]);
    }
  });

  test('the controller reaches the ledger as the Lambdas do, and transactions commit', async () => {
    ledger = controllerLedger();
    const result = await ledger.submit([
      { type: 'OpenAccount', accountId: 'usr_awsnode1', owner: 'usr_awsnode1' },
      { type: 'TopUp', accountId: 'usr_awsnode1', amount: 4242, reference: 'aws-node-test' },
    ]);
    expect(result.results).toEqual([{ ok: true }, { ok: true }]);
    expect(await ledger.getBalance('usr_awsnode1')).toBe(4242);
    await ledger.close();
    ledger = undefined;
  });

  test(
    'after a reboot the units bring the network back with its state; rerunning the script changes nothing',
    async () => {
      const cert = readFileSync(join(identityDir(), 'cert.pem'), 'utf8');
      for (const unit of NODE_UNITS) await systemctl('stop', unit);
      expect(await portOpen(address!, base + 1)).toBe(false);
      // Boot: systemd starts the enabled units.
      for (const unit of readFileSync(join(env.FAKE_SYSTEMD_STATE as string, 'enabled'), 'utf8')
        .trim()
        .split('\n'))
        await systemctl('start', unit);
      ledger = controllerLedger();
      let balance: number | undefined;
      for (let i = 0; i < 120 && balance === undefined; i++) {
        balance = await ledger.getBalance('usr_awsnode1').catch(() => undefined);
        if (balance === undefined) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      expect(balance).toBe(4242);

      const again = await run('bash', [join(NETWORK, 'aws-node.sh')], env);
      expect(again.code).toBe(0);
      expect(again.stderr).not.toMatch(/crypto material|InitLedger|osnadmin channel join|building Fabric/);
      expect(readFileSync(join(identityDir(), 'cert.pem'), 'utf8')).toBe(cert);
      expect(existsSync(join(env.CHAINFAAS_DATA_DIR as string, 'network/channel/genesis.block'))).toBe(true);
      expect(await ledger.getBalance('usr_awsnode1')).toBe(4242);
    },
    5 * 60_000,
  );
});
