import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChaincodeError } from '../../lambdas/adapters/ledger/contract-ledger';
import { FabricLedger, fabricOptionsFromEnv, fabricOptionsFromIdentity } from '../../lambdas/adapters/ledger/fabric-ledger';
import { tempDir } from './harness';

/**
 * FabricLedger without a network: configuration and error mapping. Its behaviour against real
 * peers is exercised by the network scripts in chaincode/network.
 */
describe('FabricLedger', () => {
  const { dir, remove } = tempDir('chainfaas-fabric-');
  afterAll(remove);

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const keystore = join(dir, 'keystore');
  mkdirSync(keystore);
  writeFileSync(join(keystore, 'abc_sk'), keyPem);
  writeFileSync(join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nnot-checked-by-the-client\n-----END CERTIFICATE-----\n');
  const env = {
    FABRIC_PEER_ENDPOINT: '127.0.0.1:1',
    FABRIC_TLS_CERT_PATH: join(dir, 'cert.pem'),
    FABRIC_MSP_ID: 'ControllerMSP',
    FABRIC_CERT_PATH: join(dir, 'cert.pem'),
    FABRIC_KEY_PATH: keystore,
  };

  it('reads its configuration from the environment, including a keystore directory', () => {
    const options = fabricOptionsFromEnv(env);
    expect(options).toMatchObject({ peerEndpoint: '127.0.0.1:1', mspId: 'ControllerMSP', channel: undefined, chaincode: undefined });
    expect(options.privateKeyPem.toString()).toBe(keyPem);
  });

  it('reads the client identity from the JSON the CDK stack keeps in Secrets Manager', () => {
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const identity = JSON.stringify({ mspId: 'ControllerMSP', certificate: cert, privateKey: keyPem, tlsRootCertificate: cert });
    const options = fabricOptionsFromIdentity({ FABRIC_PEER_ENDPOINT: 'peer:7051', FABRIC_CHANNEL: 'ch' }, identity);
    expect(options).toMatchObject({ peerEndpoint: 'peer:7051', mspId: 'ControllerMSP', channel: 'ch' });
    expect(options.privateKeyPem.toString()).toBe(keyPem);
    expect(() => fabricOptionsFromIdentity({ FABRIC_PEER_ENDPOINT: 'peer:7051' }, JSON.stringify({ mspId: 'M', certificate: cert, tlsRootCertificate: cert }))).toThrow(/privateKey as a PEM/);
  });

  it('names the missing variable', () => {
    expect(() => fabricOptionsFromEnv({ ...env, FABRIC_MSP_ID: '' })).toThrow(/needs FABRIC_MSP_ID/);
  });

  it('reports an unreachable peer as a ChaincodeError naming the transaction', async () => {
    const ledger = new FabricLedger({ ...fabricOptionsFromEnv(env), requestTimeoutS: 2 });
    try {
      const failure = ledger.getBalance('dev1');
      await expect(failure).rejects.toBeInstanceOf(ChaincodeError);
      await expect(failure).rejects.toMatchObject({ transaction: 'GetBalance' });
    } finally {
      await ledger.close();
    }
  });
});
