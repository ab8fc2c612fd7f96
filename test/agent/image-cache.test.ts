import { ImageCache } from '../../provider-agent/src/image-cache';
import { DockerRuntime } from '../../provider-agent/src/runtime';
import { forgetImagesOf, ImageRegistry, memoryLogger, startImageRegistry } from './support';

/** The LRU image cache on the real engine: pulls by digest once, evicts idle images past its budget. */

const logger = memoryLogger();
const runtime = new DockerRuntime(logger);
let registry: ImageRegistry;

beforeAll(async () => {
  registry = await startImageRegistry(['sha256', 'fail', 'sleep']);
}, 300_000);

afterAll(async () => {
  await registry?.stop();
});

/** Removes every local reference to the registry's images, so that the cache has to pull them. */
const forget = () => forgetImagesOf(registry.address);

test('an image is pulled once, with progress, and shared by concurrent users', async () => {
  await forget();
  const cache = new ImageCache(runtime, 1024 * 1024 * 1024, logger);
  const progress: number[] = [];
  const [releaseA, releaseB] = await Promise.all([
    cache.acquire(registry.images.sha256, (p) => progress.push(p.layersDone)),
    cache.acquire(registry.images.sha256),
  ]);
  expect(await runtime.hasImage(registry.images.sha256)).toBe(true);
  expect(logger.records.filter((r) => r.message === 'pulling image' && r.image === registry.images.sha256)).toHaveLength(1);
  expect(progress.length).toBeGreaterThan(0);
  releaseA();
  releaseB();
  expect(cache.cached()).toEqual([registry.images.sha256]);
});

test('past the budget, the least recently used idle image is evicted and an image in use is kept', async () => {
  await forget();
  const size = await (async () => {
    const probe = new ImageCache(runtime, Number.MAX_SAFE_INTEGER, logger);
    const release = await probe.acquire(registry.images.sleep);
    release();
    return runtime.imageSize(registry.images.sleep);
  })();
  // Room for about two of these small images, not three.
  const cache = new ImageCache(runtime, Math.round(size * 2.5), logger);

  const releaseSha = await cache.acquire(registry.images.sha256);
  releaseSha();
  const releaseFail = await cache.acquire(registry.images.fail);
  const releaseSleep = await cache.acquire(registry.images.sleep);
  releaseSleep();
  await new Promise((r) => setTimeout(r, 500));

  expect(cache.cached()).toEqual([registry.images.sleep, registry.images.fail]);
  expect(await runtime.hasImage(registry.images.sha256)).toBe(false);
  expect(await runtime.hasImage(registry.images.fail)).toBe(true);
  releaseFail();
});
