import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startLocalFabric, type LocalFabricNetwork } from '../../bench/ledger-network';

/**
 * Issue #20, item 4: three Raft orderers (FABRIC_ORDERERS=3, the `fabricOrderers: 3` stage
 * setting's network). up.sh starts three orderer processes whose channel has all three as
 * consenters; with the Raft leader killed (SIGKILL) the other two elect a new one and the channel
 * still commits; the killed orderer, started again, catches up on the blocks it missed.
 *
 * CHAINFAAS_SKIP_FABRIC=1 skips the file.
 */
const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const describeFabric = skip ? describe.skip : describe;
const run = promisify(execFile);

/** Process names of the orderers, by Raft node id (the consenters' order in configtx.yaml). */
const ORDERERS = ['orderer', 'orderer1', 'orderer2'] as const;

describeFabric('three Raft orderers: the channel survives the loss of one', () => {
  let net: LocalFabricNetwork;
  beforeAll(async () => {
    net = await startLocalFabric({ orderers: 3 });
  }, 600_000);
  afterAll(async () => {
    await net?.down();
  }, 60_000);

  /** The channel as orderer `name` reports it (osnadmin channel list, through its admin port). */
  async function channelOn(name: (typeof ORDERERS)[number]): Promise<{ consensusRelation: string; status: string; height: number }> {
    const env = readFileSync(join(net.stateDir, 'config', `${name}.env`), 'utf8');
    const admin = /^ORDERER_ADMIN_LISTENADDRESS=(.+)$/m.exec(env)?.[1] as string;
    const org = join(net.stateDir, 'crypto', 'ordererOrganizations', 'orderer.chainfaas.local');
    const user = join(org, 'users', 'Admin@orderer.chainfaas.local', 'tls');
    const { stdout } = await run(join(net.env.FABRIC_BIN_DIR as string, 'osnadmin'), [
      'channel',
      'list',
      '--channelID',
      net.env.FABRIC_CHANNEL as string,
      '-o',
      admin,
      '--ca-file',
      net.env.FABRIC_ORDERER_TLS_CERT_PATH as string,
      '--client-cert',
      join(user, 'client.crt'),
      '--client-key',
      join(user, 'client.key'),
    ]);
    return JSON.parse(stdout.slice(stdout.indexOf('{'))) as { consensusRelation: string; status: string; height: number };
  }

  /** The Raft leader (node id, 1-based) orderer `name` last logged, or undefined before any. */
  function leaderSeenBy(name: string): number | undefined {
    const text = readFileSync(join(net.stateDir, 'logs', `${name}.log`), 'utf8');
    const changes = [...text.matchAll(/Raft leader changed: \d+ -> (\d+)/g)];
    const last = changes.at(-1)?.[1];
    return last === undefined ? undefined : Number(last);
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, seconds = 120): Promise<T> {
    for (let i = 0; i < seconds * 4; i++) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('keeps committing with the leader killed, and the restarted orderer catches up', async () => {
    expect(net.env.FABRIC_ORDERERS).toBe('3');
    for (const name of ORDERERS) {
      const channel = await channelOn(name);
      expect(channel).toMatchObject({ consensusRelation: 'consenter', status: 'active' });
    }
    // The three consenters and three orderer endpoints of the channel's configuration.
    const configtx = readFileSync(join(net.stateDir, 'config', 'configtx.yaml'), 'utf8');
    for (const n of [0, 1, 2]) expect(configtx).toContain(`ClientTLSCert: ${net.stateDir}/crypto/ordererOrganizations/orderer.chainfaas.local/orderers/orderer${n}.orderer.chainfaas.local/tls/server.crt`);
    expect(configtx.match(/^ {6}- 127\.0\.0\.1:\d+$/gm)).toHaveLength(3);

    const account = `raft-${Date.now()}`;
    const ledger = net.ledger();
    try {
      await ledger.submit([
        { type: 'OpenAccount', accountId: account, owner: 'ops@chainfaas.example' },
        { type: 'TopUp', accountId: account, amount: 100, reference: `${account}-1` },
      ]);
      expect(await ledger.getBalance(account)).toBe(100);

      const leader = await until('a Raft leader', () => leaderSeenBy('orderer'));
      const victim = ORDERERS[leader - 1] as (typeof ORDERERS)[number];
      const survivors = ORDERERS.filter((name) => name !== victim);
      const heightBefore = (await channelOn(survivors[0] as (typeof ORDERERS)[number])).height;

      await net.kill(victim);
      // The two left elect another leader (a majority of three) before the next submission.
      await until('a new Raft leader', () => {
        const seen = survivors.map(leaderSeenBy);
        return seen.every((id) => id !== undefined && id !== leader && id === seen[0]) ? seen[0] : undefined;
      });

      for (const n of [2, 3, 4]) await ledger.submit([{ type: 'TopUp', accountId: account, amount: 10, reference: `${account}-${n}` }]);
      expect(await ledger.getBalance(account)).toBe(130);
      const heights = await Promise.all(survivors.map(async (name) => (await channelOn(name)).height));
      expect(heights[0]).toBe(heights[1]);
      const heightWithout = heights[0] as number;
      expect(heightWithout).toBeGreaterThanOrEqual(heightBefore + 3);

      // Started again, it rejoins the cluster and fetches what it missed.
      await net.run('start-orderer.sh', [String(ORDERERS.indexOf(victim)), net.stateDir]);
      await until(`${victim} at height ${heightWithout}`, async () => ((await channelOn(victim).catch(() => undefined))?.height ?? 0) >= heightWithout || undefined);

      // And it takes part again: one more transaction reaches all three.
      await ledger.submit([{ type: 'TopUp', accountId: account, amount: 1, reference: `${account}-5` }]);
      expect(await ledger.getBalance(account)).toBe(131);
      const final = await until('all three orderers at the same height', async () => {
        const all = await Promise.all(ORDERERS.map(async (name) => (await channelOn(name)).height));
        return all.every((h) => h === all[0] && h > heightWithout) ? all : undefined;
      });
      expect(final).toHaveLength(3);
    } finally {
      await ledger.close();
    }
  }, 600_000);
});
