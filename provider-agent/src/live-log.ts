import { errorMessage, Logger } from './log';
import { put } from './transfer';

/**
 * The log of a running job, uploaded as it grows (issue #22: `chainfaas logs JOB -f` follows it):
 * every `everyMs` while the function runs, when its stderr grew since the last upload, the log so
 * far is PUT to the job's presigned log URL, the same object the final log replaces. Bounded: the
 * first upload waits `everyMs` (a short job never uploads before its end), one upload at a time,
 * each at most the agent's log cap (`maxLogBytes`). A failed upload is only logged: the final
 * upload after the run is the one that counts. `stop` waits for an upload under way, so none can
 * land after (and over) the final log.
 */
export class LiveLog {
  private timer?: NodeJS.Timeout;
  private uploading?: Promise<void>;
  private sent = 0;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly everyMs: number,
    private readonly logger: Logger,
    private readonly fields: Record<string, unknown>,
  ) {}

  /** Starts following the log that `read` returns (the runner calls it once the function started). */
  follow(read: () => Buffer): void {
    if (this.stopped || this.timer || !(this.everyMs > 0)) return;
    this.timer = setInterval(() => {
      if (this.uploading) return;
      const log = read();
      if (log.length <= this.sent) return;
      this.uploading = put(this.url, log)
        .then(() => void (this.sent = log.length))
        .catch((err) => this.logger.warn('could not upload the log so far (the final log is uploaded when the job ends)', { ...this.fields, error: errorMessage(err) }))
        .finally(() => (this.uploading = undefined));
    }, this.everyMs);
    this.timer.unref();
  }

  /** Stops following; resolves once no upload is under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.uploading;
  }
}
