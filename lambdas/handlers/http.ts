import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DomainError, ErrorCode } from '../core/errors';
import { LIMITS, OPERATIONS, type Operation } from '../../contract/src';
import { count, logger, METRIC, withLambdaContext } from '../adapters/observability';
import { invokeKeyRefused } from '../core/use-cases/accounts';

/**
 * The HTTP edge shared by every API handler: a JSON body parser, a router on the API Gateway
 * HTTP API (v2) `routeKey`, and the error mapper that turns DomainError into a problem body.
 * Bad input is always a 4xx with `{ error: { code, message, field? } }`; only a bug is a 500.
 */

export interface HttpRequest {
  event: ApiEvent;
  body: unknown;
  params: Record<string, string>;
  query: Record<string, string>;
  header(name: string): string | undefined;
  /** Milliseconds left before the Lambda (or the local server's stand-in) times out. */
  remainingMs(): number;
}

export interface HttpResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Route = (req: HttpRequest) => Promise<HttpResult>;

type ApiEvent = APIGatewayProxyEventV2 & { parsedBody?: unknown };

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthenticated: 401,
  insufficient_funds: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  no_capacity: 503,
  unavailable: 503,
  too_many_requests: 429,
};

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResult => ({ status, body, headers });

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Parses the body as JSON (if any), refusing oversized, non-UTF-8 and malformed bodies with a named 4xx. */
const jsonBodyParser = (): middy.MiddlewareObj<ApiEvent, APIGatewayProxyStructuredResultV2> => ({
  before: (request) => {
    const event = request.event;
    if (event.body === undefined || event.body === null || event.body === '') return;
    let raw: string;
    try {
      // A body that is not UTF-8 arrives base64-encoded; decoding it strictly refuses invalid bytes
      // rather than turning them into U+FFFD (issue #18 item 3).
      raw = event.isBase64Encoded ? UTF8.decode(Buffer.from(event.body, 'base64')) : event.body;
    } catch {
      throw new DomainError('invalid_request', 'the body is not valid UTF-8', '(body)');
    }
    if (Buffer.byteLength(raw) > LIMITS.maxBodyBytes) {
      throw new DomainError('payload_too_large', `the request body is larger than ${LIMITS.maxBodyBytes} bytes`, '(body)');
    }
    const type = event.headers?.['content-type'] ?? event.headers?.['Content-Type'] ?? 'application/json';
    if (!/^application\/(.+\+)?json\b/i.test(type)) {
      throw new DomainError('invalid_request', `content-type must be application/json, got ${type}`, '(body)');
    }
    try {
      event.parsedBody = JSON.parse(raw);
    } catch (err) {
      throw new DomainError('invalid_request', `the body is not valid JSON: ${(err as Error).message}`, '(body)');
    }
  },
});

/** The route whose refusals are also counted as refused reports (METRIC.reportsRefused). */
const REPORTS_ROUTE = 'POST /providers/{providerId}/reports';

/**
 * Maps errors to problem responses, counts them and logs them. A refusal is logged at INFO with its
 * code, status and field only: its message may quote the input (a JSON parse error quotes the body),
 * and no header, body or message is ever logged. Unknown errors are logged with their stack and hidden.
 */
const problemErrors = (): middy.MiddlewareObj<ApiEvent, APIGatewayProxyStructuredResultV2> => ({
  onError: (request) => {
    const err = request.error;
    const routeKey = request.event.routeKey;
    const apiRequestId = request.event.requestContext?.requestId;
    if (err instanceof DomainError) {
      const status = STATUS[err.code];
      count(METRIC.rejections, { code: err.code });
      if (routeKey === REPORTS_ROUTE) count(METRIC.reportsRefused, { code: err.code });
      logger.info('request refused', { routeKey, apiRequestId, status, code: err.code, field: err.field });
      // A refusal that may succeed later says when to try again (429/503 with Retry-After).
      const retryAfter = typeof err.details?.retryAfterS === 'number' ? { 'retry-after': String(err.details.retryAfterS) } : undefined;
      request.response = toResponse(json(status, { error: { code: err.code, message: err.message, field: err.field, ...err.details } }, retryAfter));
      return;
    }
    const requestId = request.context?.awsRequestId ?? apiRequestId;
    count(METRIC.serverErrors);
    logger.error('unhandled error', { routeKey, apiRequestId, error: err as Error });
    request.response = toResponse(json(500, { error: { code: 'internal', message: 'internal error; quote the request id when reporting it', requestId } }));
  },
});

function toResponse(result: HttpResult): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: result.status,
    headers: { ...JSON_HEADERS, ...result.headers },
    body: result.body === undefined ? '' : JSON.stringify(result.body),
  };
}

/**
 * The routes an invoke key may call: those the contract's route table opens to one (`auth:
 * 'user-or-key'`: invoke its function, presign an input upload for it, read a job it created).
 * Every other route refuses a key with 403.
 */
const INVOKE_KEY_ROUTES = new Set(Object.entries(OPERATIONS as Record<string, Operation>).filter(([, op]) => op.auth === 'user-or-key').map(([key]) => key));
const INVOKE_KEY_BEARER = /^Bearer\s+ik_/i;

/** Builds a Lambda handler that routes on `event.routeKey` (e.g. `POST /functions`). */
export function httpApi(routes: Record<string, Route>) {
  return middy<ApiEvent, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(withLambdaContext())
    .use(jsonBodyParser())
    .use(problemErrors())
    .handler(async (event, context) => {
      const route = routes[event.routeKey];
      if (!route) throw new DomainError('not_found', `no route ${event.routeKey}`);
      const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v ?? '']));
      // One rule for every route (issue #18 item 4): an invoke key, as x-api-key or as a bearer
      // token, is refused with 403 wherever it may not be used, before the route looks at anything.
      const offersKey = headers['x-api-key'] !== undefined || INVOKE_KEY_BEARER.test(headers.authorization ?? '');
      if (offersKey && !INVOKE_KEY_ROUTES.has(event.routeKey)) throw invokeKeyRefused();
      const result = await route({
        event,
        body: event.parsedBody,
        params: (event.pathParameters ?? {}) as Record<string, string>,
        query: (event.queryStringParameters ?? {}) as Record<string, string>,
        header: (name) => headers[name.toLowerCase()],
        remainingMs: () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY,
      });
      return toResponse(result);
    });
}
