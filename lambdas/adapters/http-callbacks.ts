import type { CallbackSender } from '../core/ports';

/**
 * Completion callbacks over HTTP with Node's fetch: one POST, a hard timeout, redirects not
 * followed (a redirect could point the controller at an address the URL check refused), the
 * response body discarded. Nothing here logs the URL (it may carry the receiver's own secret).
 */
export class FetchCallbackSender implements CallbackSender {
  async post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
    const res = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => undefined);
    return res.status;
  }
}
