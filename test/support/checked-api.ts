import { openApiDocument } from '../../contract/src/openapi';
import { answerSchema } from '../../contract/src/routes';
import { checkResponse, matchPath, type OpenApiDocument, type Violation } from '../../lambdas/openapi/validate';
import { Api, type ApiResponse } from './api';

export const doc = openApiDocument as unknown as OpenApiDocument;

/**
 * An API client that checks every answer twice, and keeps what did not match, so a test can
 * assert that real responses validate: against the OpenAPI document served (route, method, status
 * and body schema, with lambdas/openapi/validate.ts), and by parsing the body with the contract's
 * zod answer schema for that route and status (what the agent parses with and what the portal's
 * and the CLI's types are inferred from).
 */
export class CheckedApi extends Api {
  constructor(
    baseUrl: string,
    token?: string,
    readonly violations: (Violation & { call: string })[] = [],
    readonly checked: Set<string> = new Set(),
  ) {
    super(baseUrl, token);
  }

  as(token: string): CheckedApi {
    return new CheckedApi(this.baseUrl, token, this.violations, this.checked);
  }

  async call<T = any>(method: string, path: string, body?: unknown, init: { raw?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
    const res = await super.call<T>(method, path, body, init);
    const found = [...checkResponse(doc, method, path, res.status, res.body), ...parseAnswer(method, path, res.status, res.body)];
    // Routes the API server itself answers (no route, wrong method) are not the handlers' and not documented.
    const serverAnswer = res.status === 405 || (res.status === 404 && (res.body as any)?.error?.message?.startsWith?.('no route'));
    if (!serverAnswer) {
      for (const v of found) this.violations.push({ ...v, call: `${method} ${path} → ${res.status}` });
      this.checked.add(`${res.status}`);
    }
    return res;
  }

  get = <T = any>(path: string, headers?: Record<string, string>) => this.call<T>('GET', path, undefined, { headers });
  post = <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => this.call<T>('POST', path, body, { headers });
  put = <T = any>(path: string, body?: unknown) => this.call<T>('PUT', path, body);
  delete = <T = any>(path: string) => this.call<T>('DELETE', path);
}

let counter = 0;
/** Registers a fresh user and returns a checked client acting as that user. */
export async function newCheckedUser(api: CheckedApi, roles: string[]): Promise<{ api: CheckedApi; userId: string; token: string }> {
  const email = `checked${Date.now()}${counter++}@example.test`;
  const res = await api.post('/users', { email, password: 'correct horse battery', roles });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { api: api.as(res.body.token), userId: res.body.user.userId, token: res.body.token };
}

/** The body parsed with the contract's answer schema of the route and status (none for an undocumented status: checkResponse says so). */
function parseAnswer(method: string, path: string, status: number, body: unknown): Violation[] {
  const template = matchPath(doc, path);
  const schema = template && answerSchema(`${method.toUpperCase()} ${template}`, status);
  if (!schema) return [];
  const parsed = schema.safeParse(body);
  return parsed.success ? [] : parsed.error.issues.map((i) => ({ path: `zod ${method} ${template} ${status} $.${i.path.join('.')}`, message: i.message }));
}
