/**
 * The controller's deployment manifest, as plain data with no imports: which Lambda handles which
 * route, and which resources each Lambda may touch. The CDK stack (lib/) builds API routes and
 * least-privilege grants from it; the local platform (local/) routes requests with it. One list,
 * so the two cannot drift.
 */

export type HandlerName = 'accounts' | 'functions' | 'invocations' | 'jobs' | 'providers' | 'ledgerWriter' | 'ledger' | 'reaper' | 'operator' | 'billing' | 'peers';
export type TableName = 'users' | 'tokens' | 'functions' | 'jobs' | 'providers' | 'outbox' | 'balances' | 'peers';
export type Access = 'R' | 'RW';

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** API Gateway HTTP API path syntax, e.g. `/jobs/{jobId}` */
  path: string;
  handler: HandlerName;
  /** false for the routes that create or open a session; everything else needs a bearer token. */
  auth: boolean;
}

export const ROUTES: readonly RouteSpec[] = [
  { method: 'POST', path: '/users', handler: 'accounts', auth: false },
  { method: 'POST', path: '/sessions', handler: 'accounts', auth: false },
  { method: 'GET', path: '/me', handler: 'accounts', auth: true },
  { method: 'GET', path: '/controller/public-key', handler: 'accounts', auth: false },
  { method: 'POST', path: '/functions', handler: 'functions', auth: true },
  { method: 'GET', path: '/functions', handler: 'functions', auth: true },
  { method: 'GET', path: '/functions/{functionId}', handler: 'functions', auth: true },
  { method: 'POST', path: '/functions/{functionId}/invocations', handler: 'invocations', auth: true },
  { method: 'GET', path: '/jobs/{jobId}', handler: 'jobs', auth: true },
  { method: 'GET', path: '/jobs/{jobId}/ledger', handler: 'jobs', auth: true },
  { method: 'PUT', path: '/functions/{functionId}', handler: 'functions', auth: true },
  { method: 'DELETE', path: '/functions/{functionId}', handler: 'functions', auth: true },
  { method: 'POST', path: '/functions/{functionId}/keys', handler: 'functions', auth: true },
  { method: 'GET', path: '/functions/{functionId}/keys', handler: 'functions', auth: true },
  { method: 'DELETE', path: '/functions/{functionId}/keys/{keyId}', handler: 'functions', auth: true },
  { method: 'POST', path: '/functions/{functionId}/inputs', handler: 'invocations', auth: true },
  { method: 'GET', path: '/jobs', handler: 'jobs', auth: true },
  // Cancelling writes the job: the invocations Lambda may, the jobs Lambda only reads.
  { method: 'POST', path: '/jobs/{jobId}/cancel', handler: 'invocations', auth: true },
  { method: 'POST', path: '/tokens', handler: 'accounts', auth: true },
  { method: 'GET', path: '/tokens', handler: 'accounts', auth: true },
  { method: 'DELETE', path: '/tokens/{tokenId}', handler: 'accounts', auth: true },
  { method: 'GET', path: '/openapi.json', handler: 'accounts', auth: false },
  { method: 'POST', path: '/providers', handler: 'providers', auth: true },
  { method: 'PUT', path: '/providers/{providerId}/heartbeat', handler: 'providers', auth: true },
  { method: 'POST', path: '/providers/{providerId}/reports', handler: 'providers', auth: true },
  { method: 'POST', path: '/providers/{providerId}/credentials', handler: 'providers', auth: true },
  // The first operator, without a redeploy (issue #20): the accounts Lambda, which alone reads the claim token.
  { method: 'POST', path: '/operator/claim', handler: 'accounts', auth: true },
  { method: 'GET', path: '/operator/dlq', handler: 'operator', auth: true },
  { method: 'POST', path: '/operator/dlq/redrive', handler: 'operator', auth: true },
  { method: 'GET', path: '/account', handler: 'ledger', auth: true },
  { method: 'GET', path: '/account/history', handler: 'ledger', auth: true },
  { method: 'GET', path: '/account/reconciliation', handler: 'ledger', auth: true },
  { method: 'GET', path: '/ledger/verify', handler: 'ledger', auth: true },
  { method: 'POST', path: '/account/top-ups', handler: 'billing', auth: true },
  // Card top-ups and provider payouts (issue #21, use-cases/payments.ts); the webhook is signed by the payment provider, not a user.
  { method: 'POST', path: '/account/card-top-ups', handler: 'billing', auth: true },
  { method: 'POST', path: '/payments/webhook', handler: 'billing', auth: false },
  { method: 'POST', path: '/account/payouts', handler: 'billing', auth: true },
  { method: 'GET', path: '/account/payouts', handler: 'billing', auth: true },
  { method: 'POST', path: '/account/payouts/onboarding', handler: 'billing', auth: true },
  { method: 'GET', path: '/account/bills', handler: 'billing', auth: true },
  { method: 'GET', path: '/account/bills/{month}', handler: 'billing', auth: true },
  { method: 'POST', path: '/account/bills/{month}/pay', handler: 'billing', auth: true },
  { method: 'GET', path: '/prices', handler: 'billing', auth: true },
  { method: 'POST', path: '/operator/prices', handler: 'billing', auth: true },
  { method: 'GET', path: '/providers/{providerId}/earnings', handler: 'billing', auth: true },
  { method: 'PUT', path: '/operator/accounts/{accountId}/terms', handler: 'billing', auth: true },
  { method: 'GET', path: '/providers', handler: 'providers', auth: true },
  { method: 'GET', path: '/providers/{providerId}', handler: 'providers', auth: true },
  // Removes a provider with its queue and alarm (issue #20); refused while it runs jobs.
  { method: 'DELETE', path: '/providers/{providerId}', handler: 'providers', auth: true },
  // Peer operators' peers in the Fabric network (issue #6): enrolment (CSRs in, certificates out), status, revocation.
  { method: 'POST', path: '/peers', handler: 'peers', auth: true },
  { method: 'GET', path: '/peers', handler: 'peers', auth: true },
  { method: 'GET', path: '/peers/{peerId}', handler: 'peers', auth: true },
  { method: 'DELETE', path: '/peers/{peerId}', handler: 'peers', auth: true },
];

export interface HandlerSpec {
  /** Source file, relative to the repository root. */
  entry: string;
  tables: Partial<Record<TableName, Access>>;
  /** Result bucket: presign PUT/GET (R = read + presign GET, RW = also presign PUT). */
  bucket?: Access;
  /**
   * Provider queues: `send` job envelopes, `manage` (create a provider's queue and mint its
   * credentials), or both (`send+manage`: the providers Lambda places waiting jobs on heartbeats);
   * `send+sweep`: send, and delete the queues of providers whose record is gone (the reaper).
   */
  queues?: 'send' | 'manage' | 'send+manage' | 'send+sweep';
  /**
   * Issue #16: waits for its sync jobs, so it owns a wake queue per sandbox (`<queue prefix>w-*`:
   * create, configure, receive). Every Lambda that sends to provider queues may also send wake-ups
   * there (JOB_WAKE=sqs), and the sweeper deletes them past their age.
   */
  syncWait?: boolean;
  /** The provider queues' dead-letter queue: receive, delete and release messages (operator). */
  deadLetters?: boolean;
  /** May assume developers' `chainfaas-results*` roles to presign into their result buckets. */
  developerBuckets?: boolean;
  /** Not behind the API: run on this EventBridge schedule expression, e.g. `rate(1 minute)`. */
  schedule?: string;
  /**
   * Reads the controller's private signing key. Lambdas without it that still need the public
   * key (accounts, providers) get it from the CONTROLLER_PUBLIC_KEY environment variable.
   */
  signingKey?: boolean;
  /** Talks to the Fabric ledger. */
  ledger?: boolean;
  /** Uses the payment provider (card top-ups, its webhook, payouts): the Stripe secret when one is configured. */
  payments?: boolean;
  /** Reads the one-time operator claim token (ENV.operatorClaim): `POST /operator/claim`. */
  operatorClaim?: boolean;
  /** Signs peer operators' certificates with the Fabric organisation's CA and TLS CA keys (ENV.peerEnrolment). */
  peerEnrolment?: boolean;
}

export const HANDLERS: Record<HandlerName, HandlerSpec> = {
  accounts: { entry: 'lambdas/handlers/accounts.ts', tables: { users: 'RW', tokens: 'RW', outbox: 'RW' }, operatorClaim: true },
  // tokens RW: invoke keys are created and revoked here (POST/DELETE /functions/{id}/keys).
  functions: { entry: 'lambdas/handlers/functions.ts', tables: { tokens: 'RW', users: 'R', functions: 'RW' } },
  invocations: {
    entry: 'lambdas/handlers/invocations.ts',
    tables: { tokens: 'R', users: 'R', functions: 'R', jobs: 'RW', providers: 'RW', outbox: 'RW', balances: 'RW' },
    bucket: 'RW',
    queues: 'send',
    syncWait: true,
    signingKey: true,
    developerBuckets: true,
  },
  jobs: { entry: 'lambdas/handlers/jobs.ts', tables: { tokens: 'R', users: 'R', jobs: 'R' }, bucket: 'R', ledger: true, developerBuckets: true },
  providers: {
    entry: 'lambdas/handlers/providers.ts',
    // Heartbeats and reports free capacity and place waiting jobs: it signs and sends envelopes too.
    tables: { tokens: 'R', users: 'R', providers: 'RW', jobs: 'RW', outbox: 'RW', functions: 'R' },
    bucket: 'RW',
    queues: 'send+manage',
    signingKey: true,
    developerBuckets: true,
  },
  // Leases and waiting deadlines: re-queues jobs of silent providers, fails what waited too long.
  reaper: {
    entry: 'lambdas/handlers/reaper.ts',
    tables: { functions: 'R', jobs: 'RW', providers: 'RW', outbox: 'RW', balances: 'RW' },
    bucket: 'RW',
    queues: 'send+sweep',
    signingKey: true,
    developerBuckets: true,
    schedule: 'rate(1 minute)',
  },
  // The platform operator's routes: the dead-letter queue, listed and redriven as fresh attempts.
  operator: {
    entry: 'lambdas/handlers/operator.ts',
    tables: { tokens: 'R', users: 'R', functions: 'R', jobs: 'RW', providers: 'RW', outbox: 'RW', balances: 'RW' },
    bucket: 'RW',
    queues: 'send',
    deadLetters: true,
    signingKey: true,
    developerBuckets: true,
  },
  // Also sends the payouts the ledger holds pending (payments).
  ledgerWriter: { entry: 'lambdas/handlers/ledger-writer.ts', tables: { outbox: 'RW', balances: 'RW', jobs: 'RW' }, ledger: true, payments: true },
  ledger: { entry: 'lambdas/handlers/ledger.ts', tables: { tokens: 'R', users: 'R', balances: 'R', jobs: 'R' }, ledger: true },
  // Top-ups (payment provider, then a TopUp event), bills, price lists, provider earnings.
  billing: { entry: 'lambdas/handlers/billing.ts', tables: { tokens: 'R', users: 'R', balances: 'RW', jobs: 'R', providers: 'R', outbox: 'RW' }, ledger: true, payments: true },
  // Enrols peer operators' peers with the organisation's CAs (peerEnrolment: the CA keys) and asks the network for their status (ledger).
  peers: { entry: 'lambdas/handlers/peers.ts', tables: { tokens: 'R', users: 'R', peers: 'RW' }, ledger: true, peerEnrolment: true },
};

/**
 * Issue #16: the sync waits' wake queues are named `<provider queue prefix>w-<made>-<random>`
 * (adapters/sqs-wake.ts), beside the provider queues (`<prefix>prv_…`) and their dead-letter queue
 * (`<prefix>dlq`), which never start so.
 */
export const WAKE_QUEUE_INFIX = 'w-';

/**
 * Transactions the ledger writer keeps in flight unless configured otherwise (`LEDGER_WRITER_LANES`,
 * the stack's `ledgerWriterLanes`): on the local Fabric network 8 lanes settled 458–510 jobs/s where
 * one settled 197 (bench/README.md, issue #17); the local network's orderer cuts a block at as many
 * transactions (chaincode/network/lib.sh, FABRIC_MAX_MESSAGE_COUNT).
 */
export const LEDGER_WRITER_LANES_DEFAULT = 8;

/**
 * Environment variables the handlers read, every one: lambdas/ names none but through this list.
 * The CDK binders and local/ set exactly these (`aws` excepted: see there).
 */
export const ENV = {
  tables: {
    users: 'USERS_TABLE',
    tokens: 'TOKENS_TABLE',
    functions: 'FUNCTIONS_TABLE',
    jobs: 'JOBS_TABLE',
    providers: 'PROVIDERS_TABLE',
    outbox: 'OUTBOX_TABLE',
    balances: 'BALANCES_TABLE',
    peers: 'PEERS_TABLE',
  } satisfies Record<TableName, string>,
  bucket: 'RESULTS_BUCKET',
  queuePrefix: 'PROVIDER_QUEUE_PREFIX',
  /** Tags every provider queue carries besides `chainfaas:provider`: a JSON object (the stack's own tags). */
  queueTags: 'PROVIDER_QUEUE_TAGS',
  /**
   * AWS: SNS topic of the alarm each provider queue gets on the age of its oldest message, and that
   * age in seconds (`<arn>,<seconds>`); unset locally: no alarms.
   */
  queueAgeAlarm: 'PROVIDER_QUEUE_AGE_ALARM',
  /** AWS: the role providers' queue-scoped credentials are minted from (unset locally: no STS). */
  providerRoleArn: 'PROVIDER_ROLE_ARN',
  /** Comma-separated user ids of the platform operator's accounts (the `/operator` routes). */
  operatorUserIds: 'OPERATOR_USER_IDS',
  /**
   * The one-time operator claim token (`POST /operator/claim`): AWS, the ARN of the secret the
   * stack generated it in; local mode, a file holding it. Unset: no claim is possible.
   */
  operatorClaim: { secretArn: 'OPERATOR_CLAIM_SECRET_ARN', file: 'OPERATOR_CLAIM_FILE' },
  /**
   * `on`/`off`: invocations hold their worst-case cost on the developer's available balance
   * (use-cases/billing.ts). Default: on in Lambda and wherever LEDGER_MODE is set (the balances
   * read model follows a ledger); off in a controller without a ledger.
   */
  balanceHolds: 'BALANCE_HOLDS',
  /** Issue #19: consecutive agreed results before a provider takes unreplicated jobs (probation); default 0, off. */
  probationResults: 'PROBATION_RESULTS',
  /** Issue #19: the most jobs a provider on probation holds at once; default 2, 0: no limit. */
  probationQuota: 'PROBATION_QUOTA',
  /**
   * How a sync wait learns that its job ended (ARCHITECTURE.md, "The sync wait"): `on` (the default;
   * local mode) a wake-up within the process; `sqs` (the stack) a wake-up through the waiting
   * process's own wake queue, under JOB_WAKE_QUEUES (adapters/sqs-wake.ts); `off` none, the wait
   * reads the job alone.
   */
  jobWake: 'JOB_WAKE',
  /** With JOB_WAKE=sqs: every wake queue's URL up to its tail, `https://sqs.<region>.<suffix>/<account>/<queue prefix>w-`. */
  wakeQueues: 'JOB_WAKE_QUEUES',
  /** The payment provider top-ups charge and payouts go through: `test` (local mode) or `stripe` (see adapters/payments); unset: neither. */
  paymentProvider: 'PAYMENT_PROVIDER',
  /** Card top-ups and payouts (use-cases/payments.ts, adapters/payments/stripe-provider.ts). */
  payments: {
    /** AWS: ARN of the secret holding `{ "secretKey": "sk_...", "webhookSecret": "whsec_..." }`. */
    stripeSecretArn: 'STRIPE_SECRET_ARN',
    /** Elsewhere: a file holding the same JSON. */
    stripeSecretFile: 'STRIPE_SECRET_FILE',
    /** Another Stripe API base (stripe-mock in tests). */
    stripeApiBase: 'STRIPE_API_BASE',
    /** The card currency, default `usd`. */
    currency: 'PAYMENT_CURRENCY',
    /** Micro-credits per minor unit of the currency, default 1000000 (one credit per cent). */
    microCreditsPerMinorUnit: 'MICRO_CREDITS_PER_MINOR_UNIT',
    /** The smallest payout, micro-credits, default 10000000. */
    payoutMinimum: 'PAYOUT_MINIMUM',
    /** The fee kept from each payout, micro-credits, default 0. */
    payoutFee: 'PAYOUT_FEE',
    /** The portal's URL: checkout and onboarding pages send the user back under it. */
    portalUrl: 'PORTAL_URL',
  },
  /** AWS: ARN of the Secrets Manager secret holding the controller's PKCS#8 PEM key. */
  signingKeySecretArn: 'CONTROLLER_KEY_SECRET_ARN',
  /** Local mode: path of the PEM file. */
  signingKeyFile: 'CONTROLLER_KEY_FILE',
  /** The controller's public key (SPKI PEM); not secret. */
  publicKey: 'CONTROLLER_PUBLIC_KEY',
  /** `embedded` (local default) or `fabric`. */
  ledgerMode: 'LEDGER_MODE',
  /**
   * The ledger writer's lanes: transactions in flight at once (use-cases/outbox.ts), default
   * LEDGER_WRITER_LANES_DEFAULT. The orderer's `MaxMessageCount` should match it (chaincode/network/lib.sh).
   */
  ledgerWriterLanes: 'LEDGER_WRITER_LANES',
  /**
   * The controller's settings, read by `configFromEnv` (lambdas/adapters/deps.ts) and
   * `allowLoopbackCallbacks` (lambdas/adapters/api-options.ts), each with a default there; the CDK
   * stack sets every one of them from context (lib/config.ts#controllerEnvironment).
   */
  settings: {
    schedulerPolicy: 'SCHEDULER_POLICY',
    heartbeatIntervalS: 'HEARTBEAT_INTERVAL_S',
    heartbeatStaleMs: 'HEARTBEAT_STALE_MS',
    priceVersion: 'PRICE_VERSION',
    priceVcpuMs: 'PRICE_VCPU_MS',
    priceMbMs: 'PRICE_MB_MS',
    presignTtlS: 'PRESIGN_TTL_S',
    tokenTtlS: 'TOKEN_TTL_S',
    signupCredit: 'SIGNUP_CREDIT',
    leaseS: 'LEASE_S',
    maxAttempts: 'MAX_ATTEMPTS',
    maxWaitS: 'MAX_WAIT_S',
    maxWaitingPerDeveloper: 'MAX_WAITING_PER_DEVELOPER',
    maxWaitingTotal: 'MAX_WAITING_TOTAL',
    retryAfterS: 'RETRY_AFTER_S',
    resultRoleRequired: 'RESULT_ROLE_REQUIRED',
    providerCredentialsTtlS: 'PROVIDER_CREDENTIALS_TTL_S',
    callbackAllowLoopback: 'CALLBACK_ALLOW_LOOPBACK',
  },
  /**
   * `LEDGER_MODE=fabric` (lambdas/adapters/ledger/fabric-ledger.ts). In AWS the identity comes from
   * the secret (`identitySecretArn`); elsewhere from the PEM files named by the `*Path` variables.
   */
  fabric: {
    peerEndpoint: 'FABRIC_PEER_ENDPOINT',
    peerHostAlias: 'FABRIC_PEER_HOST_ALIAS',
    /** ARN of a secret holding `{ mspId, certificate, privateKey, tlsRootCertificate }` (PEM strings). */
    identitySecretArn: 'FABRIC_IDENTITY_SECRET_ARN',
    channel: 'FABRIC_CHANNEL',
    chaincode: 'FABRIC_CHAINCODE',
    mspId: 'FABRIC_MSP_ID',
    tlsCertPath: 'FABRIC_TLS_CERT_PATH',
    certPath: 'FABRIC_CERT_PATH',
    keyPath: 'FABRIC_KEY_PATH',
  },
  /**
   * Peer enrolment (lambdas/adapters/fabric-enrolment.ts), with `LEDGER_MODE=fabric`: the
   * organisation's CAs (AWS: one secret; elsewhere PEM files up.sh wrote) and what a joining peer
   * needs to know. The peers' TLS CA certificate is `FABRIC_TLS_CERT_PATH`.
   */
  peerEnrolment: {
    /** ARN of a secret `{ caCertificate, caKey, tlsCaCertificate, tlsCaKey, ordererTlsCaCertificate }` (PEM strings). */
    caSecretArn: 'FABRIC_CA_SECRET_ARN',
    caCertPath: 'FABRIC_CA_CERT_PATH',
    caKeyPath: 'FABRIC_CA_KEY_PATH',
    tlsCaKeyPath: 'FABRIC_TLS_CA_KEY_PATH',
    ordererEndpoint: 'FABRIC_ORDERER_ENDPOINT',
    ordererHostAlias: 'FABRIC_ORDERER_HOST_ALIAS',
    ordererTlsCertPath: 'FABRIC_ORDERER_TLS_CERT_PATH',
    /** `host:port` a joining peer dials for gossip (the join bundle's gossipBootstrap); default `FABRIC_PEER_ENDPOINT`. */
    gossipBootstrap: 'FABRIC_GOSSIP_BOOTSTRAP',
    /** The installed CCaaS package's id (`label:sha256`) and the chaincode service's address in it. */
    packageId: 'FABRIC_PACKAGE_ID',
    ccaasAddress: 'FABRIC_CCAAS_ADDRESS',
  },
  /** `LEDGER_MODE=embedded` (lambdas/adapters/ledger/index.ts). */
  embeddedLedger: {
    dir: 'LEDGER_DIR',
    controllerMspId: 'LEDGER_CONTROLLER_MSP_ID',
    controllerId: 'LEDGER_CONTROLLER_ID',
  },
  /**
   * Set by the place the handlers run in, not by the binders: the Lambda runtime sets `region` and
   * `lambdaFunctionName`; local/ sets the endpoint overrides (DynamoDB Local, the SQS + S3
   * emulator; tests a stand-in STS). Read by lambdas/adapters/clients.ts and deps.ts.
   */
  aws: {
    region: 'AWS_REGION',
    lambdaFunctionName: 'AWS_LAMBDA_FUNCTION_NAME',
    endpoints: { dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB', sqs: 'AWS_ENDPOINT_URL_SQS', s3: 'AWS_ENDPOINT_URL_S3', sts: 'AWS_ENDPOINT_URL_STS' },
  },
  /**
   * Powertools for AWS Lambda (lambdas/adapters/observability.ts): read by Powertools itself, set by
   * the CDK stack (lib/config.ts#controllerEnvironment) and local/platform.ts. `serviceName` is the
   * logs' `service` and the metrics' `service` dimension; `metricsNamespace` the CloudWatch
   * namespace; `logLevel` DEBUG/INFO/WARN/ERROR (default INFO); `metricsDisabled` `true` stops EMF
   * output (the local platform's default).
   */
  powertools: {
    serviceName: 'POWERTOOLS_SERVICE_NAME',
    metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
    logLevel: 'POWERTOOLS_LOG_LEVEL',
    metricsDisabled: 'POWERTOOLS_METRICS_DISABLED',
  },
  /** fabric-contract-api's log level; the embedded ledger defaults it to WARNING (lambdas/adapters/ledger/quiet-contract-logs.ts). */
  chaincodeLoggingLevel: 'CORE_CHAINCODE_LOGGING_LEVEL',
} as const;

/**
 * DynamoDB key schema, shared by the CDK table constructs and local/ (which creates the same
 * tables in DynamoDB Local). GSIs are listed with their partition and sort keys.
 */
export interface IndexSchema {
  name: string;
  pk: string;
  sk?: string;
  /**
   * The attributes the index holds besides the keys; absent: all of them. An update that changes
   * none of an index's attributes writes nothing there; with every attribute projected, every
   * update of an item in the index is written to it again.
   */
  projection?: readonly string[];
}

export interface TableSchema {
  pk: string;
  sk?: string;
  ttl?: string;
  stream?: boolean;
  gsis: IndexSchema[];
  /**
   * Indexes an earlier release had, which this one replaced. Nothing reads them; a stack deployed
   * before keeps them for one deploy (`keepRetiredIndexes`), because CloudFormation adds or removes
   * at most one index of a table per update (README, "Upgrading").
   */
  retired?: IndexSchema[];
}

export const TABLES: Record<TableName, TableSchema> = {
  users: { pk: 'userId', gsis: [{ name: 'byEmail', pk: 'email' }] },
  tokens: { pk: 'tokenHash', ttl: 'expiresAt', gsis: [] },
  functions: { pk: 'functionId', gsis: [{ name: 'byOwner', pk: 'ownerId', sk: 'createdAt' }] },
  jobs: {
    pk: 'jobId',
    gsis: [
      { name: 'byDeveloper', pk: 'developerId', sk: 'createdAt' },
      // No provider index: nothing reads one (a provider's jobs are on the ledger, QueryJobsByProvider),
      // and each index re-writes the whole item on every change (6 of a warm job's ~62 write units).
      { name: 'waiting', pk: 'waitingShard', sk: 'createdAt' },
      // Sparse: jobs that owe a completion callback, by when its next delivery is due.
      { name: 'callbacks', pk: 'callbackShard', sk: 'callbackDueAt' },
      { name: 'leases', pk: 'leaseShard', sk: 'leaseExpiresAt' },
    ],
  },
  providers: {
    pk: 'providerId',
    // No owner index: nothing queried one (an owner's providers are read from the listing), and every
    // reserve, release and heartbeat wrote the whole item into it again (2 of a warm job's write units).
    gsis: [{ name: 'online', pk: 'onlineShard', sk: 'providerId' }],
  },
  outbox: { pk: 'stream', sk: 'seq', stream: true, gsis: [{ name: 'pending', pk: 'pendingShard', sk: 'enqueuedAt' }] },
  balances: {
    pk: 'accountId',
    // Items by kind: accounts, holds, price lists, open payouts. It holds the keys and a hold's
    // fields (the reaper lists open holds from it), so an account's updates — its hold, its release,
    // its settlement, several per job — are not written here again (byKind held every attribute).
    gsis: [{ name: 'kinds', pk: 'kind', sk: 'accountId', projection: ['holder', 'jobId', 'amount', 'placedAt'] }],
    retired: [{ name: 'byKind', pk: 'kind', sk: 'accountId' }],
  },
  // Keyed by operator: another operator's peer id finds nothing. `peerId = #count` holds the operator's count.
  peers: { pk: 'operatorId', sk: 'peerId', gsis: [] },
};
