import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `npm start` as a person runs it in a terminal: the compiled `dist/local/start.js` in a process
 * group of its own, so that a signal to the group is what Ctrl-C sends (to every process of the
 * foreground group, the services' children included unless they left it).
 */

const START = join(__dirname, '../../dist/local/start.js');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  dynamoEndpoint: string;
  dir: string;
}

async function startPlatformProcess(): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'chainfaas-start-'));
  const child = spawn(process.execPath, [START], {
    cwd: dir,
    env: { ...process.env, PORT: '0', REGISTRY_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 240_000;
  while (!out.includes('ChainFaaS is running.')) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up in 240 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const dynamo = /DynamoDB Local at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
  if (!dynamo) throw new Error(`no DynamoDB Local endpoint in:\n${out}`);
  return { child, output: () => out, exited, dynamoEndpoint: dynamo[1] as string, dir };
}

async function exitWithin(started: Started, ms: number): Promise<number | null> {
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
  const result = await Promise.race([started.exited, timeout]);
  if (result === 'timeout') {
    process.kill(-(started.child.pid as number), 'SIGKILL');
    throw new Error(`npm start did not exit within ${ms / 1000} s; output:\n${started.output()}`);
  }
  return result;
}

async function reachable(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

let started: Started | undefined;
afterEach(() => {
  if (started && started.child.exitCode === null) process.kill(-(started.child.pid as number), 'SIGKILL');
  if (started) rmSync(started.dir, { recursive: true, force: true });
  started = undefined;
});

test('#18 item 8: Ctrl-C stops the producers before the services they use: a clean stop prints no error and leaves no service running', async () => {
  started = await startPlatformProcess();
  const before = started.output().length;
  process.kill(-(started.child.pid as number), 'SIGINT');
  expect(await exitWithin(started, 90_000)).toBe(0);
  const shutdown = started.output().slice(before);
  expect(shutdown).toContain('[chainfaas] SIGINT: stopping');
  expect(shutdown).toContain('[chainfaas] stopped');
  expect(shutdown).not.toMatch(/ECONNREFUSED|"level":"error"|answered 5\d\d|stop: /i);
  expect(await reachable(started.dynamoEndpoint)).toBe(false);
}, 360_000);

test('#18 item 7: with its stdout closed (npm start | tee, and tee died), Ctrl-C still stops the platform cleanly and promptly', async () => {
  started = await startPlatformProcess();
  // The reader of stdout goes away, as tee does when Ctrl-C reaches it too.
  started.child.stdout?.destroy();
  process.kill(-(started.child.pid as number), 'SIGINT');
  expect(await exitWithin(started, 90_000)).toBe(0);
  expect(started.output()).not.toMatch(/EPIPE|Error:/);
  expect(await reachable(started.dynamoEndpoint)).toBe(false);
}, 360_000);
