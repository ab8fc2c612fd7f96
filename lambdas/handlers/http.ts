import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DomainError, ErrorCode } from '../core/errors';
import { LIMITS } from '../../contract/src';

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

/** Parses the body as JSON (if any), refusing oversized and malformed bodies with a named 4xx. */
const jsonBodyParser = (): middy.MiddlewareObj<ApiEvent, APIGatewayProxyStructuredResultV2> => ({
  before: (request) => {
    const event = request.event;
    if (event.body === undefined || event.body === null || event.body === '') return;
    const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
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

/** Maps errors to problem responses. Unknown errors are logged (without the request body) and hidden. */
const problemErrors = (): middy.MiddlewareObj<ApiEvent, APIGatewayProxyStructuredResultV2> => ({
  onError: (request) => {
    const err = request.error;
    if (err instanceof DomainError) {
      // A refusal that may succeed later says when to try again (429/503 with Retry-After).
      const retryAfter = typeof err.details?.retryAfterS === 'number' ? { 'retry-after': String(err.details.retryAfterS) } : undefined;
      request.response = toResponse(json(STATUS[err.code], { error: { code: err.code, message: err.message, field: err.field, ...err.details } }, retryAfter));
      return;
    }
    const requestId = request.context?.awsRequestId ?? request.event.requestContext?.requestId;
    console.error(
      JSON.stringify({ level: 'error', msg: 'unhandled error', routeKey: request.event.routeKey, requestId, error: String(err), stack: (err as Error)?.stack }),
    );
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

/** Builds a Lambda handler that routes on `event.routeKey` (e.g. `POST /functions`). */
export function httpApi(routes: Record<string, Route>) {
  return middy<ApiEvent, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(jsonBodyParser())
    .use(problemErrors())
    .handler(async (event) => {
      const route = routes[event.routeKey];
      if (!route) throw new DomainError('not_found', `no route ${event.routeKey}`);
      const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v ?? '']));
      const result = await route({
        event,
        body: event.parsedBody,
        params: (event.pathParameters ?? {}) as Record<string, string>,
        query: (event.queryStringParameters ?? {}) as Record<string, string>,
        header: (name) => headers[name.toLowerCase()],
      });
      return toResponse(result);
    });
}
