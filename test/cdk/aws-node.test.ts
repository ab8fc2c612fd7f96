import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { FabricNetwork, pinnedImage } from '../../lib/constructs/fabric-network';
import { projectRoot } from '../../lib/project-root';
import { TEST_IMAGE_ID, testStack } from './helpers';

/**
 * chaincode/network/aws-node.sh, the FabricNetwork construct's default start command, in its
 * --dry-run mode: it writes the configuration, the processes' environment files and the systemd
 * units exactly as a real run on the node would, and starts nothing (no binaries, no systemd, no
 * root needed). test/fabric/aws-node.test.ts runs the same script for real.
 */

const NETWORK = join(projectRoot(), 'chaincode', 'network');
const SCRIPT = join(NETWORK, 'aws-node.sh');
const HOST = 'ip-10-0-1-23.eu-west-1.compute.internal';

/** The variables the construct's user data exports (FabricNetworkProps.startCommand). */
function contractEnv(root: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return {
    ...env,
    FABRIC_LISTEN_ADDRESS: '0.0.0.0',
    FABRIC_PEER_HOST: HOST,
    FABRIC_PEER_PORT: '7051',
    FABRIC_ORDERER_PORT: '7050',
    FABRIC_CHANNEL: 'chainfaas',
    FABRIC_CHAINCODE: 'chainfaas',
    CHAINFAAS_DATA_DIR: join(root, 'var/lib/chainfaas/fabric'),
    CHAINFAAS_IDENTITY_DIR: join(root, 'var/lib/chainfaas/identity'),
    CHAINFAAS_SYSTEMD_DIR: join(root, 'etc/systemd/system'),
    ...extra,
  };
}

function dryRun(env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('bash', [SCRIPT, '--dry-run'], { env, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** A systemd EnvironmentFile as aws-node.sh writes it: KEY="value" lines, nothing systemd would expand. */
function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n').filter(Boolean)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)="([^"\\$`]*)"$/.exec(line);
    if (!match) throw new Error(`not a plain KEY="value" line: ${line}`);
    if (match[1] in env) throw new Error(`${match[1]} set twice`);
    env[match[1]] = match[2];
  }
  return env;
}

/** `[Section]` -> key -> values (a key may repeat). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const unit: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1];
      unit[section] = {};
      continue;
    }
    const [key, ...rest] = line.split('=');
    (unit[section][key] ??= []).push(rest.join('='));
  }
  return unit;
}

describe('aws-node.sh --dry-run', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let data: string;
  let units: string;
  let first: { status: number | null; stdout: string; stderr: string };
  const read = (path: string): string => readFileSync(path, 'utf8');
  const config = (name: string): string => join(data, 'network', 'config', name);

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'chainfaas-aws-node-'));
    env = contractEnv(root, { FABRIC_EXTRA_SANS: '203.0.113.10,fabric.example.org' });
    data = env.CHAINFAAS_DATA_DIR as string;
    units = env.CHAINFAAS_SYSTEMD_DIR as string;
    first = dryRun(env);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('renders the configuration, three environment files and three units, lists them, starts nothing', () => {
    expect(first.stderr).toContain('dry run: rendered 9 files; nothing started');
    expect(first.status).toBe(0);
    const listed = first.stdout.trim().split('\n');
    expect(listed).toEqual([
      config('crypto-config.yaml'),
      config('configtx.yaml'),
      config('orderer.env'),
      config('peer0.env'),
      config('chaincode.env'),
      config('node.env'),
      join(units, 'chainfaas-orderer.service'),
      join(units, 'chainfaas-peer0.service'),
      join(units, 'chainfaas-chaincode.service'),
    ]);
    for (const file of listed) expect(existsSync(file)).toBe(true);
    // Nothing that only a real run makes: no binaries, no crypto material, no identity.
    for (const made of [join(data, 'bin'), join(data, 'network', 'crypto'), env.CHAINFAAS_IDENTITY_DIR as string]) expect(existsSync(made)).toBe(false);
  });

  test('a second run changes nothing (the real run restarts a unit only when its files changed)', () => {
    const again = dryRun(env);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain('rendered 0 files');
  });

  test("node.env records the run's inputs: sourcing it alone reproduces the same files (how an operator reruns the script)", () => {
    const recorded = parseEnvironmentFile(read(config('node.env')));
    expect(recorded).toMatchObject({
      FABRIC_PEER_HOST: HOST,
      FABRIC_PEER_PORT: '7051',
      FABRIC_CCAAS_PORT: '7056',
      CHAINFAAS_DATA_DIR: data,
      CHAINFAAS_SERVICE_USER: 'chainfaas',
    });
    const run = spawnSync('bash', ['-c', `set -a; . '${config('node.env')}'; set +a; exec bash '${SCRIPT}' --dry-run`], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stderr).toContain('rendered 0 files');
  });

  test('the peer and the orderer listen on every address and advertise the node name; admin, operations and chaincode ports stay on loopback', () => {
    const orderer = parseEnvironmentFile(read(config('orderer.env')));
    const peer = parseEnvironmentFile(read(config('peer0.env')));
    expect(orderer).toMatchObject({
      ORDERER_GENERAL_LISTENADDRESS: '0.0.0.0',
      ORDERER_GENERAL_LISTENPORT: '7050',
      ORDERER_GENERAL_TLS_ENABLED: 'true',
      ORDERER_GENERAL_BOOTSTRAPMETHOD: 'none',
      ORDERER_ADMIN_LISTENADDRESS: '127.0.0.1:7053',
      ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED: 'true',
      ORDERER_OPERATIONS_LISTENADDRESS: '127.0.0.1:7054',
      ORDERER_FILELEDGER_LOCATION: join(data, 'network', 'orderer'),
    });
    expect(peer).toMatchObject({
      CORE_PEER_LISTENADDRESS: '0.0.0.0:7051',
      CORE_PEER_ADDRESS: `${HOST}:7051`,
      CORE_PEER_GOSSIP_EXTERNALENDPOINT: `${HOST}:7051`,
      CORE_PEER_GOSSIP_BOOTSTRAP: `${HOST}:7051`,
      CORE_PEER_CHAINCODELISTENADDRESS: '127.0.0.1:7052',
      CORE_OPERATIONS_LISTENADDRESS: '127.0.0.1:7055',
      CORE_PEER_TLS_ENABLED: 'true',
      CORE_PEER_LOCALMSPID: 'ChainFaaSMSP',
      CORE_PEER_FILESYSTEMPATH: join(data, 'network', 'peer0'),
      CORE_VM_ENDPOINT: '',
      CORE_CHAINCODE_EXTERNALBUILDERS: `[{name: chainfaas-ccaas, path: ${join(NETWORK, 'ccaas-builder')}}]`,
    });
    // Every listener other than those two is on loopback.
    const listeners = Object.entries({ ...orderer, ...peer }).filter(([key]) => key.endsWith('LISTENADDRESS'));
    expect(
      listeners
        .filter(([, value]) => !value.startsWith('127.0.0.1:'))
        .map(([key]) => key)
        .sort(),
    ).toEqual(['CORE_PEER_LISTENADDRESS', 'ORDERER_GENERAL_LISTENADDRESS']);
    // Every file the processes are pointed at lives in the data directory (persistent) or the scripts.
    for (const value of [...Object.values(orderer), ...Object.values(peer)].filter((v) => v.startsWith('/') || v.startsWith('['))) {
      expect(value.includes(data) || value.includes(NETWORK)).toBe(true);
    }
  });

  test('the TLS certificates will carry the node name and the extra names; the channel advertises the node, not 127.0.0.1', () => {
    const crypto = read(config('crypto-config.yaml'));
    expect(crypto.match(/SANS: .*/g)).toEqual(Array(2).fill(`SANS: [localhost, 127.0.0.1, ${HOST}, 203.0.113.10, fabric.example.org]`));
    const configtx = read(config('configtx.yaml'));
    expect(configtx).toContain(`OrdererEndpoints:\n      - ${HOST}:7050`);
    expect(configtx).toContain(`AnchorPeers:\n      - Host: ${HOST}\n        Port: 7051`);
    expect(configtx).toContain(`Consenters:\n      - Host: ${HOST}\n        Port: 7050`);
    expect(configtx).not.toContain('127.0.0.1');
    expect(configtx).toContain('OrdererType: etcdraft');
    expect(configtx).toContain('Application: &ApplicationCapabilities { V2_5: true }');
  });

  test('three enabled units: restarted on failure, unprivileged, sandboxed, ordered orderer -> peer -> chaincode', () => {
    const orderer = parseUnit(read(join(units, 'chainfaas-orderer.service')));
    const peer = parseUnit(read(join(units, 'chainfaas-peer0.service')));
    const chaincode = parseUnit(read(join(units, 'chainfaas-chaincode.service')));
    for (const [name, unit] of Object.entries({ orderer, peer0: peer, chaincode })) {
      expect(unit.Install.WantedBy).toEqual(['multi-user.target']);
      expect(unit.Service).toMatchObject({
        Restart: ['always'],
        User: ['chainfaas'],
        NoNewPrivileges: ['yes'],
        ProtectSystem: ['full'],
        ProtectHome: ['yes'],
        PrivateTmp: ['yes'],
        EnvironmentFile: [config(`${name}.env`)],
      });
      expect(unit.Unit.Wants).toEqual(['network-online.target']);
    }
    expect(orderer.Service.ExecStart).toEqual([join(data, 'bin', 'orderer')]);
    expect(peer.Service.ExecStart).toEqual([`${join(data, 'bin', 'peer')} node start`]);
    expect(peer.Unit.After).toEqual(['network-online.target chainfaas-orderer.service']);
    expect(chaincode.Unit.After).toEqual(['network-online.target chainfaas-peer0.service']);
    // The chaincode service is serve.sh with the id of the package install would give the peer.
    const packageId = execFileSync(join(NETWORK, 'package-ccaas.sh'), [join(root, 'check.tgz'), '127.0.0.1:7056', 'chainfaas_1.0'], {
      encoding: 'utf8',
    }).trim();
    expect(chaincode.Service.ExecStart).toEqual([`/bin/bash ${join(NETWORK, 'serve.sh')} ${packageId} 127.0.0.1:7056`]);
    expect(chaincode.Service.WorkingDirectory).toEqual([join(projectRoot(), 'chaincode')]);
    const chaincodeEnv = parseEnvironmentFile(read(config('chaincode.env')));
    expect(chaincodeEnv.PATH.split(':')).toContain('/usr/bin');
    expect(chaincodeEnv.HOME).toBe(join(data, 'network', 'home'));
  });

  test('systemd accepts the units (systemd-analyze verify)', () => {
    const analyze = spawnSync('systemd-analyze', ['--version']);
    if (analyze.error) {
      console.warn('systemd-analyze is not installed: unit syntax not verified');
      return;
    }
    // verify wants the executables to exist.
    mkdirSync(join(data, 'bin'), { recursive: true });
    for (const tool of ['orderer', 'peer']) {
      writeFileSync(join(data, 'bin', tool), '#!/bin/sh\n');
      chmodSync(join(data, 'bin', tool), 0o755);
    }
    try {
      const files = ['chainfaas-orderer', 'chainfaas-peer0', 'chainfaas-chaincode'].map((u) => join(units, `${u}.service`));
      const run = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
      expect({ status: run.status, stderr: run.stderr.split('\n').filter((l) => l.includes('chainfaas')) }).toEqual({ status: 0, stderr: [] });
    } finally {
      rmSync(join(data, 'bin'), { recursive: true });
    }
  });

  test.each([
    [{ FABRIC_PEER_HOST: '' }, /FABRIC_PEER_HOST is not set/],
    [{ FABRIC_PEER_HOST: 'bad host' }, /not a host name/],
    [{ FABRIC_LISTEN_ADDRESS: '127.0.0.1' }, /FABRIC_LISTEN_ADDRESS must be 0.0.0.0/],
    [{ CHAINFAAS_IDENTITY_DIR: '' }, /CHAINFAAS_IDENTITY_DIR is not set/],
    [{ FABRIC_EXTRA_SANS: 'ok.example,$(reboot)' }, /FABRIC_EXTRA_SANS entry/],
  ])('refuses %j', (override, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'chainfaas-aws-node-bad-'));
    try {
      const run = dryRun(contractEnv(dir, override));
      expect(run.status).not.toBe(0);
      expect(run.stderr).toMatch(message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the script, and the fake systemd the real-run test uses, are shellcheck-clean', () => {
    if (spawnSync('shellcheck', ['--version']).error) {
      console.warn('shellcheck is not installed');
      return;
    }
    const fake = join(projectRoot(), 'test', 'fabric', 'fixtures', 'fake-systemd');
    const run = spawnSync('shellcheck', ['-x', 'aws-node.sh', join(fake, 'systemctl'), join(fake, 'journalctl')], { cwd: NETWORK, encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

describe('aws-node.sh --dry-run with three Raft orderers (issue #20, item 4)', () => {
  const THREE = {
    FABRIC_ORDERERS: '3',
    FABRIC_ORDERER_CLUSTER_PORT: '7060',
    FABRIC_ORDERER1_HOST: 'orderer1.orderer.chainfaas.local',
    FABRIC_ORDERER1_PORT: '7050',
    FABRIC_ORDERER1_CLUSTER_PORT: '7060',
    FABRIC_ORDERER2_HOST: 'orderer2.orderer.chainfaas.local',
    FABRIC_ORDERER2_PORT: '7050',
    FABRIC_ORDERER2_CLUSTER_PORT: '7060',
  };
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'chainfaas-aws-node-raft-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('the node: a channel whose consenters and orderer endpoints are all three, certificates for their names, a cluster listener', () => {
    const env = contractEnv(join(root, 'node'), THREE);
    const run = dryRun(env);
    expect(run.status).toBe(0);
    const config = join(env.CHAINFAAS_DATA_DIR as string, 'network', 'config');
    const configtx = readFileSync(join(config, 'configtx.yaml'), 'utf8');
    const consenters = [...configtx.matchAll(/- Host: (\S+)\n\s+Port: (\d+)\n\s+ClientTLSCert: \S+\/orderers\/(orderer\d)\./g)].map((m) => `${m[3]} ${m[1]}:${m[2]}`);
    expect(consenters).toEqual([`orderer0 ${HOST}:7060`, 'orderer1 orderer1.orderer.chainfaas.local:7060', 'orderer2 orderer2.orderer.chainfaas.local:7060']);
    expect(configtx).toContain(`OrdererEndpoints:\n      - ${HOST}:7050\n      - orderer1.orderer.chainfaas.local:7050\n      - orderer2.orderer.chainfaas.local:7050\n`);
    const crypto = readFileSync(join(config, 'crypto-config.yaml'), 'utf8');
    for (const n of [1, 2]) expect(crypto).toContain(`- Hostname: orderer${n}\n        SANS: [localhost, 127.0.0.1, orderer${n}.orderer.chainfaas.local]`);
    const orderer = parseEnvironmentFile(readFileSync(join(config, 'orderer.env'), 'utf8'));
    expect(orderer).toMatchObject({ ORDERER_GENERAL_LISTENPORT: '7050', ORDERER_GENERAL_CLUSTER_LISTENADDRESS: '0.0.0.0', ORDERER_GENERAL_CLUSTER_LISTENPORT: '7060' });
  });

  test('an orderer host: only its orderer, with its own keys and a cluster listener; no peer, no chaincode, no identity', () => {
    const env = contractEnv(join(root, 'host'), { ...THREE, FABRIC_PEER_HOST: '', CHAINFAAS_IDENTITY_DIR: '' });
    const run = spawnSync('bash', [SCRIPT, '--orderer', '2', '--dry-run'], { env, encoding: 'utf8' });
    expect(run.stderr).toContain('nothing started');
    expect(run.status).toBe(0);
    const config = join(env.CHAINFAAS_DATA_DIR as string, 'network', 'config');
    expect(run.stdout.trim().split('\n')).toEqual([join(config, 'orderer.env'), join(config, 'node.env'), join(env.CHAINFAAS_SYSTEMD_DIR as string, 'chainfaas-orderer.service')]);
    const orderer = parseEnvironmentFile(readFileSync(join(config, 'orderer.env'), 'utf8'));
    expect(orderer.ORDERER_GENERAL_LOCALMSPDIR).toMatch(/\/orderers\/orderer2\.orderer\.chainfaas\.local\/msp$/);
    expect(orderer).toMatchObject({ ORDERER_GENERAL_LISTENADDRESS: '0.0.0.0', ORDERER_GENERAL_LISTENPORT: '7050', ORDERER_GENERAL_CLUSTER_LISTENPORT: '7060' });
    expect(orderer.ORDERER_ADMIN_LISTENADDRESS).toMatch(/^127\.0\.0\.1:/);
    expect(orderer.ORDERER_OPERATIONS_LISTENADDRESS).toMatch(/^127\.0\.0\.1:/);
  });

  test.each([
    [['--orderer', '1'], {}, /needs FABRIC_ORDERERS=3/],
    [['--orderer', '3'], {}, /--orderer takes 1 or 2/],
    [[], { FABRIC_ORDERERS: '3' }, /FABRIC_ORDERER1_HOST is not a host name/],
    [[], { FABRIC_ORDERERS: '2' }, /FABRIC_ORDERERS must be 1 or 3/],
  ])('refuses %j with %j', (args, override, message) => {
    const run = spawnSync('bash', [SCRIPT, ...args, '--dry-run'], { env: contractEnv(join(root, 'bad'), override), encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(message);
  });
});

describe('aws-node.sh and the FabricNetwork user data agree', () => {
  test('the user data exports every variable the script requires and reads the identity files the script writes', () => {
    const stack = testStack();
    const fabric = new FabricNetwork(stack, 'Fabric', {
      assetPath: join(projectRoot(), 'test/cdk/fixtures/fabric-asset'),
      machineImage: pinnedImage(TEST_IMAGE_ID),
      startCommand: 'bash network/start.sh',
    });
    const userData = JSON.stringify(Template.fromStack(stack).toJSON().Resources[stack.resolve(fabric.instance.instance.logicalId)].Properties.UserData);
    const script = readFileSync(SCRIPT, 'utf8');
    const required = [...script.matchAll(/\[ -n "\$\{([A-Z_]+):-\}" \] \|\| fail/g)].map((m) => m[1]);
    expect(required.sort()).toEqual(['CHAINFAAS_DATA_DIR', 'CHAINFAAS_IDENTITY_DIR', 'FABRIC_PEER_HOST']);
    for (const name of [...required, 'FABRIC_LISTEN_ADDRESS', 'FABRIC_PEER_PORT', 'FABRIC_ORDERER_PORT', 'FABRIC_CHANNEL', 'FABRIC_CHAINCODE'])
      expect(userData).toContain(`${name}=`);
    const written = [...script.matchAll(/put_file "\$identity_dir\/([a-z.-]+)"/g)].map((m) => m[1]).sort();
    expect(written).toEqual(['cert.pem', 'key.pem', 'msp-id', 'tls-ca.pem']);
    for (const file of written) expect(userData).toContain(`/var/lib/chainfaas/identity/${file}`);
  });
});
