import { expectDrfProportion, floodThenFree, MEMORY_AND_CPU } from './drf-support';
import { startTestPlatform, TestPlatform } from './support';

/**
 * Two developers flood a full cluster; as jobs finish, the freed capacity goes to waiting jobs in
 * Dominant Resource Fairness order, so the heavy developer who flooded first does not keep the
 * cluster: both end up holding the same dominant share. Real handlers, DynamoDB Local and fauxqs;
 * the two providers are driven by the test through the public API (they "run" a job by uploading
 * its result and posting a signed report when told), so the test decides when capacity frees.
 */
let t: TestPlatform;

beforeAll(async () => {
  // Nothing here should expire on its own: no lease lapses, no provider goes stale, nothing times out waiting.
  // The reaper stays out (it dispatches too): after a report, only that report's pass moves capacity, so each observation is quiescent.
  t = await startTestPlatform({ LEASE_S: '600', HEARTBEAT_STALE_MS: '600000', MAX_WAIT_S: '0', MAX_WAITING_PER_DEVELOPER: '200' }, { images: false, reaperIntervalMs: 3_600_000 });
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

const image = `127.0.0.1:5000/chainfaas/none@sha256:${'d'.repeat(64)}`;

test('two developers flooding a full cluster get capacity in DRF proportion', async () => {
  expectDrfProportion(await floodThenFree(t, image, MEMORY_AND_CPU));
});
