import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { Delivery, DeliveryHandler, Disposal } from '../../provider-agent/src/delivery';
import { QueueMessage, SqsJobQueue } from '../../provider-agent/src/job-queue';
import { CloudEmulator, REGION, startCloudEmulator } from './harness';

/**
 * Delivery on its own, against fauxqs's real SQS queue: receipts of duplicates are kept with the
 * work in flight and disposed of together, messages stay hidden while work outlasts their
 * visibility timeout, and each way a piece of work ends (delete, release, failure, refusal) does
 * what it says to the messages. The handler is a stand-in the test drives: a message's body is
 * the key of its work.
 */

let cloud: CloudEmulator;
const deliveries: Array<Delivery<Work>> = [];
const queues: SqsJobQueue[] = [];

beforeAll(async () => {
  cloud = await startCloudEmulator();
}, 120_000);

/** Work the test left unanswered (it failed half-way) is failed, so that stopping its delivery ends. */
const unanswered: Array<{ reject: (e: Error) => void }> = [];

afterEach(async () => {
  for (const p of unanswered.splice(0)) p.reject(new Error('the test ended'));
  await Promise.all(deliveries.splice(0).map((d) => d.stop()));
  for (const q of queues.splice(0)) q.close();
});

afterAll(async () => {
  await cloud?.stop();
});

interface Work {
  key: string;
  messageId: string;
}

/** A handler whose `handle` answers when the test settles the returned promise. */
function scriptedHandler(refuse: (body: string) => boolean = () => false) {
  const handled: Work[] = [];
  const joins: Array<{ key: string; messageId: string; redelivery: boolean }> = [];
  const pending: Array<{ resolve: (d: Disposal) => void; reject: (e: Error) => void }> = [];
  const handler: DeliveryHandler<Work> = {
    open: (message: QueueMessage) =>
      refuse(message.body) ? undefined : { key: message.body, work: { key: message.body, messageId: message.messageId }, fields: { key: message.body } },
    joined: (work, message, redelivery) => void joins.push({ key: work.key, messageId: message.messageId, redelivery }),
    handle: (work) => {
      handled.push(work);
      return new Promise<Disposal>((resolve, reject) => {
        pending.push({ resolve, reject });
        unanswered.push({ reject });
      });
    },
  };
  return { handler, handled, joins, pending };
}

async function start(name: string, handler: DeliveryHandler<Work>, visibilityTimeoutS: number, pauseMs?: () => number) {
  const queueUrl = await cloud.createQueue(`delivery-${name}-${Date.now()}`);
  const queue = new SqsJobQueue({ queueUrl, region: REGION, endpoint: cloud.endpoint });
  queues.push(queue);
  const errors: string[] = [];
  const delivery = new Delivery<Work>({
    queue,
    handler,
    pollWaitS: 1,
    visibilityTimeoutS,
    whenReady: async () => undefined,
    ...(pauseMs ? { pauseMs } : {}),
    onError: (message) => void errors.push(message),
    onChange: () => undefined,
  });
  deliveries.push(delivery);
  return { queueUrl, queue, delivery, errors };
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The bodies of the messages visible now (taken, hidden for a minute). fauxqs's approximate counts
 * move a message whose visibility lapsed or was set to 0 back to "visible" only when something
 * receives, so visibility is checked by receiving.
 */
async function receiveNow(queueUrl: string): Promise<string[]> {
  const answer = await cloud.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }));
  return (answer.Messages ?? []).map((m) => m.Body ?? '');
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a duplicate message joins the work in flight: the work is handled once, stop() waits for it, and both messages are deleted with it', async () => {
  const { handler, handled, joins, pending } = scriptedHandler();
  const { queueUrl, delivery } = await start('duplicate', handler, 30);
  await cloud.send(queueUrl, 'attempt-1');
  await cloud.send(queueUrl, 'attempt-1');
  delivery.start();

  await until('the second message joined', () => joins.length === 1);
  expect(joins[0]).toMatchObject({ key: 'attempt-1', redelivery: false });
  expect(joins[0].messageId).not.toBe(handled[0].messageId);
  expect(handled).toHaveLength(1);
  expect(delivery.works()).toEqual([handled[0]]);
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 2 });

  let stopped = false;
  const stopping = delivery.stop().then(() => (stopped = true));
  await pause(300);
  expect(stopped).toBe(false); // stop() waits for the work in flight
  pending[0].resolve('delete');
  await stopping;
  expect(delivery.works()).toEqual([]);
  // Both receipts were deleted: nothing is left hidden to come back later.
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  expect(handled).toHaveLength(1);
});

test('messages stay hidden while the work outlasts their visibility timeout, and release returns them at once', async () => {
  const { handler, handled, joins, pending } = scriptedHandler();
  const { queueUrl, delivery, errors } = await start('hidden', handler, 2);
  await cloud.send(queueUrl, 'attempt-long');
  delivery.start();
  await until('the work started', () => handled.length === 1);

  await pause(5_000); // two and a half visibility timeouts, while delivery keeps polling
  expect(joins).toEqual([]); // not delivered again: the receipt was extended
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 1 });

  // Returned, the message is received again at once: well before the visibility set by the last
  // extension (at most 2/3 s old) would lapse. (Polling keeps running: a long poll cut short by
  // stop() may still take a returned message on the emulator's side.)
  const releasedAt = Date.now();
  pending[0].resolve('release');
  await until('the message is delivered again', () => handled.length === 2, 5_000);
  expect(Date.now() - releasedAt).toBeLessThan(1_000);
  expect(handled[1]).toEqual(handled[0]); // the same message, as new work: the first was no longer in flight
  expect(joins).toEqual([]);
  pending[1].resolve('delete');
  await delivery.stop();
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  expect(errors).toEqual([]);
});

test('a refused message is deleted at once; work that fails leaves its message hidden until its visibility lapses, then it comes back', async () => {
  const { handler, handled, pending } = scriptedHandler((body) => body === 'forged');
  const { queueUrl, delivery, errors } = await start('fail', handler, 2);
  await cloud.send(queueUrl, 'forged');
  await cloud.send(queueUrl, 'attempt-fails');
  delivery.start();
  await until('the valid message is handled', () => handled.length === 1);
  expect(handled[0].key).toBe('attempt-fails');
  await until('the refused message is deleted', async () => (await cloud.messageCount(queueUrl)).inFlight === 1);

  pending[0].reject(new Error('the report was refused'));
  await until('the failure is reported', () => errors.length === 1);
  await delivery.stop(); // nothing polls any more: what comes back stays visible
  expect(errors).toEqual(['job could not be settled; its message will be delivered again']);
  expect(delivery.works()).toEqual([]);
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 1 }); // not deleted
  expect(await receiveNow(queueUrl)).toEqual([]); // nor returned

  // No longer extended: it reappears once its visibility lapses, for another try.
  await pause(2_500);
  expect(await receiveNow(queueUrl)).toEqual(['attempt-fails']);
});

test('dozing, delivery pauses between empty long polls (fewer receives); a message sent meanwhile is taken when the pause ends; awake, no pause; stop() ends a pause at once', async () => {
  const { handler, handled, pending } = scriptedHandler();
  let dozing = true;
  const PAUSE_MS = 2_000;
  const { queueUrl, queue, delivery, errors } = await start('doze', handler, 30, () => (dozing ? PAUSE_MS : 0));
  // Counts the real queue's receives (each a billed SQS request).
  let receives = 0;
  const receive = queue.receive.bind(queue);
  queue.receive = (...args) => {
    receives++;
    return receive(...args);
  };
  delivery.start();

  await pause(6_000);
  const whileDozing = receives;
  dozing = false;
  await pause(PAUSE_MS + 500); // the pause under way ends
  const awakeFrom = receives;
  await pause(6_000);
  const whileAwake = receives - awakeFrom;
  // 1 s polls: awake about one a second; dozing about one every 3 s (1 s poll + 2 s pause).
  expect(whileDozing).toBeLessThanOrEqual(3);
  expect(whileAwake).toBeGreaterThanOrEqual(whileDozing + 2);

  // Dozing again: a message sent during a pause is taken once the pause ends (within poll + pause).
  dozing = true;
  await pause(1_500); // into a pause
  const sentAt = Date.now();
  await cloud.send(queueUrl, 'attempt-doze');
  await until('the message is taken', () => handled.length === 1, 15_000);
  expect(Date.now() - sentAt).toBeLessThan(1_000 + PAUSE_MS + 3_000);
  pending[0].resolve('delete');
  await until('the work is done', () => delivery.works().length === 0);

  // stop() during a pause does not wait for the pause to end.
  await pause(1_200);
  const stoppingAt = Date.now();
  await delivery.stop();
  expect(Date.now() - stoppingAt).toBeLessThan(PAUSE_MS);
  expect(errors).toEqual([]);
}, 60_000);
