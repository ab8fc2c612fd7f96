import { ApiClient, ApiError, describeError, Role, User } from './client';
import { alertBox, clear, h } from './dom';
import { clearSession, loadSession, Page, PageContext } from './app';
import { loginPage, registerPage } from './pages/auth';
import { editFunctionPage, functionPage, functionsPage, newFunctionPage } from './pages/functions';
import { jobPage, jobsPage } from './pages/jobs';
import { accountPage } from './pages/account';
import { providerPage } from './pages/provider';
import { peersPage } from './pages/peers';
import { paymentsPage } from './pages/payments';

/**
 * The ChainFaaS portal: a static single-page app over the public HTTP API. It reads the API's
 * address from /config.json (PortalSite writes it in AWS; the local API server answers it), keeps
 * the session token in sessionStorage, and routes on the URL's hash (#/functions, #/jobs/job_…),
 * so any static host serves it without rewrites.
 */

interface Route {
  path: string;
  page: Page;
  /** Only users holding one of these roles see it (all signed-in users when absent). */
  roles?: Role[];
}

const ROUTES: Route[] = [
  { path: '/functions', page: functionsPage, roles: ['developer'] },
  { path: '/functions/new', page: newFunctionPage, roles: ['developer'] },
  { path: '/functions/:functionId', page: functionPage, roles: ['developer'] },
  { path: '/functions/:functionId/edit', page: editFunctionPage, roles: ['developer'] },
  { path: '/jobs', page: jobsPage, roles: ['developer'] },
  { path: '/jobs/:jobId', page: jobPage, roles: ['developer'] },
  { path: '/provider', page: providerPage, roles: ['provider'] },
  { path: '/peers', page: peersPage, roles: ['peer-operator'] },
  { path: '/account', page: accountPage },
  { path: '/payments', page: paymentsPage },
];

const NAV: { path: string; label: string; roles?: Role[] }[] = [
  { path: '/functions', label: 'Functions', roles: ['developer'] },
  { path: '/jobs', label: 'Tasks', roles: ['developer'] },
  { path: '/provider', label: 'Provider', roles: ['provider'] },
  { path: '/peers', label: 'Peers', roles: ['peer-operator'] },
  { path: '/account', label: 'Account' },
  { path: '/payments', label: 'Payments' },
];

let apiBase = '';
let me: User | undefined;
/** The token `me` was read with: another session (another tab's log-in) reads it again. */
let meToken: string | undefined;
let current: AbortController | undefined;

function allowed(roles: Role[] | undefined, user: User): boolean {
  return !roles || roles.some((r) => user.roles.includes(r));
}

function parseHash(): { path: string; query: URLSearchParams } {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/';
  const [path, qs] = raw.split('?', 2) as [string, string | undefined];
  return { path: path.replace(/\/+$/, '') || '/', query: new URLSearchParams(qs ?? '') };
}

function match(path: string): { route: Route; params: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean);
  // Literal segments win over parameters (`/functions/new` before `/functions/:functionId`).
  const candidates = ROUTES.map((route) => ({ route, segs: route.path.split('/').filter(Boolean) }))
    .filter((c) => c.segs.length === parts.length)
    .sort((a, b) => b.segs.filter((s) => !s.startsWith(':')).length - a.segs.filter((s) => !s.startsWith(':')).length);
  for (const { route, segs } of candidates) {
    const params: Record<string, string> = {};
    if (segs.every((s, i) => (s.startsWith(':') ? ((params[s.slice(1)] = decodeURIComponent(parts[i] as string)), true) : s === parts[i]))) return { route, params };
  }
  return undefined;
}

function homeFor(user: User): string {
  const first = NAV.find((n) => allowed(n.roles, user));
  return `#${first?.path ?? '/account'}`;
}

function renderNav(user: User | undefined, path: string): void {
  const nav = document.getElementById('nav') as HTMLElement;
  const brand = h('a', { class: 'brand', href: user ? homeFor(user) : '#/login' }, 'ChainFaaS');
  if (!user) {
    clear(nav, brand, h('ul', {}, h('li', {}, h('a', { href: '#/login', 'aria-current': path === '/login' ? 'page' : undefined }, 'Log in')), h('li', {}, h('a', { href: '#/register', 'aria-current': path === '/register' ? 'page' : undefined }, 'Register'))));
    return;
  }
  const items = NAV.filter((n) => allowed(n.roles, user)).map((n) =>
    h('li', {}, h('a', { href: `#${n.path}`, 'aria-current': path === n.path || path.startsWith(`${n.path}/`) ? 'page' : undefined }, n.label)),
  );
  const logout = h('button', { type: 'button', class: 'link-button', id: 'logout' }, 'Log out');
  logout.addEventListener('click', () => {
    clearSession();
    me = undefined;
    location.hash = '#/login';
  });
  clear(nav, brand, h('ul', {}, ...items), h('div', { class: 'who' }, h('span', { class: 'email' }, user.email), logout));
}

async function render(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const main = document.getElementById('main') as HTMLElement;
  const { path, query } = parseHash();
  const session = loadSession();
  const base = new ApiClient(apiBase);

  if (!session) {
    me = undefined;
    renderNav(undefined, path);
    if (path === '/register') return show(main, registerPage(base, signedIn, sessionStarted));
    if (path !== '/login') sessionStorage.setItem('chainfaas.after-login', location.hash);
    return show(main, loginPage(base, signedIn));
  }
  const api = base.withToken(session.token);
  // A render that a newer one superseded (another hash, another session) while it waited for the
  // API must change nothing: a late redirect of it would take the user to a page they left.
  const stale = () => controller.signal.aborted;
  // First load: say something while the API answers who is logged in.
  if (!main.querySelector('h1, .loading')) clear(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  if (path === '/login' || path === '/register') {
    try {
      const user = me && meToken === session.token ? me : await api.me();
      if (!stale()) location.replace(homeFor(user));
    } catch (err) {
      if (!stale()) handleLoadError(main, err);
    }
    return;
  }
  try {
    if (!me || meToken !== session.token) {
      const user = await api.me();
      if (stale()) return;
      me = user;
      meToken = session.token;
    }
  } catch (err) {
    if (stale()) return;
    return handleLoadError(main, err);
  }
  if (stale()) return;
  renderNav(me, path);
  if (path === '/') {
    location.replace(homeFor(me));
    return;
  }
  const found = match(path);
  if (!found) return show(main, notFoundView(`There is no page at ${path}.`));
  if (!allowed(found.route.roles, me)) {
    return show(main, notFoundView(`This page is for accounts with the role ${found.route.roles?.join(' or ')}; yours has ${me.roles.join(', ')}.`));
  }
  clear(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  const ctx: PageContext = {
    api,
    me,
    params: found.params,
    query,
    signal: controller.signal,
    navigate: (hash) => {
      // The same hash fires no hashchange: render again (after a delete, a save).
      if (location.hash === hash) void render();
      else location.hash = hash;
    },
  };
  try {
    const node = await found.route.page(ctx);
    if (!controller.signal.aborted) show(main, node);
  } catch (err) {
    if (!controller.signal.aborted) handleLoadError(main, err);
  }
}

function handleLoadError(main: HTMLElement, err: unknown): void {
  if (err instanceof ApiError && err.status === 401) {
    clearSession();
    me = undefined;
    sessionStorage.setItem('chainfaas.notice', describeError(err));
    location.hash = '#/login';
    return;
  }
  // Always a way back: the list the page belongs to (a job → Tasks), and the start page.
  const { path } = parseHash();
  const section = NAV.find((n) => path.startsWith(`${n.path}/`) && (!me || allowed(n.roles, me)));
  const notFound = err instanceof ApiError && err.status === 404;
  show(
    main,
    h(
      'div',
      {},
      h('h1', { tabindex: -1 }, notFound ? 'Not found' : 'Something went wrong'),
      alertBox(describeError(err)),
      h('p', { class: 'way-back' }, section ? [h('a', { href: `#${section.path}`, id: 'back-to-list' }, `Back to ${section.label}`), ' · '] : null, h('a', { href: '#/' }, 'Go to your start page')),
    ),
  );
}

function notFoundView(message: string): Node {
  return h('div', {}, h('h1', { tabindex: -1 }, 'Page not found'), h('p', {}, message), h('p', {}, h('a', { href: '#/' }, 'Go to your start page')));
}

function show(main: HTMLElement, node: Node): void {
  clear(main, node);
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} — ChainFaaS` : 'ChainFaaS';
  // Move focus to the new page's heading, unless a page put it somewhere on purpose.
  if (!main.contains(document.activeElement) || document.activeElement === main) (heading ?? main).focus();
}

/** Called by the register page as soon as it saved a session: the nav shows the new account at once. */
function sessionStarted(): void {
  const session = loadSession();
  if (!session) return;
  void new ApiClient(apiBase)
    .withToken(session.token)
    .me()
    .then(
      (user) => {
        me = user;
        meToken = session.token;
        renderNav(user, parseHash().path);
      },
      () => undefined,
    );
}

/** Called by the login and register pages once they saved a session. */
function signedIn(): void {
  me = undefined;
  const stored = sessionStorage.getItem('chainfaas.after-login');
  sessionStorage.removeItem('chainfaas.after-login');
  const next = stored && stored !== '#/login' && stored !== '#/register' ? stored : '#/';
  if (location.hash === next) void render();
  else location.hash = next;
}

async function boot(): Promise<void> {
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (res.ok) apiBase = String(((await res.json()) as { apiUrl?: string }).apiUrl ?? '');
  } catch {
    // No config.json: the API is on this origin.
  }
  if (!apiBase) apiBase = location.origin;
  // The skip link moves focus to the content; it must not change the route.
  document.getElementById('skip-link')?.addEventListener('click', (e) => {
    e.preventDefault();
    (document.getElementById('main') as HTMLElement).focus();
  });
  window.addEventListener('hashchange', () => {
    if (location.hash === '' || location.hash.startsWith('#/')) void render();
  });
  await render();
}

void boot();
