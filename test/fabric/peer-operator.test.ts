import { execFile, execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortRange, LocalFabricNetwork, networkScriptsDir, startLocalFabric } from '../../bench/ledger-network';
import { ContractName } from '../../lambdas/adapters/ledger/contract-ledger';
import { FabricLedger } from '../../lambdas/adapters/ledger/fabric-ledger';
import { startPlatform, type Platform } from '../../local/platform';
import { eventually } from '../support/api';
import { CheckedApi, newCheckedUser } from '../support/checked-api';

/**
 * Issue #6, peer operators: the platform runs on a REAL Fabric network (up.sh on free ports, the
 * controller's handlers with LEDGER_MODE=fabric); a peer operator makes its peer's two keys and
 * CSRs with openssl (the keys never leave its directory), enrols through POST /peers, runs the
 * join command the answer gives on another port, and the API reports the peer joined at the
 * channel's height — from Fabric's discovery service. The new peer then endorses and commits on
 * its own (peer0 killed), and its certificate cannot act as the controller (nor as any client).
 *
 * CHAINFAAS_SKIP_FABRIC=1 skips the file.
 */

const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const describeFabric = skip ? describe.skip : describe;

/** FabricLedger plus raw transactions as a given identity. */
class RawFabricLedger extends FabricLedger {
  transact(contract: ContractName, fn: string, args: string[]): Promise<{ txId: string; result: string }> {
    return this.submitTx(contract, fn, args);
  }
}

/** What the portal tells the operator to run: an EC P-256 key and a CSR for it (the subject is ignored). */
function keyAndCsr(dir: string, name: string, subject = '/CN=ignored'): { key: string; csr: string } {
  const key = join(dir, `${name}key.pem`);
  const csr = join(dir, `${name}.csr`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], { stdio: 'pipe' });
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr], { stdio: 'pipe' });
  return { key, csr: readFileSync(csr, 'utf8') };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} failed: ${err.message}\n${stderr.split('\n').slice(-30).join('\n')}`)) : resolve(stdout),
    );
  });
}

describeFabric('peer operators join the Fabric network (POST /peers, join-peer.sh --bundle, discovery status)', () => {
  let net: LocalFabricNetwork;
  let platform: Platform;
  let api: CheckedApi;
  let operator: CheckedApi;
  let otherOperator: CheckedApi;
  let developer: CheckedApi;
  const work = mkdtempSync(join(tmpdir(), 'chainfaas-peer-operator-'));
  const peerState = join(work, 'peer-state');
  let peerId = '';
  let endpoint = '';
  let bundle: Record<string, any> = {};
  let command = '';

  beforeAll(async () => {
    net = await startLocalFabric();
    console.log(`fabric network up in ${net.startSeconds.toFixed(1)} s (${net.stateDir}, ports ${net.basePort}-${net.basePort + 9})`);
    platform = await startPlatform({
      port: 0,
      dataDir: join(work, 'platform'),
      provider: false,
      images: false,
      ledger: { mode: 'fabric', env: net.env },
      log: () => undefined,
    });
    api = new CheckedApi(platform.apiUrl);
    operator = (await newCheckedUser(api, ['peer-operator'])).api;
    otherOperator = (await newCheckedUser(api, ['peer-operator'])).api;
    developer = (await newCheckedUser(api, ['developer'])).api;
  }, 15 * 60_000);

  afterAll(async () => {
    await run(join(networkScriptsDir(), 'down.sh'), [peerState], process.env).catch(() => undefined);
    await platform?.stop();
    await net?.down();
  }, 120_000);

  afterEach(() => {
    expect(api.violations).toEqual([]);
  });

  it('refuses a developer (403), bad CSRs (400 naming the field) and enrols nothing', async () => {
    const sign = keyAndCsr(work, 'refused-sign');
    const tls = keyAndCsr(work, 'refused-tls');
    const body = { name: 'box', endpoint: '127.0.0.1:7999', signCsr: sign.csr, tlsCsr: tls.csr };
    const asDeveloper = await developer.post('/peers', body);
    expect(asDeveloper.status).toBe(403);
    expect(asDeveloper.body.error.message).toMatch(/peer-operator/);

    const garbage = await operator.post('/peers', { ...body, signCsr: 'not a CSR' });
    expect(garbage.status).toBe(400);
    expect(garbage.body.error.field).toBe('signCsr');

    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(work, 'rsa.pem')], { stdio: 'pipe' });
    const rsaCsr = execFileSync('openssl', ['req', '-new', '-key', join(work, 'rsa.pem'), '-subj', '/CN=x'], { stdio: 'pipe' }).toString();
    const rsa = await operator.post('/peers', { ...body, tlsCsr: rsaCsr });
    expect(rsa.status).toBe(400);
    expect(rsa.body.error).toMatchObject({ field: 'tlsCsr', message: expect.stringMatching(/EC P-256/) });

    // A request whose signature is not by its key (the last bytes of the signature changed).
    const der = Buffer.from(tls.csr.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 2] = (der[der.length - 2] as number) ^ 0xff;
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    const badSig = await operator.post('/peers', { ...body, tlsCsr: forged });
    expect(badSig.status).toBe(400);
    expect(badSig.body.error.field).toBe('tlsCsr');

    const sameKey = await operator.post('/peers', { ...body, tlsCsr: sign.csr });
    expect(sameKey.status).toBe(400);
    expect(sameKey.body.error.field).toBe('tlsCsr');

    const badEndpoint = await operator.post('/peers', { ...body, endpoint: '0.0.0.0:7051' });
    expect(badEndpoint.status).toBe(400);
    expect(badEndpoint.body.error.field).toBe('endpoint');

    expect((await operator.get('/peers')).body.items).toEqual([]);
  });

  it('enrols a peer from CSRs: certificates by the CAs with the peer node OU and a subject the controller chose', async () => {
    const port = await freePortRange(3);
    endpoint = `127.0.0.1:${port}`;
    // The CSR asks to be an admin named like the controller: the controller ignores the subject.
    const sign = keyAndCsr(work, 'sign', '/OU=admin/CN=User1@chainfaas.local');
    const tls = keyAndCsr(work, 'tls', '/OU=client/CN=User1@chainfaas.local');
    const res = await operator.post('/peers', { name: 'my first peer', endpoint, signCsr: sign.csr, tlsCsr: tls.csr });
    expect(res.status).toBe(201);
    ({ bundle, command } = res.body);
    peerId = res.body.peer.peerId;
    expect(res.body.peer).toMatchObject({ peerId: expect.stringMatching(/^peer_/), status: 'enrolled', endpoint, mspId: 'ChainFaaSMSP' });
    expect(bundle).toMatchObject({
      peerId,
      endpoint,
      mspId: 'ChainFaaSMSP',
      channel: 'chainfaas',
      chaincode: { name: 'chainfaas', packageId: net.env.FABRIC_PACKAGE_ID },
    });
    expect(command).toBe(`chaincode/network/join-peer.sh --bundle peer-bundle.json --key signkey.pem --tls-key tlskey.pem --listen ${endpoint}`);

    const signCert = new X509Certificate(bundle.certificates.sign);
    const tlsCert = new X509Certificate(bundle.certificates.tls);
    expect(signCert.subject.split('\n')).toEqual(['O=chainfaas.local', 'OU=peer', `CN=${peerId}.chainfaas.local`]);
    expect(tlsCert.subject).toBe(signCert.subject);
    expect(tlsCert.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(signCert.ca).toBe(false);
    // Issued by the organisation's CA (identity) and TLS CA, for the operator's own keys.
    expect(signCert.verify(new X509Certificate(readFileSync(net.env.FABRIC_CA_CERT_PATH as string)).publicKey)).toBe(true);
    expect(tlsCert.verify(new X509Certificate(readFileSync(net.env.FABRIC_TLS_CERT_PATH as string)).publicKey)).toBe(true);
    expect(signCert.checkPrivateKey(createPrivateKey(readFileSync(sign.key)))).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain('PRIVATE KEY');
    const listed = (await operator.get('/peers')).body.items;
    expect(listed).toEqual([expect.objectContaining({ peerId, status: 'enrolled', statusText: 'enrolled: not in the channel yet' })]);
  });

  it("another operator's peer is 404, like an unknown one", async () => {
    expect((await otherOperator.get(`/peers/${peerId}`)).status).toBe(404);
    expect((await otherOperator.delete(`/peers/${peerId}`)).status).toBe(404);
    expect((await otherOperator.get('/peers')).body.items).toEqual([]);
    expect((await operator.get('/peers/peer_unknown123')).status).toBe(404);
    expect((await operator.get(`/peers/${peerId}`)).body.peer.status).toBe('enrolled');
  });

  it('runs the join command on another port: the peer joins, catches up, and the API reports it from the network', async () => {
    const heightAtEnrolment = await channelHeight();
    writeFileSync(join(work, 'peer-bundle.json'), JSON.stringify(bundle, null, 2));
    const args = command.split(' ').slice(1);
    // Run as the operator would, from the directory holding the bundle and the two keys.
    const out = await run(
      join(networkScriptsDir(), 'join-peer.sh'),
      [...args, '--state', peerState],
      { ...process.env, FABRIC_WATCH_PID: String(process.pid) },
      work,
    );
    expect(out).toMatch(new RegExp(`^PEER_ID=${peerId}$`, 'm'));
    let last: unknown;
    const joined = await eventually(
      'the network to list the peer as joined at the channel height',
      async () => {
        const res = await operator.get(`/peers/${peerId}`);
        last = { ...res.body, bundle: undefined };
        const peer = res.body.peer;
        return peer.status === 'joined' && peer.ledgerHeight === peer.channelHeight ? peer : undefined;
      },
      90_000,
    ).catch(async (err) => {
      const { FabricDiscovery } = await import('../../lambdas/adapters/fabric-discovery');
      const discovery = new FabricDiscovery(net.options('controller'));
      const members = await discovery.channelPeers().then(
        (peers) => peers.map((p) => `${p.endpoint} h${p.ledgerHeight} ${new X509Certificate(p.certificatePem).subject.replace(/\n/g, ',')}`),
        (e: Error) => e.message,
      );
      discovery.close();
      throw new Error(`${(err as Error).message}; the last answer: ${JSON.stringify(last)}; discovery now: ${JSON.stringify(members)}`);
    });
    expect(joined.ledgerHeight).toBeGreaterThanOrEqual(heightAtEnrolment);
    expect(joined.statusText).toBe(`joined (height ${joined.ledgerHeight} of ${joined.channelHeight})`);
    expect(joined.joinedAt).toEqual(expect.any(String));
    const list = (await operator.get('/peers')).body.items;
    expect(list).toEqual([expect.objectContaining({ peerId, status: 'joined' })]);
  });

  it("the peer's certificate can never act as the controller, nor submit as a client", async () => {
    const asPeer = new RawFabricLedger({
      ...net.options('controller'),
      certificatePem: Buffer.from(bundle.certificates.sign),
      privateKeyPem: readFileSync(join(work, 'signkey.pem')),
    });
    try {
      await expect(asPeer.transact('MonitoringContract', 'SubmitBatch', ['[]'])).rejects.toThrow();
      await expect(asPeer.transact('MonetaryContract', 'TopUp', ['x', '1', 'y'])).rejects.toThrow();
    } finally {
      await asPeer.close();
    }
  });

  // Last but one: it stops peer0.
  it('endorses and commits on its own once peer0 is gone', async () => {
    const viaOperatorPeer = new FabricLedger({ ...net.options('controller'), peerEndpoint: endpoint, peerHostAlias: undefined });
    try {
      await platform.flushLedger();
      await net.kill('peer0');
      const { results } = await viaOperatorPeer.submit([{ type: 'OpenAccount', accountId: 'endorsed-by-operator-peer', owner: 'op@example.test' }]);
      expect(results).toEqual([{ ok: true }]);
      expect(await viaOperatorPeer.getBalance('endorsed-by-operator-peer')).toBe(0);
    } finally {
      await viaOperatorPeer.close();
    }
  });

  it('DELETE revokes: listed as revoked, no bundle served; the list still answers without the network', async () => {
    const res = await operator.delete(`/peers/${peerId}`);
    expect(res.status).toBe(200);
    expect(res.body.peer).toMatchObject({ peerId, status: 'revoked', revokedAt: expect.any(String) });
    const again = await operator.get(`/peers/${peerId}`);
    expect(again.body.peer.status).toBe('revoked');
    expect(again.body.bundle).toBeUndefined();
    const list = await operator.get('/peers');
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([expect.objectContaining({ peerId, status: 'revoked' })]);
  });

  async function channelHeight(): Promise<number> {
    const { FabricDiscovery } = await import('../../lambdas/adapters/fabric-discovery');
    const discovery = new FabricDiscovery(net.options('controller'));
    try {
      return Math.max(...(await discovery.channelPeers()).map((p) => p.ledgerHeight));
    } finally {
      discovery.close();
    }
  }
});
