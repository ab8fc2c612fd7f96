import { createServer, IncomingMessage, request as httpRequest } from 'node:http';

/**
 * The results bucket's CORS rule in front of fauxqs, which answers no CORS at all. In AWS the
 * bucket allows GET, PUT and HEAD from the portal's origin (lib/constructs/result-bucket.ts), so
 * the portal reads a job's result and log through their presigned links; locally this proxy adds
 * the same headers (and answers preflights) and forwards everything else to fauxqs untouched.
 * Local mode points its S3 endpoint here; SQS still talks to fauxqs directly.
 */
export function startS3CorsProxy(target: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const upstream = new URL(target);
  const cors = (req: IncomingMessage): Record<string, string> =>
    req.headers.origin
      ? { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'ETag, Content-Length', vary: 'Origin' }
      : {};
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS' && req.headers.origin && req.headers['access-control-request-method']) {
      const method = String(req.headers['access-control-request-method']).toUpperCase();
      if (!['GET', 'PUT', 'HEAD'].includes(method)) {
        res.writeHead(403, { 'content-type': 'text/plain' });
        res.end(`CORSResponse: ${method} is not allowed by the bucket's CORS rule`);
        return;
      }
      res.writeHead(200, {
        ...cors(req),
        'access-control-allow-methods': 'GET, PUT, HEAD',
        'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? '*'),
        'access-control-max-age': '3600',
      });
      res.end();
      return;
    }
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...cors(req) });
        answer.pipe(res);
      },
    );
    forward.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`S3 emulator unreachable: ${err.message}`);
    });
    req.pipe(forward);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolvePromise({
        endpoint: `http://127.0.0.1:${port}`,
        stop: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
