import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, resolve, sep } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
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

function problem(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify({ error: { code, message } }));
}

/**
 * API Gateway's own payload limit (HTTP APIs: 10 MB), enforced here as it is there, before any
 * Lambda runs. Bodies between the handlers' limit (LIMITS.maxBodyBytes, 1 MiB) and this one reach
 * the handler, whose body parser answers 413 naming `(body)`, as in AWS.
 */
export const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > API_GATEWAY_MAX_BODY_BYTES) return 'too-large';
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
    // As API Gateway does with a payload that is not text: a body that is not valid UTF-8 is passed
    // base64-encoded, for the edge to refuse (never silently repaired into U+FFFD).
    ...(body.length === 0 ? { body: undefined, isBase64Encoded: false } : isUtf8(body) ? { body: body.toString('utf8'), isBase64Encoded: false } : { body: body.toString('base64'), isBase64Encoded: true }),
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

/** The Lambda context a local invocation gets (its request id is the API request's, or a fresh one for the timers). */
export function lambdaContext(name: string, requestId: string): Context {
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

export interface ApiServerOptions {
  /**
   * The web portal's built files (`portal/dist`), served for GET/HEAD on paths no API route
   * matches: `/` and `/portal/` answer index.html, `/config.json` tells the app this server's URL.
   * @default - no portal
   */
  portalDir?: string;
  /** The local platform's image registry (`host:port`), named in `/config.json` for `chainfaas up`. @default - none named */
  registry?: string;
  /** The example images pushed to that registry (name → digest-pinned reference), offered on the portal's empty Functions page. @default - none */
  examples?: () => Record<string, string>;
}

/** Starts the API on 127.0.0.1:`port`; `handlers` maps each manifest handler name to its module's handler. */
export function startApiServer(port: number, handlers: Record<HandlerName, LambdaHandler | undefined>, options: ApiServerOptions = {}): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      const candidates = compiled.filter((r) => r.pattern.test(url.pathname));
      if (candidates.length === 0 && options.portalDir && servePortal(req, res, url, options.portalDir, options.registry, options.examples?.())) return;
      if (candidates.length === 0) return problem(res, 404, 'not_found', `no route for ${url.pathname}`);
      const route = candidates.find((r) => r.method === req.method);
      if (!route) {
        // RFC 9110 §15.5.6: a 405 lists the methods the resource supports in Allow.
        const allow = [...new Set(candidates.map((r) => r.method))].join(', ');
        return problem(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}; allowed: ${allow}`, { allow });
      }
      const match = route.pattern.exec(url.pathname) as RegExpExecArray;
      let params: Record<string, string>;
      try {
        params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(match[i + 1] ?? '')]));
      } catch {
        return problem(res, 400, 'invalid_request', `the path ${url.pathname} is not valid percent-encoding`);
      }
      const body = await readBody(req);
      if (body === 'too-large') {
        // The rest of the body is never read: the connection cannot carry another request.
        res.setHeader('connection', 'close');
        return problem(res, 413, 'payload_too_large', `the request body is larger than API Gateway's limit of ${API_GATEWAY_MAX_BODY_BYTES} bytes`);
      }
      const handler = handlers[route.handler];
      if (!handler) return problem(res, 501, 'not_implemented', `handler ${route.handler} is not loaded`);
      const event = buildEvent(req, url, route, params, body);
      const result = await handler(event, lambdaContext(route.handler, event.requestContext.requestId));
      res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
      res.end(result.body ?? '');
    } catch (err) {
      // Loaded here, not at the top: the controller's modules read their environment when first loaded, after startPlatform set it.
      const { logger } = await import('../lambdas/adapters/observability');
      logger.error('local API server error', { error: err as Error });
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

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The portal's security headers, as PortalSite's CloudFront policy sets them (lib/constructs/
 * portal-site.ts), with one local difference: connect-src also allows http://127.0.0.1:* (the
 * local results bucket). So a script or style the portal could not load in AWS fails here too.
 */
const PORTAL_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self' https: http://127.0.0.1:*; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
};

/**
 * Serves a file of the portal for a path no API route matches; answers false when the path is
 * not the portal's (the caller then gives the API's 404 problem). Files never leave `dir`.
 */
function servePortal(req: IncomingMessage, res: ServerResponse, url: URL, dir: string, registry?: string, examples?: Record<string, string>): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (url.pathname === '/config.json') {
    const body = JSON.stringify({
      apiUrl: `http://${req.headers.host ?? '127.0.0.1'}`,
      ...(registry ? { registry } : {}),
      ...(examples && Object.keys(examples).length ? { examples } : {}),
    });
    res.writeHead(200, { 'content-type': CONTENT_TYPES['.json'] as string, 'cache-control': 'no-store', ...PORTAL_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
  let rel = url.pathname.startsWith('/portal/') ? url.pathname.slice('/portal'.length) : url.pathname === '/portal' ? '/' : url.pathname;
  if (rel === '/') rel = '/index.html';
  let file: string;
  try {
    file = resolve(dir, `.${decodeURIComponent(rel)}`);
  } catch {
    return false;
  }
  const root = resolve(dir);
  if (file !== root && !file.startsWith(root + sep)) return false;
  if (!existsSync(file) || !statSync(file).isFile()) return false;
  const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
  const body = readFileSync(file);
  res.writeHead(200, { 'content-type': type, 'content-length': String(body.length), 'cache-control': 'no-cache', ...PORTAL_HEADERS });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
