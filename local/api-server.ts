import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { LIMITS } from '../lambdas/core/schemas';
import { HandlerName, ROUTES } from '../lambdas/handlers/manifest';

/**
 * The local stand-in for API Gateway: an HTTP server that matches each request against the
 * manifest's routes, builds the same HTTP API (v2) event API Gateway would, and calls the same
 * Lambda handler module. Unknown routes and oversized bodies get the platform's JSON problem body.
 */

export type LambdaHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

interface CompiledRoute {
  method: string;
  routeKey: string;
  handler: HandlerName;
  pattern: RegExp;
  names: string[];
}

const compiled: CompiledRoute[] = ROUTES.map((r) => {
  const names: string[] = [];
  const pattern = new RegExp(
    '^' +
      r.path.replace(/\{([A-Za-z]+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      }) +
      '$',
  );
  return { method: r.method, routeKey: `${r.method} ${r.path}`, handler: r.handler, pattern, names };
});

function problem(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ error: { code, message } }));
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > LIMITS.maxBodyBytes) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function buildEvent(req: IncomingMessage, url: URL, route: CompiledRoute, params: Record<string, string>, body: Buffer): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters: Object.keys(params).length ? params : undefined,
    body: body.length ? body.toString('utf8') : undefined,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: {
        method: route.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
}

function lambdaContext(name: string, requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `local-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/local/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Starts the API on 127.0.0.1:`port`; `handlers` maps each manifest handler name to its module's handler. */
export function startApiServer(port: number, handlers: Record<HandlerName, LambdaHandler | undefined>): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      const candidates = compiled.filter((r) => r.pattern.test(url.pathname));
      if (candidates.length === 0) return problem(res, 404, 'not_found', `no route for ${url.pathname}`);
      const route = candidates.find((r) => r.method === req.method);
      if (!route)
        return problem(
          res,
          405,
          'method_not_allowed',
          `${req.method} is not allowed on ${url.pathname}; allowed: ${candidates.map((r) => r.method).join(', ')}`,
        );
      const match = route.pattern.exec(url.pathname) as RegExpExecArray;
      const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(match[i + 1] ?? '')]));
      const body = await readBody(req);
      if (body === 'too-large') return problem(res, 413, 'payload_too_large', `the request body is larger than ${LIMITS.maxBodyBytes} bytes`);
      const handler = handlers[route.handler];
      if (!handler) return problem(res, 501, 'not_implemented', `handler ${route.handler} is not loaded`);
      const event = buildEvent(req, url, route, params, body);
      const result = await handler(event, lambdaContext(route.handler, event.requestContext.requestId));
      res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
      res.end(result.body ?? '');
    } catch (err) {
      console.error('local API server error', err);
      if (!res.headersSent) problem(res, 500, 'internal', 'internal error');
      else res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      resolve({ server, url: `http://127.0.0.1:${actual}` });
    });
  });
}
