import { z } from 'zod';
import * as A from './answers';
import { ReportBody, RuntimeReport } from './envelope';
import { INPUT_SCHEMA_COMPONENT, inputSchemaJsonSchema } from './input-schema';
import { Problem } from './problem';
import * as R from './requests';
import { ERROR_STATUSES, OPERATIONS, type Operation } from './routes';

/**
 * The OpenAPI 3.1 document of the controller's HTTP API, generated from the contract: the
 * components are the request and answer schemas (zod 4's JSON Schema, draft 2020-12, which is
 * OpenAPI 3.1's), the paths are the route table (routes.ts). Served at `GET /openapi.json`.
 */

type Schema = Record<string, unknown>;

/** Request schemas by component name: what a caller sends (JSON Schema of the input: defaults make members optional). */
const REQUESTS: Record<string, z.ZodType> = {
  RegisterRequest: R.RegisterUserBody,
  LoginRequest: R.LoginBody,
  CredentialRequest: R.CreateCredentialBody,
  Resources: R.Resources,
  FunctionDefinition: R.CreateFunctionBody,
  InvokeRequest: R.InvokeBody,
  InputUploadRequest: R.CreateInputBody,
  TopUpRequest: R.TopUpBody,
  CardTopUpRequest: R.CardTopUpBody,
  WithdrawRequest: R.WithdrawBody,
  PayoutOnboardingRequest: R.ConnectBody,
  PaymentWebhook: R.PaymentWebhookBody,
  TermsRequest: R.TermsBody,
  PricesRequest: R.PricesBody,
  PeerRequest: R.CreatePeerBody,
  ProviderRequest: R.RegisterProviderBody,
  HeartbeatRequest: R.HeartbeatBody,
  ReportRequest: ReportBody,
  RuntimeReport: RuntimeReport,
  RedriveRequest: R.RedriveBody,
  OperatorClaimRequest: R.OperatorClaimBody,
};

/** Answer schemas by component name: what the controller answers (JSON Schema of the output). */
const ANSWERS: Record<string, z.ZodType> = {
  Problem,
  User: A.User,
  Registration: A.Registration,
  Session: A.Session,
  PublicKey: A.PublicKey,
  Credential: A.Credential,
  CredentialList: A.CredentialList,
  NewToken: A.NewToken,
  NewInvokeKey: A.NewInvokeKey,
  Resources: R.Resources,
  Function: A.FunctionRecord,
  FunctionList: A.FunctionList,
  InputUpload: A.InputUpload,
  JobSummary: A.JobSummary,
  Job: A.Job,
  JobPage: A.JobPage,
  JobLedger: A.JobLedger,
  CallbackBody: A.CallbackBody,
  ProviderRegistration: A.ProviderRegistration,
  Heartbeat: A.HeartbeatAnswer,
  ReportOutcome: A.ReportOutcome,
  ProviderCredentials: A.ProviderCredentials,
  DeadLetters: A.DeadLetters,
  Redrive: A.Redrive,
  OperatorClaim: A.OperatorClaim,
  Account: A.Account,
  AccountHistory: A.AccountHistory,
  Reconciliation: A.Reconciliation,
  LedgerVerification: A.LedgerVerification,
  TopUp: A.TopUp,
  CardTopUp: A.CardTopUp,
  Payout: A.Payout,
  Payouts: A.Payouts,
  PayoutOnboarding: A.PayoutOnboarding,
  WebhookReceipt: A.WebhookReceipt,
  Bills: A.Bills,
  Bill: A.Bill,
  BillReceipt: A.BillReceipt,
  Terms: A.Terms,
  PublishedPrices: A.PublishedPrices,
  Prices: A.Prices,
  Earnings: A.Earnings,
  ProviderView: A.ProviderView,
  ProviderList: A.ProviderList,
  OpenApi: A.OpenApi,
  PeerView: A.PeerView,
  JoinBundle: A.JoinBundle,
  PeerEnrolment: A.PeerEnrolment,
  PeerDetail: A.PeerDetail,
  PeerList: A.PeerList,
};

const uri = (id: string) => `#/components/schemas/${id}`;
const ref = (name: string): Schema => ({ $ref: uri(name) });

/** A JSON Schema as OpenAPI embeds it: without the `$schema` and `$id` that zod writes on each root. */
function bare(schema: Schema): Schema {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

/**
 * zod writes `format: email` next to the pattern it checks; JSON Schema's email format is another,
 * stricter rule (no `'` in the local part, for one), so the document names only the pattern: what
 * the controller really accepts.
 */
const override = (ctx: { jsonSchema: Schema }) => {
  if (ctx.jsonSchema.format === 'email') delete ctx.jsonSchema.format;
};

function components(named: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, Schema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io, uri, target: 'draft-2020-12', unrepresentable: 'any', override });
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, bare(s as Schema)]));
}

/** The component name of a schema of the route table. */
function nameOf(schema: z.ZodType, named: Record<string, z.ZodType>): string {
  const found = Object.entries(named).find(([, s]) => s === schema);
  if (!found) throw new Error(`a schema of the route table has no component name (add it to openapi.ts)`);
  return found[0];
}

const json = (schema: Schema) => ({ 'application/json': { schema } });

const operationId = (key: string) => key.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');

/**
 * OpenAPI links: which later operations take an id from an answer (a created function's
 * `functionId`, a job's `jobId`, …). They document the API's flow and drive schemathesis's
 * stateful phase (create, then read, change and delete what was created).
 */
type Link = { to: keyof typeof OPERATIONS; parameters: Record<string, string> };
const fromBody = (field: string) => `$response.body#/${field}`;
const LINKS: Partial<Record<keyof typeof OPERATIONS, Record<number, Link[]>>> = {
  'POST /functions': {
    201: (
      ['GET /functions/{functionId}', 'PUT /functions/{functionId}', 'DELETE /functions/{functionId}', 'POST /functions/{functionId}/invocations', 'POST /functions/{functionId}/keys', 'GET /functions/{functionId}/keys', 'POST /functions/{functionId}/inputs'] as const
    ).map((to) => ({ to, parameters: { functionId: fromBody('functionId') } })),
  },
  'POST /functions/{functionId}/invocations': Object.fromEntries(
    [200, 202].map((status) => [status, (['GET /jobs/{jobId}', 'POST /jobs/{jobId}/cancel', 'GET /jobs/{jobId}/ledger'] as const).map((to) => ({ to, parameters: { jobId: fromBody('jobId') } }))]),
  ),
  'POST /functions/{functionId}/keys': { 201: [{ to: 'DELETE /functions/{functionId}/keys/{keyId}', parameters: { functionId: '$request.path.functionId', keyId: fromBody('tokenId') } }] },
  'POST /tokens': { 201: [{ to: 'DELETE /tokens/{tokenId}', parameters: { tokenId: fromBody('tokenId') } }] },
  'POST /peers': { 201: (['GET /peers/{peerId}', 'DELETE /peers/{peerId}'] as const).map((to) => ({ to, parameters: { peerId: fromBody('peer/peerId') } })) },
  'POST /providers': {
    201: (['GET /providers/{providerId}', 'PUT /providers/{providerId}/heartbeat', 'POST /providers/{providerId}/credentials', 'GET /providers/{providerId}/earnings'] as const).map((to) => ({
      to,
      parameters: { providerId: fromBody('providerId') },
    })),
  },
};

function linksOf(key: string, status: string) {
  const links = LINKS[key as keyof typeof OPERATIONS]?.[Number(status)];
  if (!links) return {};
  return { links: Object.fromEntries(links.map((l) => [operationId(l.to), { operationId: operationId(l.to), parameters: l.parameters }])) };
}

function operation(key: string, op: Operation) {
  const responses: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(op.ok)) {
    const text = op.okText?.[Number(status)];
    const content = schema === null ? undefined : { ...json(ref(nameOf(schema, ANSWERS))), ...(text ? { [text]: { schema: { type: 'string' } } } : {}) };
    responses[status] = content === undefined ? { description: 'No content' } : { description: 'OK', content, ...linksOf(key, status) };
  }
  for (const status of op.errors ?? []) responses[String(status)] = { description: ERROR_STATUSES[status], content: json(ref('Problem')) };
  responses.default = { description: 'Any other error: a JSON problem', content: json(ref('Problem')) };
  const security = op.auth === 'none' ? [] : op.auth === 'user-or-key' ? [{ bearer: [] }, { invokeKey: [] }] : [{ bearer: [] }];
  const parameters = (op.params ?? []).map((p) => ({
    name: p.name,
    in: p.in,
    required: p.in === 'path',
    schema: bare(z.toJSONSchema(p.schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any', override }) as Schema),
    description: p.description ?? '',
  }));
  return {
    operationId: operationId(key),
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security,
    parameters,
    ...(op.body ? { requestBody: { required: !op.bodyOptional, content: json(ref(nameOf(op.body, REQUESTS))) } } : {}),
    responses,
  };
}

/** Builds the document from the contract (openApiDocument is its one built copy). */
export function generateOpenApi() {
  const requests = components(REQUESTS, 'input');
  const answers = components(ANSWERS, 'output');
  for (const name of Object.keys(requests)) {
    if (name in answers && JSON.stringify(requests[name]) !== JSON.stringify(answers[name])) throw new Error(`${name} differs as a request and as an answer`);
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [key, op] of Object.entries(OPERATIONS) as [string, Operation][]) {
    const [method, route] = key.split(' ') as [string, string];
    (paths[route] ??= {})[method.toLowerCase()] = operation(key, op);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ChainFaaS controller API',
      version: '1',
      description:
        'Functions on volunteer computers. Bad input is always a 4xx with a JSON problem body naming the field; an id of another user is answered as unknown (404).',
    },
    servers: [{ url: '/' }],
    components: {
      schemas: { ...requests, ...answers, [INPUT_SCHEMA_COMPONENT]: inputSchemaJsonSchema(uri(INPUT_SCHEMA_COMPONENT)) },
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
  };
}

export type OpenApiDocument = ReturnType<typeof generateOpenApi>;

/** The document, built once when this module loads. */
export const openApiDocument: OpenApiDocument = generateOpenApi();
