import { createServer, IncomingMessage, request as httpRequest } from 'node:http';

/**
 * Counts what goes over the wire to a service: an HTTP proxy in front of an emulator (or of the
 * local API server) that forwards each request untouched but for one thing (below) and records
 * one `Exchange` per request. bench/cost.ts puts one in front of DynamoDB Local, the SQS and S3
 * endpoints of fauxqs and the API, so every party's requests are counted where they happen: the
 * handlers' SDK clients, the agents' SQS client and their presigned PUTs, the developer's client.
 *
 * DynamoDB: each JSON request is sent with `ReturnConsumedCapacity: INDEXES` (DynamoDB Local checks
 * no signature) and the answer's consumed read and write units are recorded, as the real service
 * would bill them (transactions at twice the units per item — DynamoDB Local counts a transaction's
 * items of one table as one, corrected here —, strongly consistent reads at one per 4 KB),
 * in all and by table and index (`unitsBy`: `jobs`, `jobs/leases`…), so a benchmark can say where
 * the units go.
 */
export type WiredService = 'dynamodb' | 'sqs' | 's3' | 'api';

export interface Exchange {
  service: WiredService;
  /** DynamoDB / SQS: the operation (X-Amz-Target); S3: the method; API: `METHOD /path`. */
  operation: string;
  status: number;
  ms: number;
  readUnits?: number;
  writeUnits?: number;
  /** DynamoDB: the units by table (`<table>`) and index (`<table>/<index>`), reads and writes together. */
  unitsBy?: Record<string, number>;
  /** DynamoDB: the table (and index) the request names, `jobs/waiting`; several for batches and transactions. */
  on?: string;
}

export interface WireCounter {
  readonly exchanges: Exchange[];
  /** A proxy for `service` in front of `target`; returns its endpoint. */
  wrap(service: WiredService, target: string): Promise<string>;
  stop(): Promise<void>;
}

type Capacity = {
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
  CapacityUnits?: number;
  TableName?: string;
  Table?: { CapacityUnits?: number };
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
  LocalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
};

const WRITE_OPS = /PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems/;

/** A table's name without its stage's prefix (`local-jobs` → `jobs`): the last part names it. */
const shortName = (name: string): string => name.split('-').pop() ?? name;

/** How many items of a transaction name each table (its full names: `units` matches them against the answer's). */
function transactItemsByTable(json: Record<string, unknown>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of (json.TransactItems as Record<string, { TableName?: string }>[] | undefined) ?? [])
    for (const part of Object.values(item)) if (part?.TableName) counts[part.TableName] = (counts[part.TableName] ?? 0) + 1;
  return counts;
}

/**
 * The units of one DynamoDB answer. `itemsByTable`: for a transaction, how many of its items name
 * each table. DynamoDB Local reports a transaction's units per table once per *set of indexes its
 * items write* (checked against DynamoDB Local 3.x: two small items that both write an index: table
 * 2, index 2; one that writes none and one that writes it: table 4, index 2), where the service
 * bills two units per item and KB in the table and in each index the item is written to. So with
 * `groups` such sets (the reported table units over 2, for small items) each group stands for
 * items ÷ groups items in the table, and an index is counted once per item when all items share
 * one set, once otherwise (the controller's transactions with mixed sets have one item per index:
 * an account update beside a hold, an idempotency record beside a job). Items of unequal size make
 * this an estimate; the floor of 2 per item is exact.
 */
function units(operation: string, body: string, itemsByTable: Record<string, number> = {}): { readUnits: number; writeUnits: number; unitsBy: Record<string, number> } {
  let parsed: { ConsumedCapacity?: Capacity | Capacity[] } = {};
  const unitsBy: Record<string, number> = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return { readUnits: 0, writeUnits: 0, unitsBy };
  }
  const list = parsed.ConsumedCapacity === undefined ? [] : Array.isArray(parsed.ConsumedCapacity) ? parsed.ConsumedCapacity : [parsed.ConsumedCapacity];
  let readUnits = 0;
  let writeUnits = 0;
  for (const c of list) {
    const table = shortName(c.TableName ?? '?');
    const items = itemsByTable[c.TableName ?? ''] ?? 1;
    const reportedTable = c.Table?.CapacityUnits ?? c.CapacityUnits ?? 0;
    const groups = Math.min(items, Math.max(1, Math.round(reportedTable / 2)));
    const tableTimes = items / groups;
    const indexTimes = groups === 1 ? items : 1;
    let total = 0;
    const add = (key: string, n = 0, times = tableTimes) => {
      unitsBy[key] = (unitsBy[key] ?? 0) + n * times;
      total += n * times;
    };
    if (c.Table) add(table, c.Table.CapacityUnits);
    for (const [index, used] of Object.entries({ ...c.GlobalSecondaryIndexes, ...c.LocalSecondaryIndexes })) add(`${table}/${index}`, used.CapacityUnits, indexTimes);
    if (!c.Table && c.CapacityUnits) add(table, c.CapacityUnits);
    if (c.ReadCapacityUnits !== undefined || c.WriteCapacityUnits !== undefined) {
      readUnits += (c.ReadCapacityUnits ?? 0) * tableTimes;
      writeUnits += (c.WriteCapacityUnits ?? 0) * tableTimes;
    } else if (WRITE_OPS.test(operation)) writeUnits += total;
    else readUnits += total;
  }
  return { readUnits, writeUnits, unitsBy };
}

/** The tables (and index) a DynamoDB request names, short names (`local-jobs` → `jobs`), sorted and joined by `+`. */
function tablesOf(json: Record<string, unknown>): string | undefined {
  if (typeof json.TableName === 'string') return shortName(json.TableName) + (typeof json.IndexName === 'string' ? `/${json.IndexName}` : '');
  const names = new Set([...Object.keys((json.RequestItems as object | undefined) ?? {}), ...Object.keys(transactItemsByTable(json))].map(shortName));
  return names.size ? [...names].sort().join('+') : undefined;
}

function read(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export function wireCounter(): WireCounter {
  const exchanges: Exchange[] = [];
  const stops: Array<() => Promise<void>> = [];
  return {
    exchanges,
    async stop() {
      for (const stop of stops.splice(0)) await stop();
    },
    wrap(service, target) {
      const upstream = new URL(target);
      const server = createServer(async (req, res) => {
        const t0 = performance.now();
        try {
          let body = await read(req);
          const target = String(req.headers['x-amz-target'] ?? '');
          const operation =
            service === 'api'
              ? `${req.method} ${(req.url ?? '').split('?')[0]}`
              : target
                ? (target.split('.').pop() ?? target)
                : service === 'sqs'
                  ? 'query'
                  : String(req.method);
          const headers = { ...req.headers };
          let on: string | undefined;
          let itemsByTable: Record<string, number> = {};
          if (service === 'dynamodb' && body.length) {
            const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
            on = tablesOf(json);
            if (/^Transact/.test(operation)) itemsByTable = transactItemsByTable(json);
            if (!/ListTables|DescribeTable|CreateTable|DeleteTable|UpdateTimeToLive|DescribeTimeToLive/.test(operation)) json.ReturnConsumedCapacity = 'INDEXES';
            body = Buffer.from(JSON.stringify(json));
            headers['content-length'] = String(body.length);
          }
          const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, async (answer) => {
            const answerBody = await read(answer);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(answerBody);
            exchanges.push({
              service,
              operation,
              status: answer.statusCode ?? 0,
              ms: performance.now() - t0,
              ...(service === 'dynamodb' ? { ...units(operation, answerBody.toString('utf8'), itemsByTable), on } : {}),
            });
          });
          forward.on('error', (err) => {
            if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
            res.end(`upstream unreachable: ${err.message}`);
          });
          forward.end(body);
        } catch (err) {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`wire counter: ${(err as Error).message}`);
        }
      });
      // Long polls (SQS WaitTimeSeconds, the sync wait) must not be cut by the server's timeouts.
      server.requestTimeout = 0;
      server.headersTimeout = 60_000;
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const address = server.address();
          const port = typeof address === 'object' && address ? address.port : 0;
          stops.push(
            () =>
              new Promise<void>((done) => {
                server.close(() => done());
                server.closeAllConnections();
              }),
          );
          resolve(`http://127.0.0.1:${port}`);
        });
      });
    },
  };
}
