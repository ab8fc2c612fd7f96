import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePortRange, startLocalFabric, type LocalFabricNetwork } from '../../bench/ledger-network';

/**
 * Issue #20, item 4: chaincode/network/upgrade-chaincode.sh upgrades the chaincode of a running
 * network to the next definition sequence (package, install, serve, approve, commit), and the
 * ledger keeps its state and takes new transactions through the new service.
 *
 * CHAINFAAS_SKIP_FABRIC=1 skips the file.
 */
const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const describeFabric = skip ? describe.skip : describe;

describeFabric('chaincode upgrade: a new sequence, approved and committed, on a running network', () => {
  let net: LocalFabricNetwork;
  beforeAll(async () => {
    net = await startLocalFabric();
  }, 600_000);
  afterAll(async () => {
    await net?.down();
  }, 60_000);

  it('moves the definition from sequence 1 to 2, keeps the balances, and commits through the new service', async () => {
    const account = `upgrade-${Date.now()}`;
    const before = net.ledger();
    await before.submit([
      { type: 'OpenAccount', accountId: account, owner: 'ops@chainfaas.example' },
      { type: 'TopUp', accountId: account, amount: 100, reference: `${account}-1` },
    ]);
    await before.close();
    const oldPid = Number(readFileSync(join(net.stateDir, 'pids', 'chaincode'), 'utf8').trim());

    const port = await freePortRange(1);
    const out = await net.run('upgrade-chaincode.sh', ['--address', `127.0.0.1:${port}`, net.stateDir]);
    expect(out).toMatch(/^sequence=2$/m);
    const packageId = /^package_id=(\S+)$/m.exec(out)?.[1];
    expect(packageId).toMatch(/^chainfaas_2\.0:[0-9a-f]{64}$/);
    const env = readFileSync(join(net.stateDir, 'env'), 'utf8');
    expect(env).toContain(`FABRIC_PACKAGE_ID=${packageId}`);
    expect(env).toContain(`FABRIC_CCAAS_ADDRESS=127.0.0.1:${port}`);

    // The previous service is stopped: only the new one can serve the transactions below.
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(oldPid); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(oldPid)).toBe(false);

    const after = net.ledger();
    try {
      expect(await after.getBalance(account)).toBe(100);
      await after.submit([{ type: 'TopUp', accountId: account, amount: 50, reference: `${account}-2` }]);
      expect(await after.getBalance(account)).toBe(150);
    } finally {
      await after.close();
    }

    // Running it again goes on to sequence 3 (the script reads the committed sequence).
    const again = await net.run('upgrade-chaincode.sh', ['--address', `127.0.0.1:${await freePortRange(1)}`, net.stateDir]);
    expect(again).toMatch(/^sequence=3$/m);
  }, 600_000);
});
