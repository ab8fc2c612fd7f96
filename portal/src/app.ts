import type { ApiClient, User } from './client';
import { h } from './dom';

/** What every page gets: the API as the logged-in user, who that is, the route's parameters. */
export interface PageContext {
  api: ApiClient;
  me: User;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Aborted when the user leaves the page: polling loops stop on it. */
  signal: AbortSignal;
  navigate(hash: string): void;
}

export type Page = (ctx: PageContext) => Promise<Node> | Node;

export interface Session {
  token: string;
  email: string;
}

const SESSION_KEY = 'chainfaas.session';

/** The session lives in sessionStorage only: gone when the tab closes, never logged. */
export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const s = raw ? (JSON.parse(raw) as Session) : undefined;
    return s && typeof s.token === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
}

/** A heading that receives focus after navigation (so keyboard and screen-reader users land on it). */
export function pageTitle(text: string, ...extra: Node[]): HTMLElement {
  return h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, text), ...extra);
}

export function link(hash: string, text: string, attrs: Record<string, string> = {}): HTMLAnchorElement {
  return h('a', { href: hash, ...attrs }, text);
}

/** Builds a `#/path?query` hash from parts, leaving out empty values. */
export function hashOf(path: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

/**
 * A list that refreshes by itself (issue #22): every `everyMs` while the page is open and visible,
 * `read` fetches the data again; `show` is called only when it changed (compared as JSON), so an
 * unchanged list is never redrawn (no flicker) and what the user typed or focused stays put.
 * Stops on `ctx.signal`; a failed read is passed to `failed` and the next one tried.
 */
export function refreshEvery<T>(ctx: PageContext, everyMs: number, first: T, read: (signal: AbortSignal) => Promise<T>, show: (data: T) => void, failed: (err: unknown) => void = () => undefined): void {
  let last = JSON.stringify(first);
  void (async () => {
    while (!ctx.signal.aborted) {
      await new Promise((r) => setTimeout(r, everyMs));
      if (ctx.signal.aborted) return;
      if (document.hidden) continue;
      try {
        const data = await read(ctx.signal);
        if (ctx.signal.aborted) return;
        const now = JSON.stringify(data);
        if (now === last) continue;
        last = now;
        show(data);
      } catch (err) {
        if (ctx.signal.aborted || (err as Error).name === 'AbortError') return;
        failed(err);
      }
    }
  })();
}
