import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * stripe-mock (Stripe's own mock of its API, installed by local/setup.sh) on a free port, and a
 * refusing proxy in front of it: stripe-mock is stateless and never refuses a well-formed request,
 * so the proxy answers the transfers a test names with the error Stripe answers a connected account
 * that cannot receive transfers, and lists the transfers a test says Stripe already made;
 * everything else reaches stripe-mock unchanged.
 */
export interface StripeMock {
  /** The proxy's base URL (what STRIPE_API_BASE points at). */
  url: string;
  /** Transfer groups (payout ids) whose transfer Stripe refuses. */
  refuseTransfers: Set<string>;
  /** Transfers Stripe already holds, by transfer group (payout id): what listing them answers (stripe-mock keeps none). */
  earlierTransfers: Map<string, string>;
  /** Requests seen, as `METHOD /path`. */
  requests: string[];
  stop(): Promise<void>;
}

export function stripeMockBinary(): string {
  // Where `go install` put it (local/setup.sh): GOPATH's bin, as `go env` says.
  let gopath = join(homedir(), 'go');
  try {
    gopath = execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim().split(':')[0] || gopath;
  } catch {
    // no go on PATH: the default GOPATH
  }
  const bin = join(gopath, 'bin', 'stripe-mock');
  if (!existsSync(bin)) throw new Error(`stripe-mock is not installed at ${bin}: run local/setup.sh (go install github.com/stripe/stripe-mock@v0.203.0)`);
  return bin;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`stripe-mock exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/v1/balance`, { headers: { authorization: 'Bearer sk_test_123' } }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > until) throw new Error(`stripe-mock did not answer on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startStripeMock(): Promise<StripeMock> {
  const port = await freePort();
  // -https-addr: its HTTPS listener (always started) on a free port too, never the fixed 12112.
  const child = spawn(stripeMockBinary(), ['-http-addr', `127.0.0.1:${port}`, '-https-addr', '127.0.0.1:0'], { stdio: 'ignore' });
  await waitForPort(port, child);
  const refuseTransfers = new Set<string>();
  const earlierTransfers = new Map<string, string>();
  const requests: string[] = [];
  const proxy: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push(`${req.method} ${req.url?.split('?')[0]}`);
      const listed = req.method === 'GET' && req.url?.startsWith('/v1/transfers?') ? new URL(req.url, 'http://x').searchParams.get('transfer_group') : null;
      if (listed && earlierTransfers.has(listed)) {
        const id = earlierTransfers.get(listed) as string;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', url: '/v1/transfers', has_more: false, data: [{ id, object: 'transfer', amount: 1, currency: 'usd', transfer_group: listed, metadata: { payoutId: listed } }] }));
        return;
      }
      if (req.method === 'POST' && req.url === '/v1/transfers') {
        const group = new URLSearchParams(body.toString('utf8')).get('transfer_group');
        if (group && refuseTransfers.has(group)) {
          res.writeHead(400, { 'content-type': 'application/json', 'request-id': 'req_refused' });
          res.end(
            JSON.stringify({
              error: {
                type: 'invalid_request_error',
                code: 'insufficient_capabilities_for_transfer',
                message: 'Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments',
                param: 'destination',
              },
            }),
          );
          return;
        }
      }
      const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return {
    url,
    refuseTransfers,
    earlierTransfers,
    requests,
    stop: async () => {
      await new Promise((resolve) => proxy.close(resolve));
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    },
  };
}
