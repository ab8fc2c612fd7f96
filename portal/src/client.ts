/**
 * The ChainFaaS HTTP API as the portal and the `chainfaas` CLI use it: one fetch-based client
 * and one place that turns every problem the API returns into a sentence a person can act on.
 * No DOM and no Node APIs here: the browser bundle and the CLI (Node's fetch) share it.
 */

// Answer types are the contract's (inferred from its zod schemas); `import type` keeps zod out of the bundle.
import type { z } from 'zod';
import type {
  Account,
  AccountHistory,
  Bill,
  BillReceipt,
  Credential,
  Earnings,
  FunctionRecord,
  Job,
  JobLedger,
  JobPage,
  NewInvokeKey,
  NewToken,
  PeerDetail,
  PeerEnrolment,
  PeerList,
  Prices as PricesAnswer,
  ProviderView,
  Registration,
  Session,
  TopUp,
  User,
} from '../../contract/src/answers';
import type { ProblemDetail } from '../../contract/src/problem';
import type { CreateFunctionBody, Resources } from '../../contract/src/requests';
import { TERMINAL_STATUSES, type JobStatus } from '../../contract/src/statuses';

/**
 * The API's problem (`{ error: { code, message, field?, ... } }`), as the client sees it: besides
 * the API's codes, `network` (no answer) and `http_<status>` (an answer that was not a problem).
 */
export type Problem = Pick<ProblemDetail, 'message' | 'field' | 'requestId' | 'retryAfterS'> & { code: string; [detail: string]: unknown };

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the API could not be reached at all. */
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.message);
    this.name = 'ApiError';
  }
  get code(): string {
    return this.problem.code;
  }
  get field(): string | undefined {
    return this.problem.field;
  }
}

export type Role = User['roles'][number];
/** `GET /prices`: the price list in force and the published ones. */
export type Prices = z.infer<typeof PricesAnswer>;
/** What `POST /functions` and `PUT /functions/{id}` take (members with defaults may be left out). */
export type FunctionSpec = z.input<typeof CreateFunctionBody>;
/** A job as `GET /jobs/{id}` answers it. */
export type JobView = Job;
export { TERMINAL_STATUSES };
/** Every answer type of the API, as the contract infers it (type-only: no zod in the bundle). */
export type * from '../../contract/src/answers';
export type { JobStatus, Resources };

/** `GET /jobs` filters: `status` may list several, comma-separated; `from`/`to` are ISO instants. */
export interface JobSearch {
  functionId?: string;
  status?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
  /** Answer the body as text, unparsed (a CSV statement). */
  raw?: boolean;
}

/** A thin client: JSON in, JSON out, every non-2xx answer thrown as an ApiError. */
export class ApiClient {
  readonly baseUrl: string;
  constructor(
    baseUrl: string,
    private readonly token?: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  withToken(token: string | undefined): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const query = Object.entries(options.query ?? {}).filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '');
    const qs = query.length ? `?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}` : '';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}${qs}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ApiError(0, { code: 'network', message: `${this.baseUrl} did not answer (${why})` });
    }
    const text = await res.text();
    if (res.ok && options.raw) return { status: res.status, body: text as T };
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (!res.ok) {
      const problem = (body as { error?: Problem } | undefined)?.error;
      const retry = Number(res.headers.get('retry-after'));
      throw new ApiError(res.status, {
        ...(problem ?? { code: `http_${res.status}`, message: text.slice(0, 200) || res.statusText || `HTTP ${res.status}` }),
        // Which credential a 401 refused: an invoke key is not a login, and is not fixed by logging in.
        ...(res.status === 401 && this.token?.startsWith('ik_') ? { credential: 'invoke-key' } : {}),
        ...(problem?.retryAfterS === undefined && Number.isFinite(retry) && retry > 0 ? { retryAfterS: retry } : {}),
      });
    }
    return { status: res.status, body: body as T };
  }

  get = async <T>(path: string, query?: RequestOptions['query'], signal?: AbortSignal) => (await this.request<T>('GET', path, { query, signal })).body;
  post = async <T>(path: string, body?: unknown) => (await this.request<T>('POST', path, { body: body ?? {} })).body;
  put = async <T>(path: string, body?: unknown) => (await this.request<T>('PUT', path, { body: body ?? {} })).body;
  delete = async <T>(path: string) => (await this.request<T>('DELETE', path)).body;

  // The routes, one method each, so that a path is spelt once.
  register = (email: string, password: string, roles: Role[]) => this.post<Registration>('/users', { email, password, roles });
  login = (email: string, password: string) => this.post<Session>('/sessions', { email, password });
  me = () => this.get<User>('/me');
  listFunctions = () => this.get<{ items: FunctionRecord[] }>('/functions');
  getFunction = (id: string) => this.get<FunctionRecord>(`/functions/${encodeURIComponent(id)}`);
  createFunction = (spec: FunctionSpec) => this.post<FunctionRecord>('/functions', spec);
  /** Replaces the definition: the function gets version n+1. */
  updateFunction = (id: string, spec: FunctionSpec) => this.put<FunctionRecord>(`/functions/${encodeURIComponent(id)}`, spec);
  deleteFunction = (id: string) => this.delete<void>(`/functions/${encodeURIComponent(id)}`);
  listKeys = (functionId: string) => this.get<{ items: Credential[] }>(`/functions/${encodeURIComponent(functionId)}/keys`);
  createKey = (functionId: string, body: { name?: string; expiresInS?: number }) =>
    this.post<NewInvokeKey>(`/functions/${encodeURIComponent(functionId)}/keys`, body);
  revokeKey = (functionId: string, keyId: string) => this.delete<void>(`/functions/${encodeURIComponent(functionId)}/keys/${encodeURIComponent(keyId)}`);
  listTokens = () => this.get<{ items: Credential[] }>('/tokens');
  createToken = (body: { name?: string; expiresInS?: number }) => this.post<NewToken>('/tokens', body);
  revokeToken = (tokenId: string) => this.delete<void>(`/tokens/${encodeURIComponent(tokenId)}`);
  /** The task list, newest first: `next` is the cursor of the following page. */
  searchJobs = (query: JobSearch, signal?: AbortSignal) => this.get<JobPage>('/jobs', { ...query }, signal);
  cancelJob = (id: string) => this.post<JobView>(`/jobs/${encodeURIComponent(id)}/cancel`);
  /** Starts a job; 200 with the finished job, or 202 while it is still running. */
  invoke = (functionId: string, body: { input?: unknown; inputBase64?: string; mode?: 'sync' | 'async'; waitS?: number }) =>
    this.request<JobView>('POST', `/functions/${encodeURIComponent(functionId)}/invocations`, { body });
  getJob = (id: string, signal?: AbortSignal) => this.get<JobView>(`/jobs/${encodeURIComponent(id)}`, undefined, signal);
  getJobLedger = (id: string) => this.get<JobLedger>(`/jobs/${encodeURIComponent(id)}/ledger`);
  account = () => this.get<Account>('/account');
  /** The price list in force (micro-credits per vCPU-millisecond and per MB-millisecond). */
  prices = () => this.get<Prices>('/prices');
  /** Newest first, `limit` per page; `next` is the cursor of the following page. */
  accountHistory = (page: { limit?: number; cursor?: string } = {}) =>
    this.get<AccountHistory>('/account/history', { ...page });
  /** `reference` makes it idempotent: the same reference again credits nothing more. */
  topUp = (amount: number, reference: string) => this.request<TopUp>('POST', '/account/top-ups', { body: { amount, reference } }).then((r) => r.body);
  listBills = () => this.get<{ accountId: string; items: Bill[] }>('/account/bills');
  getBill = (month: string) => this.get<Bill>(`/account/bills/${encodeURIComponent(month)}`);
  /** The statement exactly as the API writes it (CSV text). */
  getBillCsv = async (month: string) =>
    (await this.request<string>('GET', `/account/bills/${encodeURIComponent(month)}`, { query: { format: 'csv' }, raw: true })).body;
  payBill = (month: string) => this.post<BillReceipt>(`/account/bills/${encodeURIComponent(month)}/pay`);
  listProviders = () => this.get<{ items: ProviderView[]; heartbeatStaleS?: number }>('/providers');
  getProvider = (id: string) => this.get<ProviderView>(`/providers/${encodeURIComponent(id)}`);
  providerEarnings = (id: string, by: 'day' | 'function' = 'day') => this.get<Earnings>(`/providers/${encodeURIComponent(id)}/earnings`, { by });
  // Peer operators' peers in the Fabric network (portal/src/pages/peers.ts).
  listPeers = () => this.get<PeerList>('/peers');
  getPeer = (id: string) => this.get<PeerDetail>(`/peers/${encodeURIComponent(id)}`);
  enrolPeer = (body: { name: string; endpoint: string; signCsr: string; tlsCsr: string }) => this.post<PeerEnrolment>('/peers', body);
  revokePeer = (id: string) => this.delete<PeerDetail>(`/peers/${encodeURIComponent(id)}`);
}

/** Waits for a job to end, polling `GET /jobs/{id}`; `onUpdate` sees every status it passes through. */
export async function waitForJob(
  api: ApiClient,
  jobId: string,
  options: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal; onUpdate?: (job: JobView) => void },
): Promise<{ job: JobView; done: boolean }> {
  const until = Date.now() + options.timeoutMs;
  for (;;) {
    const job = await api.getJob(jobId, options.signal);
    options.onUpdate?.(job);
    if (TERMINAL_STATUSES.includes(job.status)) return { job, done: true };
    const left = until - Date.now();
    if (left <= 0) return { job, done: false };
    // The last read is at the deadline, not an interval after it.
    await new Promise((r) => setTimeout(r, Math.min(left, options.intervalMs ?? 1000)));
    if (options.signal?.aborted) return { job, done: false };
  }
}

const FIELD_NAMES: Record<string, string> = {
  email: 'Email',
  password: 'Password',
  roles: 'Roles',
  name: 'Name',
  image: 'Image',
  'resources.vcpu': 'vCPU',
  'resources.memoryMb': 'Memory (MB)',
  'resources.timeoutS': 'Timeout (s)',
  protocol: 'Protocol',
  mode: 'Mode',
  network: 'Network',
  maxPrice: 'Price cap',
  env: 'Environment',
  input: 'Input',
  functionId: 'Function',
  status: 'Status',
  from: 'From',
  to: 'To',
  limit: 'Limit',
  cursor: 'Page cursor',
  version: 'Version',
  expiresInS: 'Lifetime',
  amount: 'Amount',
  reference: 'Reference',
  month: 'Month',
  format: 'Format',
  endpoint: 'Endpoint',
  signCsr: 'Signing CSR',
  tlsCsr: 'TLS CSR',
  '(body)': 'Request',
};

/** A readable name for a field path the API names (`resources.memoryMb` → `Memory (MB)`). */
export function fieldLabel(field: string): string {
  if (FIELD_NAMES[field]) return FIELD_NAMES[field] as string;
  if (field.startsWith('env.')) return `Environment variable ${field.slice(4)}`;
  return field;
}

/**
 * One sentence for any error the API (or the network) produced: what happened, in the API's own
 * words where it has them, and what to do next. Used by every page and every CLI command.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  const p = err.problem;
  const msg = p.message.replace(/\.$/, '');
  const retry = typeof p.retryAfterS === 'number' ? ` Try again in ${p.retryAfterS} s.` : ' Try again later.';
  switch (err.status) {
    case 0:
      return `Cannot reach the ChainFaaS API: ${msg}. Check your network connection and the API address.`;
    case 400: {
      if (p.field && p.field !== '(body)') {
        const label = fieldLabel(p.field);
        const text = inWords(msg.startsWith(`${p.field}:`) ? msg.slice(p.field.length + 1).trim() : msg);
        return `${label}: ${text}.`;
      }
      return `The request was refused: ${msg}.`;
    }
    case 401:
      if (p.credential === 'invoke-key') return `The invoke key was refused (${msg}). Check the key, or ask the function's owner for a new one.`;
      return p.code === 'unauthenticated' && /email or password/.test(msg)
        ? 'Email or password is wrong.'
        : `You are not logged in, or your session has expired (${msg}). Log in again.`;
    case 402:
      return p.status === 'declined'
        ? `The payment was declined: ${msg.replace(/^the payment was declined: /, '')}. Nothing was charged; try another amount or payment method.`
        : `Not enough credit (402): ${msg}. Top up your account on the Account page (or with chainfaas top-up), or lower the function's price cap.`;
    case 403:
      return `Not allowed: ${msg}.`;
    case 404:
      return p.deleted ? `${capitalise(msg)}: it can no longer be invoked.` : `Not found: ${msg}.`;
    case 405:
      return `This platform does not offer that operation: ${msg}.`;
    case 409:
      return `Conflict (409): ${msg}. Nothing was changed.`;
    case 413:
      return `Too large: ${msg}.`;
    case 429:
      return `Too many requests (429): the platform is limiting how fast you can call it (${msg}).${retry}`;
    case 503:
      return p.code === 'no_capacity' ? `No provider has room for this job right now: ${msg}.${retry}` : `The platform is unavailable: ${msg}.${retry}`;
    default:
      if (err.status >= 500)
        return `The platform failed on its side (HTTP ${err.status}${p.requestId ? `, request id ${p.requestId}` : ''}). Try again; if it keeps failing, report the request id.`;
      return `HTTP ${err.status}: ${msg}.`;
  }
}

/** A validator's wording ("String must contain at least 1 character(s)") as a person would say it. */
function inWords(text: string): string {
  const atLeast = /^(?:String must contain at least|Too small: expected string to have >=?)\s*(\d+) character\(?s?\)?$/i.exec(text);
  if (atLeast) return atLeast[1] === '1' ? 'must not be empty' : `must be at least ${atLeast[1]} characters long`;
  const atMost = /^(?:String must contain at most|Too big: expected string to have <=?)\s*(\d+) character\(?s?\)?$/i.exec(text);
  if (atMost) return `must be at most ${atMost[1]} characters long`;
  if (/^(?:Required|Invalid input: expected \w+, received undefined)$/i.test(text)) return 'is required';
  return text;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
