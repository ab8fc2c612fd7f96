import { CAPACITY_MAX_AGE_MS } from '../../lambdas/core/use-cases/scheduling';
import { expectDrfProportion, floodThenFree, MEMORY_AND_CPU } from './drf-support';
import { startTestPlatform, TestPlatform } from './support';

/**
 * drf.test.ts's flood under `SCHEDULER_POLICY=sampled` (issue #24): the freed capacity goes to
 * waiting jobs in the same Dominant Resource Fairness order, with `dispatchWaiting` placing each
 * job through `placeSampled` and taking the shares' denominator from a listing at most
 * CAPACITY_MAX_AGE_MS old, instead of listing every provider on each report. Real handlers,
 * DynamoDB Local and fauxqs; the providers are driven by the test through the public API.
 */
let t: TestPlatform;

beforeAll(async () => {
  // Nothing here should expire on its own: no lease lapses, no provider goes stale, nothing times out waiting.
  // The reaper stays out (it would dispatch too, racing the report's pass on the same usage): each
  // report's own pass is what is checked, one report at a time.
  t = await startTestPlatform(
    { SCHEDULER_POLICY: 'sampled', LEASE_S: '600', HEARTBEAT_STALE_MS: '600000', MAX_WAIT_S: '0', MAX_WAITING_PER_DEVELOPER: '200' },
    { images: false, reaperIntervalMs: 3_600_000 },
  );
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

const image = `127.0.0.1:5000/chainfaas/none@sha256:${'d'.repeat(64)}`;

test('sampled policy: two developers flooding a full cluster get capacity in DRF proportion, and dispatching reads no provider listing per report', async () => {
  // Counts the controller's listings of every provider (the handlers share this store).
  const store = t.deps.providers;
  const list = store.listProviders.bind(store);
  let listings = 0;
  store.listProviders = () => {
    listings++;
    return list();
  };
  const started = Date.now();
  expectDrfProportion(await floodThenFree(t, image, MEMORY_AND_CPU));
  // 40 reports, each dispatching waiting jobs: at most one listing per CAPACITY_MAX_AGE_MS (the capacity behind the shares).
  expect(listings).toBeLessThanOrEqual(1 + Math.floor((Date.now() - started) / CAPACITY_MAX_AGE_MS));
});
