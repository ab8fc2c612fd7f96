import { errorMessage, Logger } from './log';
import { ContainerRuntime, PullProgress } from './runtime';

/**
 * The function images on this machine, least recently used first out. An image is pulled the
 * first time a job needs it (pull time is not billed); when the images the agent has used
 * outgrow the disk budget, the least recently used ones that no job is using are removed. The
 * list of cached images goes into every heartbeat, so the scheduler can prefer a provider that
 * already holds a function's image.
 */
export class ImageCache {
  private readonly entries = new Map<string, { sizeBytes: number; lastUsed: number; users: number }>();
  private readonly pulls = new Map<string, Promise<void>>();

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly budgetBytes: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Makes `image` available and marks it in use until the returned release function is called.
   * Concurrent calls for the same image share one pull.
   */
  async acquire(image: string, onProgress?: (progress: PullProgress) => void): Promise<() => void> {
    // An image pulled just now can be evicted before this call resumes; then pull it again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = this.entries.get(image);
      if (entry) return this.use(entry);
      let pull = this.pulls.get(image);
      if (!pull) {
        pull = this.fetch(image, onProgress).finally(() => this.pulls.delete(image));
        this.pulls.set(image, pull);
      }
      await pull;
    }
    throw new Error(`image ${image} was evicted repeatedly while being acquired: the cache budget is too small`);
  }

  /**
   * Marks a cached image in use (a warm container runs it) until the returned function is called;
   * an image the cache does not hold is left alone.
   */
  retain(image: string): () => void {
    const entry = this.entries.get(image);
    return entry ? this.use(entry) : () => undefined;
  }

  private use(entry: { lastUsed: number; users: number }): () => void {
    entry.users++;
    entry.lastUsed = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.users--;
      entry.lastUsed = Date.now();
      void this.evict();
    };
  }

  /** Images known to be on this machine, most recently used first. */
  cached(): string[] {
    return [...this.entries.entries()].sort((a, b) => b[1].lastUsed - a[1].lastUsed).map(([image]) => image);
  }

  private async fetch(image: string, onProgress?: (progress: PullProgress) => void): Promise<void> {
    if (!(await this.runtime.hasImage(image))) await this.runtime.pullImage(image, onProgress);
    const sizeBytes = await this.runtime.imageSize(image);
    this.entries.set(image, { sizeBytes, lastUsed: Date.now(), users: 0 });
  }

  /** Removes idle images, least recently used first, until the cache fits its budget. */
  private async evict(): Promise<void> {
    let total = [...this.entries.values()].reduce((sum, e) => sum + e.sizeBytes, 0);
    const idle = [...this.entries.entries()].filter(([, e]) => e.users === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [image, entry] of idle) {
      if (total <= this.budgetBytes) return;
      this.entries.delete(image);
      total -= entry.sizeBytes;
      try {
        await this.runtime.removeImage(image);
        this.logger.info('evicted image from the cache', { image, sizeBytes: entry.sizeBytes, budgetBytes: this.budgetBytes });
      } catch (err) {
        this.logger.warn('could not evict image', { image, error: errorMessage(err) });
      }
    }
  }
}
