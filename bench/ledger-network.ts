import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FabricLedger, FabricLedgerOptions, fabricOptionsFromEnv } from '../lambdas/adapters/ledger/fabric-ledger';

/**
 * A real Fabric network on 127.0.0.1 for tests and benchmarks: chaincode/network/up.sh in a fresh
 * state directory on free ports, FabricLedgers connected to it as the controller or as another
 * identity of the same organisation, and down.sh to remove it all.
 */

/** Another peer than the env's: `host:port` and the name in its TLS certificate. */
export interface PeerAddress {
  endpoint: string;
  hostAlias?: string;
}

export interface LocalFabricNetwork {
  stateDir: string;
  basePort: number;
  /** The settings up.sh wrote to <state>/env. */
  env: Record<string, string>;
  /** Seconds up.sh took (includes building Fabric's binaries when they were not cached). */
  startSeconds: number;
  /** Connection options as the controller (User1), or as User2 (`other`), optionally to another peer. */
  options(as?: 'controller' | 'other', peer?: PeerAddress): FabricLedgerOptions;
  ledger(as?: 'controller' | 'other', peer?: PeerAddress): FabricLedger;
  /** Runs another script of chaincode/network against this network's state (join-peer.sh, say). */
  run(script: string, args?: string[]): Promise<string>;
  /** Stops one of the network's processes (`peer0`, `peer1`, `orderer`, `orderer1`, `chaincode`) as a crash would. */
  kill(name: string): Promise<void>;
  down(): Promise<void>;
}

/** The directory holding up.sh, found from this file (ts-jest) or its compiled copy (dist/). */
export function networkScriptsDir(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'chaincode', 'network');
    if (existsSync(join(candidate, 'up.sh'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('chaincode/network/up.sh not found above ' + __dirname);
    dir = parent;
  }
}

export async function startLocalFabric(
  options: { batchTimeout?: string; maxMessageCount?: number; logSpec?: string; orderers?: 1 | 3 } = {},
): Promise<LocalFabricNetwork> {
  const scripts = networkScriptsDir();
  const stateDir = mkdtempSync(join(tmpdir(), 'chainfaas-fabric-'));
  // lib.sh's port scheme: base .. base + 9, and up to base + 18 with three orderers.
  const basePort = await freePortRange(options.orderers === 3 ? 19 : 10);
  const runEnv: NodeJS.ProcessEnv = {
    ...process.env,
    FABRIC_STATE_DIR: stateDir,
    FABRIC_BASE_PORT: String(basePort),
    // If this process dies without calling down(), up.sh's watchdog removes the network.
    FABRIC_WATCH_PID: String(process.pid),
    ...(options.batchTimeout ? { FABRIC_BATCH_TIMEOUT: options.batchTimeout } : {}),
    ...(options.maxMessageCount ? { FABRIC_MAX_MESSAGE_COUNT: String(options.maxMessageCount) } : {}),
    ...(options.logSpec ? { FABRIC_LOG_SPEC: options.logSpec } : {}),
    ...(options.orderers ? { FABRIC_ORDERERS: String(options.orderers) } : {}),
  };
  const run = (script: string, args: string[] = []) => runScript(join(scripts, script), args, runEnv);
  const started = Date.now();
  try {
    await run('up.sh');
  } catch (err) {
    await run('down.sh').catch(() => undefined);
    throw err;
  }
  const startSeconds = (Date.now() - started) / 1000;
  const env = parseEnvFile(readFileSync(join(stateDir, 'env'), 'utf8'));
  const optionsFor = (as: 'controller' | 'other' = 'controller', peer?: PeerAddress): FabricLedgerOptions => {
    const chosen = as === 'controller' ? env : { ...env, FABRIC_CERT_PATH: env.FABRIC_OTHER_CERT_PATH, FABRIC_KEY_PATH: env.FABRIC_OTHER_KEY_PATH };
    const base = fabricOptionsFromEnv(chosen);
    return peer ? { ...base, peerEndpoint: peer.endpoint, peerHostAlias: peer.hostAlias } : base;
  };
  return {
    stateDir,
    basePort,
    env,
    startSeconds,
    options: optionsFor,
    ledger: (as, peer) => new FabricLedger(optionsFor(as, peer)),
    run,
    kill: async (name) => {
      const pid = Number(readFileSync(join(stateDir, 'pids', name), 'utf8').trim());
      process.kill(-pid, 'SIGKILL');
      for (let i = 0; i < 50 && processGroupAlive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    },
    down: async () => {
      await run('down.sh');
    },
  };
}

function processGroupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** KEY=value lines (as up.sh writes them). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1] as string] = match[2] as string;
  }
  return env;
}

function runScript(path: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path} failed (${err.message.split('\n')[0]}):\n${stderr.split('\n').slice(-40).join('\n')}`));
      else resolve(stdout);
    });
  });
}

/**
 * The first of `count` consecutive TCP ports on 127.0.0.1 that were all free a moment ago, below
 * the kernel's ephemeral range: a port in that range may be handed to any outgoing connection
 * after it was found free (the Fabric processes then fail to listen on it), and a probe of an
 * unused one can connect to itself and look like a listener.
 */
export async function freePortRange(count: number): Promise<number> {
  const low = 10_000;
  const high = ephemeralPortsFrom() - count;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    let free = true;
    for (let port = base; port < base + count && free; port++) free = await portFree(port);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** The first port of the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range; its default elsewhere). */
function ephemeralPortsFrom(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 12_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
