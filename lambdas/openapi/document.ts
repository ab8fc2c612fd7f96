import { LIMITS, MAX_UPLOADED_INPUT_BYTES, ROLES } from '../core/schemas';

/**
 * The OpenAPI 3.1 document of the controller's HTTP API, served at `GET /openapi.json`.
 *
 * Hand-written JSON Schema (OpenAPI 3.1 uses JSON Schema 2020-12), checked by tests rather than
 * generated: test/controller/openapi.test.ts asserts that its operations are exactly the
 * manifest's routes, and the end-to-end tests validate the bodies of real responses against the
 * schemas here (lambdas/openapi/validate.ts). Request schemas mirror lambdas/core/schemas.ts.
 */

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const int = (extra: Schema = {}): Schema => ({ type: 'integer', ...extra });
const num = (extra: Schema = {}): Schema => ({ type: 'number', ...extra });
const bool: Schema = { type: 'boolean' };
const dateTime = str({ format: 'date-time' });
const obj = (properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
  ...extra,
});
/** An object whose listed properties are checked and whose others are allowed (shapes owned by other modules that grow). */
const open = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: 'object', properties, required, additionalProperties: true });
const list = (items: Schema): Schema => obj({ items: { type: 'array', items } }, ['items']);

const JOB_STATUS = ['QUEUED', 'ASSIGNED', 'SUCCEEDED', 'FAILED', 'CANCELLED'];

const schemas: Record<string, Schema> = {
  Problem: obj(
    {
      error: open(
        {
          code: str({
            enum: [
              'invalid_request',
              'unauthenticated',
              'forbidden',
              'not_found',
              'conflict',
              'insufficient_funds',
              'no_capacity',
              'payload_too_large',
              'unavailable',
              'too_many_requests',
              'method_not_allowed',
              'internal',
            ],
          }),
          message: str({ minLength: 1 }),
          field: str({ description: 'the request field the problem is about, as a dotted path' }),
        },
        ['code', 'message'],
      ),
    },
    ['error'],
  ),
  User: obj({ userId: str(), email: str(), roles: { type: 'array', items: str({ enum: [...ROLES] }) }, createdAt: dateTime }, [
    'userId',
    'email',
    'roles',
    'createdAt',
  ]),
  RegisterRequest: obj(
    {
      email: str({ format: 'email', maxLength: 254 }),
      password: str({ minLength: 10, maxLength: 200 }),
      roles: { type: 'array', items: str({ enum: [...ROLES] }), minItems: 1, maxItems: 3 },
    },
    ['email', 'password', 'roles'],
  ),
  Registration: obj({ user: ref('User'), token: str({ description: 'API token (cf_…), shown once' }), tokenId: str() }, ['user', 'token', 'tokenId']),
  LoginRequest: obj({ email: str({ format: 'email' }), password: str({ minLength: 1 }) }, ['email', 'password']),
  Session: obj({ token: str(), userId: str() }, ['token', 'userId']),
  PublicKey: obj({ publicKey: str(), keyId: str(), algorithm: str({ const: 'Ed25519' }) }, ['publicKey', 'keyId', 'algorithm']),
  CredentialRequest: obj({ name: str({ maxLength: 64 }), expiresInS: int({ minimum: 60, maximum: 5 * 365 * 24 * 3600 }) }),
  Credential: obj(
    {
      tokenId: str(),
      kind: str({ enum: ['api', 'invoke'] }),
      name: str(),
      functionId: str(),
      hint: str({ description: "the secret's prefix and last four characters" }),
      createdAt: dateTime,
      expiresAt: dateTime,
      expired: bool,
    },
    ['tokenId', 'kind', 'hint', 'createdAt', 'expiresAt', 'expired'],
  ),
  Resources: obj(
    {
      vcpu: num({ exclusiveMinimum: 0, maximum: LIMITS.maxVcpu }),
      memoryMb: int({ minimum: 16, maximum: LIMITS.maxMemoryMb }),
      timeoutS: int({ minimum: 1, maximum: LIMITS.maxTimeoutS }),
    },
    ['vcpu', 'memoryMb', 'timeoutS'],
  ),
  FunctionDefinition: obj(
    {
      name: str({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
      image: str({ description: 'image reference pinned by digest: registry/repo@sha256:<64 hex>', pattern: '@sha256:[a-f0-9]{64}$' }),
      resources: ref('Resources'),
      protocol: str({ enum: ['stdio', 'http'], default: 'stdio' }),
      mode: str({ enum: ['sync', 'async'], default: 'sync' }),
      network: str({ enum: ['none', 'egress'], default: 'none' }),
      maxPrice: int({ minimum: 1, description: 'highest price of one job, micro-credits' }),
      env: { type: 'object', additionalProperties: str({ maxLength: 4096 }), maxProperties: LIMITS.maxEnvVars },
      resultBucket: str(),
      resultRoleArn: str(),
    },
    ['name', 'image', 'resources'],
  ),
  Function: obj(
    {
      functionId: str(),
      ownerId: str(),
      name: str(),
      version: int({ minimum: 1 }),
      image: str(),
      resources: ref('Resources'),
      protocol: str({ enum: ['stdio', 'http'] }),
      mode: str({ enum: ['sync', 'async'] }),
      network: str({ enum: ['none', 'egress'] }),
      maxPrice: int(),
      env: { type: 'object', additionalProperties: str() },
      resultBucket: str(),
      resultRoleArn: str(),
      deletedAt: dateTime,
      createdAt: dateTime,
      updatedAt: dateTime,
    },
    ['functionId', 'ownerId', 'name', 'version', 'image', 'resources', 'protocol', 'mode', 'network', 'env', 'createdAt', 'updatedAt'],
  ),
  InvokeRequest: obj({
    input: { description: 'stdin of the function: a string as UTF-8, anything else as its JSON' },
    inputBase64: str({ description: `at most ${LIMITS.maxInlineInputBytes} bytes once decoded` }),
    inputUpload: str({ description: 'uploadId from POST /functions/{functionId}/inputs' }),
    mode: str({ enum: ['sync', 'async'] }),
    waitS: int({ minimum: 0, maximum: 60 }),
    callbackUrl: str({ format: 'uri', maxLength: 2048, description: 'https; the signed job view is POSTed here when the job ends' }),
  }),
  InputUploadRequest: obj({ size: int({ minimum: 1, maximum: MAX_UPLOADED_INPUT_BYTES }) }, ['size']),
  InputUpload: obj(
    {
      uploadId: str(),
      uploadUrl: str({ format: 'uri' }),
      method: str({ const: 'PUT' }),
      size: int(),
      headers: { type: 'object', additionalProperties: str() },
      expiresAt: dateTime,
    },
    ['uploadId', 'uploadUrl', 'method', 'size', 'expiresAt'],
  ),
  JobSummary: obj(
    {
      jobId: str(),
      functionId: str(),
      functionVersion: int({ minimum: 1 }),
      status: str({ enum: JOB_STATUS }),
      attempt: int({ minimum: 1 }),
      providerId: str(),
      timings: obj({ createdAt: dateTime, queuedAt: dateTime, assignedAt: dateTime, startedAt: dateTime, finishedAt: dateTime, cancelledAt: dateTime }, [
        'createdAt',
        'queuedAt',
      ]),
      runtimeMs: int({ minimum: 0 }),
      cost: int({ minimum: 0, description: 'micro-credits, once the ledger settled the job' }),
      paid: bool,
      exitCode: { type: ['integer', 'null'] },
      reason: str(),
      input: obj({ kind: str({ enum: ['inline', 'upload'] }), size: int({ minimum: 0 }) }, ['kind']),
      result: obj({ sha256: str(), size: int({ minimum: 0 }) }, ['size']),
      invokeKeyId: str(),
      callback: obj(
        { url: str(), status: str({ enum: ['pending', 'delivered', 'failed'] }), attempts: int({ minimum: 0 }), deliveredAt: dateTime, error: str() },
        ['url', 'status', 'attempts'],
      ),
    },
    ['jobId', 'functionId', 'functionVersion', 'status', 'attempt', 'timings', 'input'],
  ),
  JobPage: obj({ items: { type: 'array', items: ref('JobSummary') }, next: str({ description: 'cursor of the next page; absent on the last' }) }, ['items']),
  JobLedger: obj({ jobId: str(), onLedger: bool, record: open({ jobId: str() }, ['jobId']), history: { type: 'array', items: open({}) } }, [
    'jobId',
    'onLedger',
    'history',
  ]),
  CallbackBody: obj(
    { event: str({ const: 'job.finished' }), sentAt: dateTime, attempt: int({ minimum: 1 }), job: ref('Job') },
    ['event', 'sentAt', 'attempt', 'job'],
    {
      description:
        'What a callback POSTs. Headers: x-chainfaas-signature (base64 Ed25519 over the exact body, key from GET /controller/public-key), x-chainfaas-key-id, x-chainfaas-event, x-chainfaas-delivery.',
    },
  ),
  ProviderRegistration: open(
    { providerId: str(), queueUrl: str(), controllerPublicKey: str(), controllerKeyId: str(), heartbeatIntervalS: int(), region: str() },
    ['providerId', 'queueUrl', 'controllerPublicKey', 'controllerKeyId', 'heartbeatIntervalS'],
  ),
  Heartbeat: open({ ok: bool, drain: bool }, ['ok', 'drain']),
  ReportOutcome: open({ jobId: str(), status: str({ enum: JOB_STATUS }), duplicate: bool }, ['jobId', 'status']),
  ProviderCredentials: open({ providerId: str(), queueUrl: str() }, ['providerId', 'queueUrl']),
  DeadLetters: open({}),
  Redrive: open({}),
  Account: open(
    { accountId: str(), balance: int(), unit: str(), available: int(), held: int(), terms: str({ enum: ['prepaid', 'invoice'] }), creditLimit: int(), owed: int() },
    ['accountId', 'balance'],
  ),
  AccountHistory: open({ accountId: str(), items: { type: 'array' } }, ['accountId', 'items']),
  Reconciliation: open({ accountId: str(), differences: { type: 'array' } }, ['accountId', 'differences']),
  LedgerVerification: open({ mode: str(), ok: bool }, ['mode']),
  TopUpRequest: open({ amount: int({ minimum: 1 }), reference: str() }, ['amount', 'reference']),
  TopUp: open({ accountId: str(), reference: str(), amount: int(), status: str(), replayed: bool }, ['accountId', 'reference', 'amount', 'status']),
  Bills: open({ accountId: str(), items: { type: 'array' } }, ['accountId', 'items']),
  Bill: open(
    {
      accountId: str(),
      month: str(),
      status: str({ enum: ['open', 'closed', 'due', 'paid'] }),
      terms: str({ enum: ['prepaid', 'invoice'] }),
      payable: bool,
      lines: { type: 'array' },
      total: int(),
      invoiced: int(),
      amountPaid: int(),
      amountDue: int(),
    },
    ['month', 'lines', 'total'],
  ),
  BillReceipt: open(
    { accountId: str(), month: str(), amount: int(), reference: str(), status: str({ enum: ['pending', 'paid'] }), replayed: bool },
    ['accountId', 'month', 'amount', 'reference', 'status'],
  ),
  TermsRequest: open({ terms: str({ enum: ['prepaid', 'invoice'] }), creditLimit: int({ minimum: 0 }) }, ['terms']),
  Terms: open({ accountId: str(), terms: str({ enum: ['prepaid', 'invoice'] }), creditLimit: int(), status: str() }, ['accountId', 'terms', 'creditLimit', 'status']),
  PricesRequest: open({ version: int({ minimum: 1 }), vcpuMs: int({ minimum: 0 }), mbMs: int({ minimum: 0 }) }, ['vcpuMs', 'mbMs']),
  PublishedPrices: open({ version: int(), vcpuMs: int(), mbMs: int() }, ['version', 'vcpuMs', 'mbMs']),
  Prices: open({ current: ref('PublishedPrices'), published: { type: 'array' } }, ['current', 'published']),
  Earnings: open({ providerId: str(), by: str(), items: { type: 'array' }, total: int() }, ['providerId', 'items', 'total']),
  ProviderView: obj(
    {
      providerId: str(),
      name: str(),
      state: str({ enum: ['online', 'offline', 'draining'] }),
      online: bool,
      lastHeartbeatAt: str({ format: 'date-time' }),
      silentS: int({ minimum: 0 }),
      onlineWithinS: { type: 'number' },
      capacity: obj({ vcpu: { type: 'number' }, memoryMb: int() }, ['vcpu', 'memoryMb']),
      free: obj({ vcpu: { type: 'number' }, memoryMb: int() }, ['vcpu', 'memoryMb']),
      runningJobs: int({ minimum: 0 }),
      cachedImages: int({ minimum: 0 }),
      warmFunctions: int({ minimum: 0 }),
      draining: bool,
      createdAt: str({ format: 'date-time' }),
    },
    ['providerId', 'name', 'state', 'online', 'lastHeartbeatAt', 'capacity', 'free', 'runningJobs', 'cachedImages'],
  ),
  ProviderList: obj({ items: { type: 'array', items: ref('ProviderView') }, heartbeatStaleS: { type: 'number' } }, ['items']),
  OpenApi: open({ openapi: str(), paths: { type: 'object' } }, ['openapi', 'paths']),
  // Peer operators' peers (lambdas/core/use-cases/peers.ts).
  PeerRequest: obj(
    {
      name: str({ minLength: 1, maxLength: 64 }),
      endpoint: str({ maxLength: 260, description: 'host:port the peer will listen on and advertise (in its TLS certificate)' }),
      signCsr: str({ maxLength: 4096, description: "PEM PKCS#10 request for the peer's signing key (EC P-256); its subject is ignored" }),
      tlsCsr: str({ maxLength: 4096, description: "PEM PKCS#10 request for the peer's TLS key (EC P-256, another key)" }),
    },
    ['name', 'endpoint', 'signCsr', 'tlsCsr'],
  ),
  PeerView: obj(
    {
      peerId: str(),
      name: str(),
      endpoint: str(),
      mspId: str(),
      createdAt: dateTime,
      joinedAt: dateTime,
      revokedAt: dateTime,
      status: str({ enum: ['enrolled', 'joined', 'unreachable', 'revoked'] }),
      ledgerHeight: int({ minimum: 0 }),
      channelHeight: int({ minimum: 0 }),
      statusText: str(),
    },
    ['peerId', 'name', 'endpoint', 'mspId', 'createdAt', 'status', 'statusText'],
  ),
  JoinBundle: obj(
    {
      peerId: str(),
      name: str(),
      endpoint: str(),
      mspId: str(),
      channel: str(),
      orderer: open({ endpoint: str(), hostAlias: str(), tlsCaCertificate: str() }, ['endpoint', 'tlsCaCertificate']),
      gossipBootstrap: open({ endpoint: str(), hostAlias: str() }, ['endpoint']),
      chaincode: obj({ name: str(), label: str(), packageId: str(), address: str() }, ['name', 'label', 'packageId', 'address']),
      caCertificate: str(),
      tlsCaCertificate: str(),
      certificates: obj({ sign: str(), tls: str() }, ['sign', 'tls']),
    },
    ['peerId', 'endpoint', 'mspId', 'channel', 'orderer', 'gossipBootstrap', 'chaincode', 'caCertificate', 'tlsCaCertificate', 'certificates'],
  ),
  PeerEnrolment: obj({ peer: ref('PeerView'), bundle: ref('JoinBundle'), command: str() }, ['peer', 'bundle', 'command']),
  PeerDetail: obj({ peer: ref('PeerView'), bundle: ref('JoinBundle'), command: str(), networkError: str() }, ['peer']),
  PeerList: obj({ items: { type: 'array', items: ref('PeerView') }, networkError: str() }, ['items']),
};
/** `base` with more properties (required ones listed): a new credential is a listed one plus its secret; a job is its summary plus links. */
function extend(base: string, properties: Record<string, Schema>, required: string[] = []): Schema {
  const b = schemas[base] as { properties: Record<string, Schema>; required: string[] };
  return obj({ ...b.properties, ...properties }, [...b.required, ...required]);
}
schemas.NewToken = extend('Credential', { token: str({ description: 'the API token (cf_…), shown once' }) }, ['token']);
schemas.NewInvokeKey = extend('Credential', { key: str({ description: 'the invoke key (ik_…), shown once' }) }, ['key']);
schemas.Job = extend('JobSummary', { resultUrl: str({ format: 'uri', description: 'presigned GET of the result' }), logUrl: str({ format: 'uri' }) });

interface Op {
  summary: string;
  auth?: 'none' | 'user' | 'user-or-key';
  params?: Schema[];
  body?: string;
  /** The body may be left out (every member is optional and an empty request is accepted). */
  bodyOptional?: boolean;
  /** status → schema name, or null for no body */
  ok: Record<number, string | null>;
  /** documented error statuses (each answers a Problem) */
  errors?: number[];
  headers?: Schema[];
  description?: string;
}

const path = (name: string, description = ''): Schema => ({ name, in: 'path', required: true, schema: str({ maxLength: 100 }), description });
const query = (name: string, schema: Schema, description = ''): Schema => ({ name, in: 'query', required: false, schema, description });
const header = (name: string, description: string): Schema => ({ name, in: 'header', required: false, schema: str({ maxLength: 255 }), description });

const ERRORS: Record<number, string> = {
  400: 'Bad input: a wrong type, a missing or unknown field, malformed JSON; `field` names it',
  401: 'Missing, unknown, revoked or expired credentials',
  402: 'Not enough balance',
  403: 'The credentials may not do this (role, invoke key)',
  404: "Unknown id, or another user's (ids are not an oracle)",
  409: 'Conflicts with the current state (idempotency key reused, concurrent update, job no longer QUEUED)',
  413: 'A body or input over its limit',
  429: 'Too many jobs waiting for this developer (Retry-After)',
  503: 'No capacity or a dependency unavailable (Retry-After)',
};

const ops: Record<string, Op> = {
  'POST /users': {
    summary: 'Register with one or more roles; returns an API token once',
    auth: 'none',
    body: 'RegisterRequest',
    ok: { 201: 'Registration' },
    errors: [400, 409, 413],
  },
  'POST /sessions': { summary: 'Log in; returns a session token', auth: 'none', body: 'LoginRequest', ok: { 201: 'Session' }, errors: [400, 401] },
  'GET /me': { summary: 'The caller’s account', ok: { 200: 'User' }, errors: [401, 403] },
  'GET /controller/public-key': { summary: "The controller's Ed25519 public key (envelopes, callbacks)", auth: 'none', ok: { 200: 'PublicKey' } },
  'GET /openapi.json': { summary: 'This document', auth: 'none', ok: { 200: 'OpenApi' } },
  'POST /tokens': { summary: 'A new API token (shown once)', body: 'CredentialRequest', bodyOptional: true, ok: { 201: 'NewToken' }, errors: [400, 401, 403, 409] },
  'GET /tokens': { summary: "The caller's API tokens (never the secrets)", ok: { 200: 'CredentialList' }, errors: [401, 403] },
  'DELETE /tokens/{tokenId}': { summary: 'Revoke an API token', params: [path('tokenId')], ok: { 204: null }, errors: [401, 403, 404] },
  'POST /functions': {
    summary: 'Register a function (image pinned by digest)',
    body: 'FunctionDefinition',
    ok: { 201: 'Function' },
    errors: [400, 401, 403, 413],
  },
  'GET /functions': { summary: "The caller's functions, newest first (deleted ones omitted)", ok: { 200: 'FunctionList' }, errors: [401, 403] },
  'GET /functions/{functionId}': {
    summary: 'A function, or one of its versions',
    params: [path('functionId'), query('version', int({ minimum: 1 }), 'a past version')],
    ok: { 200: 'Function' },
    errors: [400, 401, 403, 404],
  },
  'PUT /functions/{functionId}': {
    summary: 'Replace the definition: writes version n+1; running and queued jobs keep their version',
    params: [path('functionId')],
    body: 'FunctionDefinition',
    ok: { 200: 'Function' },
    errors: [400, 401, 403, 404, 409, 413],
  },
  'DELETE /functions/{functionId}': {
    summary: 'Delete: no new invocations (404 with deleted: true); the record, versions and jobs stay readable',
    params: [path('functionId')],
    ok: { 204: null },
    errors: [401, 403, 404],
  },
  'POST /functions/{functionId}/keys': {
    summary: 'A new invoke key for this function (shown once)',
    params: [path('functionId')],
    body: 'CredentialRequest',
    bodyOptional: true,
    ok: { 201: 'NewInvokeKey' },
    errors: [400, 401, 403, 404, 409],
  },
  'GET /functions/{functionId}/keys': {
    summary: "The function's invoke keys (never the secrets)",
    params: [path('functionId')],
    ok: { 200: 'CredentialList' },
    errors: [401, 403, 404],
  },
  'DELETE /functions/{functionId}/keys/{keyId}': {
    summary: 'Revoke an invoke key',
    params: [path('functionId'), path('keyId')],
    ok: { 204: null },
    errors: [401, 403, 404],
  },
  'POST /functions/{functionId}/inputs': {
    summary: 'Presign the upload of a large input (then invoke with inputUpload)',
    auth: 'user-or-key',
    params: [path('functionId')],
    body: 'InputUploadRequest',
    ok: { 201: 'InputUpload' },
    errors: [400, 401, 403, 404],
  },
  'POST /functions/{functionId}/invocations': {
    summary: 'Invoke: sync waits up to waitS (200 when done), otherwise 202 with Location',
    auth: 'user-or-key',
    params: [path('functionId')],
    headers: [header('idempotency-key', 'the same key and body return the same job; the same key with another body is 409')],
    body: 'InvokeRequest',
    ok: { 200: 'Job', 202: 'Job' },
    errors: [400, 401, 403, 404, 409, 413, 429, 503],
  },
  'GET /jobs': {
    summary: "Search the developer's jobs, newest first",
    params: [
      query('functionId', str()),
      query('status', str(), `one or more of ${JOB_STATUS.join(', ')}, comma-separated`),
      query('from', dateTime, 'created at or after'),
      query('to', dateTime, 'created at or before'),
      query('limit', int({ minimum: 1, maximum: 100, default: 20 })),
      query('cursor', str(), 'the `next` of the previous page'),
    ],
    ok: { 200: 'JobPage' },
    errors: [400, 401, 403],
  },
  'GET /jobs/{jobId}': {
    summary: 'A job: status, timings, provider, run time, cost, result link',
    auth: 'user-or-key',
    params: [path('jobId')],
    ok: { 200: 'Job' },
    errors: [401, 403, 404],
  },
  'POST /jobs/{jobId}/cancel': { summary: 'Cancel a QUEUED job', params: [path('jobId')], ok: { 200: 'Job' }, errors: [401, 403, 404, 409] },
  'GET /jobs/{jobId}/ledger': {
    summary: "The job's monitoring-ledger record and history",
    params: [path('jobId')],
    ok: { 200: 'JobLedger' },
    errors: [401, 403, 404],
  },
  'POST /providers': { summary: 'Register a provider (creates its queue)', ok: { 201: 'ProviderRegistration' }, errors: [400, 401, 403] },
  'PUT /providers/{providerId}/heartbeat': {
    summary: 'Heartbeat: alive, caches, running jobs',
    params: [path('providerId')],
    ok: { 200: 'Heartbeat' },
    errors: [400, 401, 403, 404],
  },
  'POST /providers/{providerId}/reports': {
    summary: 'A signed run-time report',
    params: [path('providerId')],
    ok: { 200: 'ReportOutcome' },
    errors: [400, 401, 403, 404, 409],
  },
  'POST /providers/{providerId}/credentials': {
    summary: "Fresh credentials scoped to the provider's queue",
    params: [path('providerId')],
    ok: { 200: 'ProviderCredentials' },
    errors: [401, 403, 404],
  },
  'GET /operator/dlq': {
    summary: "The provider queues' dead letters (operator)",
    params: [query('max', int({ minimum: 1, maximum: 100 }))],
    ok: { 200: 'DeadLetters' },
    errors: [400, 401, 403],
  },
  'POST /operator/dlq/redrive': { summary: 'Redrive dead letters as fresh attempts (operator)', ok: { 200: 'Redrive' }, errors: [400, 401, 403] },
  'GET /account': { summary: 'Balance (read model) and the ledger’s', ok: { 200: 'Account' }, errors: [401, 403] },
  'GET /account/history': { summary: "The account's ledger history", ok: { 200: 'AccountHistory' }, errors: [401, 403] },
  'GET /account/reconciliation': { summary: 'Read model against the ledger', ok: { 200: 'Reconciliation' }, errors: [401, 403] },
  'GET /ledger/verify': { summary: "Verify the embedded ledger's hash chain", ok: { 200: 'LedgerVerification' }, errors: [401, 403] },
  'POST /account/top-ups': { summary: 'Top up through the payment provider (idempotent per reference)', body: 'TopUpRequest', ok: { 201: 'TopUp', 200: 'TopUp' }, errors: [400, 401, 402, 409, 503] },
  'GET /account/bills': { summary: 'Monthly statements, newest first', ok: { 200: 'Bills' }, errors: [401] },
  'GET /account/bills/{month}': {
    summary: "A month's statement (per function); ?format=csv for CSV",
    params: [path('month'), query('format', str())],
    ok: { 200: 'Bill' },
    errors: [400, 401],
  },
  'POST /account/bills/{month}/pay': {
    summary: "Pay a closed month's bill from the balance (invoice terms only); 202 queued, 200 already paid (same receipt)",
    params: [path('month')],
    ok: { 202: 'BillReceipt', 200: 'BillReceipt' },
    errors: [400, 401, 402, 409],
  },
  'GET /prices': { summary: 'Billing units in force and published versions', ok: { 200: 'Prices' }, errors: [401] },
  'POST /operator/prices': { summary: 'Publish the next billing units version (operator)', body: 'PricesRequest', ok: { 201: 'PublishedPrices' }, errors: [400, 401, 403, 409] },
  'PUT /operator/accounts/{accountId}/terms': {
    summary: "Put a developer's account on prepaid or invoice terms with a credit limit (operator); applied once the ledger commits it",
    params: [path('accountId')],
    body: 'TermsRequest',
    ok: { 202: 'Terms' },
    errors: [400, 401, 403, 404],
  },
  'GET /providers/{providerId}/earnings': {
    summary: "A provider's earnings per day or per function, from the ledger",
    params: [path('providerId'), query('by', str())],
    ok: { 200: 'Earnings' },
    errors: [400, 401, 403, 404],
  },
  'GET /providers': { summary: "The caller's own providers: capacity, free capacity, online state, running jobs", ok: { 200: 'ProviderList' }, errors: [401] },
  'GET /providers/{providerId}': {
    summary: "One of the caller's providers (another user's is 404)",
    params: [path('providerId')],
    ok: { 200: 'ProviderView' },
    errors: [401, 404],
  },
  'POST /peers': {
    summary: "Enrol a peer (peer operators): the organisation's CAs sign the peer's CSRs; the answer is the join bundle and command",
    description: 'Needs a platform on Fabric (LEDGER_MODE=fabric): with the embedded ledger the answer is 409.',
    body: 'PeerRequest',
    ok: { 201: 'PeerEnrolment' },
    errors: [400, 401, 403, 409, 413],
  },
  'GET /peers': { summary: "The caller's peers with their status in the channel (Fabric discovery)", ok: { 200: 'PeerList' }, errors: [401, 403] },
  'GET /peers/{peerId}': {
    summary: "One of the caller's peers: status, and its join bundle unless revoked (another operator's is 404)",
    params: [path('peerId')],
    ok: { 200: 'PeerDetail' },
    errors: [401, 403, 404],
  },
  'DELETE /peers/{peerId}': {
    summary: 'Revoke a peer: the controller stops vouching for it (no CRL in the channel yet)',
    params: [path('peerId')],
    ok: { 200: 'PeerDetail' },
    errors: [401, 403, 404],
  },
};

schemas.CredentialList = list(ref('Credential'));
schemas.FunctionList = list(ref('Function'));

const json = (schema: Schema) => ({ 'application/json': { schema } });

function operation(key: string, op: Op) {
  const responses: Record<string, unknown> = {};
  for (const [status, name] of Object.entries(op.ok)) {
    responses[status] = name === null ? { description: 'No content' } : { description: 'OK', content: json(ref(name)) };
  }
  for (const status of op.errors ?? []) responses[String(status)] = { description: ERRORS[status], content: json(ref('Problem')) };
  responses.default = { description: 'Any other error: a JSON problem', content: json(ref('Problem')) };
  const security = op.auth === 'none' ? [] : op.auth === 'user-or-key' ? [{ bearer: [] }, { invokeKey: [] }] : [{ bearer: [] }];
  return {
    operationId: key.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, ''),
    summary: op.summary,
    security,
    parameters: [...(op.params ?? []), ...(op.headers ?? [])],
    ...(op.body ? { requestBody: { required: !op.bodyOptional, content: json(ref(op.body)) } } : {}),
    responses,
  };
}

const paths: Record<string, Record<string, unknown>> = {};
for (const [key, op] of Object.entries(ops)) {
  const [method, route] = key.split(' ') as [string, string];
  (paths[route] ??= {})[method.toLowerCase()] = operation(key, op);
}

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'ChainFaaS controller API',
    version: '1',
    description:
      'Functions on volunteer computers. Bad input is always a 4xx with a JSON problem body naming the field; an id of another user is answered as unknown (404).',
  },
  servers: [{ url: '/' }],
  components: {
    schemas,
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'API token (cf_…) or session token; an invoke key (ik_…) is also accepted where invokeKey is' },
      invokeKey: {
        type: 'apiKey',
        in: 'header',
        name: 'x-api-key',
        description: 'invoke key (ik_…): may invoke its one function and read the jobs it created',
      },
    },
  },
  paths,
} as const;
