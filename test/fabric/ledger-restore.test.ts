import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalFabric, type LocalFabricNetwork } from '../../bench/ledger-network';
import { eventually } from '../support/api';

/**
 * Issue #20, item 4: the restore README "The ledger's volume" documents, rehearsed on the local
 * network. A copy of peer0's ledger directory is taken after a crash (SIGKILL: what a snapshot of
 * a running volume holds), the network goes on committing, then peer0 is restored from the copy
 * and restarted: it catches up from the orderer and answers with the state it had missed.
 *
 * CHAINFAAS_SKIP_FABRIC=1 skips the file.
 */
const skip = process.env.CHAINFAAS_SKIP_FABRIC === '1';
const describeFabric = skip ? describe.skip : describe;

/** The running process's command line and environment, to start it again the same way. */
function processSpec(pid: number): { argv: string[]; env: NodeJS.ProcessEnv } {
  const split = (file: string) => readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0').filter(Boolean);
  const env = Object.fromEntries(split('environ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { argv: split('cmdline'), env };
}

describeFabric('a peer restored from a copy of its ledger directory catches up', () => {
  let net: LocalFabricNetwork;
  beforeAll(async () => {
    net = await startLocalFabric();
  }, 600_000);
  afterAll(async () => {
    await net?.down();
  }, 60_000);

  const pidFile = (name: string) => join(net.stateDir, 'pids', name);
  const specOf = (name: string) => processSpec(Number(readFileSync(pidFile(name), 'utf8').trim()));
  /** Starts a process of the network again as up.sh did (same binary, arguments and environment), recorded for down.sh. */
  function restart(name: string, spec: { argv: string[]; env: NodeJS.ProcessEnv }): void {
    const log = openSync(join(net.stateDir, 'logs', `${name}.log`), 'a');
    const child = spawn(spec.argv[0], spec.argv.slice(1), { env: spec.env, detached: true, stdio: ['ignore', log, log] });
    child.unref();
    writeFileSync(pidFile(name), `${child.pid}\n`);
  }
  /** The balance peer0 answers, through a fresh gateway connection (the old one may point at a dead process). */
  async function balance(account: string): Promise<number | undefined> {
    const ledger = net.ledger();
    try {
      return await ledger.getBalance(account);
    } catch {
      return undefined;
    } finally {
      await ledger.close();
    }
  }

  it('commits after the copy are in the restored peer once it has caught up', async () => {
    const account = `restore-${Date.now()}`;
    const first = net.ledger();
    await first.submit([
      { type: 'OpenAccount', accountId: account, owner: 'ops@chainfaas.example' },
      { type: 'TopUp', accountId: account, amount: 100, reference: `${account}-1` },
    ]);
    await first.close();

    // The "snapshot": peer0 crashes, its directory is copied as it is.
    const spec = specOf('peer0');
    const ordererSpec = specOf('orderer');
    await net.kill('peer0');
    const peerDir = join(net.stateDir, 'peer0');
    const copy = join(mkdtempSync(join(tmpdir(), 'chainfaas-peer0-copy-')), 'peer0');
    cpSync(peerDir, copy, { recursive: true });
    restart('peer0', spec);

    // The network goes on: a block the copy does not have.
    await eventually('peer0 answers again', async () => ((await balance(account)) === 100 ? true : undefined), 60_000);
    const second = net.ledger();
    await second.submit([{ type: 'TopUp', accountId: account, amount: 50, reference: `${account}-2` }]);
    await second.close();
    expect(await balance(account)).toBe(150);

    // The restore: peer0's directory replaced by the copy, peer0 started on it. The orderer is
    // stopped first, so the restored state shows before any catching up: the copy is the old one.
    await net.kill('orderer');
    await net.kill('peer0');
    rmSync(peerDir, { recursive: true, force: true });
    cpSync(copy, peerDir, { recursive: true });
    restart('peer0', spec);
    await eventually('the restored peer0 answers from the copy', async () => ((await balance(account)) === 100 ? true : undefined), 60_000);
    // The orderer back: peer0 pulls the blocks it missed.
    restart('orderer', ordererSpec);
    expect(await eventually('the restored peer0 catches up with the orderer', async () => ((await balance(account)) === 150 ? 150 : undefined), 120_000)).toBe(150);
  }, 300_000);
});
