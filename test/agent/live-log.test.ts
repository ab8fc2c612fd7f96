import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { LiveLog } from '../../provider-agent/src/live-log';
import { jsonLogger } from '../../provider-agent/src/log';

/**
 * Issue #22: the live log's bounds, against a real HTTP server standing in for the presigned PUT:
 * nothing before the first interval (a short job uploads only its final log), an upload only when
 * the log grew, one at a time, and `stop` waits for the one under way (none lands after the final).
 */

let server: Server;
let url = '';
const puts: { body: string; at: number }[] = [];
let delayMs = 0;
let inFlight = 0;
let maxInFlight = 0;

const body = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => resolve(text));
  });

beforeAll(async () => {
  server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    void body(req).then(async (text) => {
      await new Promise((r) => setTimeout(r, delayMs));
      puts.push({ body: text, at: Date.now() });
      inFlight--;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/log`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  puts.length = 0;
  delayMs = 0;
  maxInFlight = 0;
});

const logger = jsonLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a run shorter than the interval uploads nothing live', async () => {
  const live = new LiveLog(url, 300, logger, {});
  live.follow(() => Buffer.from('line 1\n'));
  await sleep(200);
  await live.stop();
  await sleep(400);
  expect(puts).toHaveLength(0);
});

test('the log so far is uploaded when it grew, never when it did not', async () => {
  let log = 'a\n';
  const live = new LiveLog(url, 100, logger, {});
  live.follow(() => Buffer.from(log));
  await sleep(450);
  log += 'b\n';
  await sleep(350);
  await live.stop();
  expect(puts.map((p) => p.body)).toEqual(['a\n', 'a\nb\n']);
});

test('one upload at a time, and stop waits for the one under way', async () => {
  delayMs = 400;
  let n = 0;
  const live = new LiveLog(url, 50, logger, {});
  live.follow(() => Buffer.from(`line ${++n}\n`));
  await sleep(200);
  const stopping = Date.now();
  await live.stop();
  const stoppedAt = Date.now();
  expect(maxInFlight).toBe(1);
  expect(puts).toHaveLength(1);
  // The upload under way had landed when stop resolved: nothing can overwrite the final log after it.
  expect((puts[0] as { at: number }).at).toBeLessThanOrEqual(stoppedAt);
  expect(stoppedAt - stopping).toBeGreaterThan(0);
  await sleep(300);
  expect(puts).toHaveLength(1);
});
