import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve as resolvePath } from 'node:path';
import { ApiClient, ApiError, Bill, Credential, FunctionRecord, FunctionSpec, JobView, ProviderView, TERMINAL_STATUSES, waitForJob } from '../portal/src/client';
import { between, bytes, credits, duration, parseCredits, phaseText, priceText, when } from '../portal/src/format';
import { FlagSpec, Flags, UsageError } from './args';
import { ConfigError, DEFAULT_PROFILE, listProfiles, ProfileConfig, removeProfile, writeProfile } from './config';
import { Io, printFacts, printJson, printTable, Spinner } from './output';
import { ask, canPrompt } from './prompt';

/**
 * The `chainfaas` commands. Each one calls the public HTTP API through the same client the
 * portal uses, prints a table or facts for people and the API's JSON with --json, and reports its
 * outcome through the exit code (see EXIT).
 */

export const EXIT = {
  ok: 0,
  /** The API refused the request or could not be reached. */
  error: 1,
  /** Bad command line. */
  usage: 2,
  /** Not logged in, or the API refused the credentials (401). */
  auth: 3,
  /** The job ran and FAILED, or was CANCELLED (invoke, jobs wait). */
  jobFailed: 4,
  /** Gave up waiting: the job is still running (its id is printed). */
  timeout: 5,
} as const;

export interface Context {
  io: Io;
  flags: Flags;
  args: string[];
  json: boolean;
  configFile: string;
  /** The saved login in use (`--profile`, CHAINFAAS_PROFILE, or `default`). */
  profile: string;
  /** The client as the logged-in user (or with --token); throws ConfigError when there is none. */
  api(): ApiClient;
  /** The API URL from flag, environment or config (no token needed). */
  apiUrl(): string;
  saved(): ProfileConfig;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  /** Longer help: examples, notes. */
  details?: string;
  run(ctx: Context): Promise<number>;
}

const out = (ctx: Context, line = '') => ctx.io.stdout.write(`${line}\n`);
const err = (ctx: Context, line: string) => ctx.io.stderr.write(`${line}\n`);

function arg(ctx: Context, index: number, name: string, command: string): string {
  const value = ctx.args[index];
  if (value === undefined || value === '') throw new UsageError(`missing ${name}`, command);
  return value;
}

function noMoreArgs(ctx: Context, count: number, command: string): void {
  if (ctx.args.length > count) throw new UsageError(`unexpected argument "${ctx.args[count]}"`, command);
}

/** A function by id (`fn_…`) or by name (looked up in `GET /functions`). */
async function resolveFunction(api: ApiClient, ref: string): Promise<FunctionRecord> {
  if (/^fn_[A-Za-z0-9]+$/.test(ref)) return api.getFunction(ref);
  const { items } = await api.listFunctions();
  const found = items.filter((f) => f.name === ref);
  if (found.length === 0) throw new ApiError(404, { code: 'not_found', message: `you have no function named ${ref}` });
  if (found.length > 1) {
    // Never pick one of several silently (invoke, delete): the user names the one they mean.
    const candidates = found.map((f) => `  ${f.functionId}  version ${f.version}, created ${when(f.createdAt)}, ${f.image}`).join('\n');
    throw new AmbiguousName(`${found.length} of your functions are named ${ref}; give the id of the one you mean:\n${candidates}`, found);
  }
  return found[0] as FunctionRecord;
}

/** A function name that several of the user's functions share (exit 2, with the candidates). */
export class AmbiguousName extends UsageError {
  constructor(
    message: string,
    readonly candidates: FunctionRecord[],
  ) {
    super(message);
    this.name = 'AmbiguousName';
  }
}

async function resolveFunctionId(api: ApiClient, ref: string): Promise<string> {
  return /^fn_[A-Za-z0-9]+$/.test(ref) ? ref : (await resolveFunction(api, ref)).functionId;
}

/**
 * The shape most commands share: take exactly the named arguments, ask the API, then print the
 * answer as JSON (`--json`, through `json` when the script-facing shape differs) or for people
 * (`show`). Exit 0; errors propagate to chainfaas.ts, which maps them to exit codes.
 */
export function fetchAndShow<T>(spec: Omit<Command, 'run'> & {
  /** Positional argument names, in order (all required). */
  args?: string[];
  fetch(ctx: Context, args: string[]): Promise<T>;
  show(ctx: Context, value: T): void;
  json?(value: T): unknown;
}): Command {
  const { args: names = [], fetch, show, json, ...command } = spec;
  return {
    ...command,
    async run(ctx) {
      const values = names.map((name, i) => arg(ctx, i, name, command.name));
      noMoreArgs(ctx, names.length, command.name);
      const value = await fetch(ctx, values);
      if (ctx.json) printJson(ctx.io, json ? json(value) : value);
      else show(ctx, value);
      return EXIT.ok;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// login, logout, whoami

const login: Command = {
  name: 'login',
  summary: 'log in and save the API address and token',
  usage: 'chainfaas login --api-url URL ([--email EMAIL] [--password-stdin] | --token TOKEN)',
  flags: {
    email: { kind: 'string', value: 'EMAIL', help: 'log in with email and password (opens a session); asked on a terminal when left out' },
    'password-stdin': { kind: 'boolean', help: 'read the password from stdin (docker login style); on a terminal it is asked without echo' },
  },
  details: [
    'The API address and a token are saved to ~/.chainfaas/config.json (mode 0600), or to the file',
    'CHAINFAAS_CONFIG or --config names. With --token, an API token from the portal (Account page)',
    'is checked and saved instead of a password session.',
    '',
    'Examples:',
    '  chainfaas login --api-url http://127.0.0.1:3000 --email ada@example.com      (asks: Password:)',
    '  echo "$PASSWORD" | chainfaas login --api-url http://127.0.0.1:3000 --email ada@example.com --password-stdin',
    '  chainfaas login --api-url https://api.example.com --token cf_...',
  ].join('\n'),
  async run(ctx) {
    noMoreArgs(ctx, 0, 'login');
    const apiUrl = ctx.apiUrl();
    const base = new ApiClient(apiUrl);
    let token = ctx.flags.token as string | undefined;
    if (token === undefined) {
      const email = (ctx.flags.email as string | undefined) ?? (canPrompt(ctx.io) && !ctx.flags['password-stdin'] ? (await ask(ctx.io, 'Email: ')).trim() : undefined);
      if (!email) throw new UsageError('give --email (with --password-stdin) or --token', 'login');
      const password = await readPassword(ctx, 'login', false);
      token = (await base.login(email, password)).token;
    }
    const me = await base.withToken(token).me();
    writeProfile(ctx.configFile, ctx.profile, { apiUrl, token, email: me.email });
    if (ctx.json) printJson(ctx.io, { apiUrl, userId: me.userId, email: me.email, roles: me.roles, config: ctx.configFile, profile: ctx.profile });
    else out(ctx, `Logged in to ${apiUrl} as ${me.email} (${me.roles.join(', ')}). Saved to ${ctx.configFile}${inProfile(ctx)}.`);
    return EXIT.ok;
  },
};

/**
 * The password: from stdin with --password-stdin (scripts), else asked on the terminal without
 * echo (twice when it is a new one). Never a flag: a password on the command line ends up in the
 * shell's history and in `ps`.
 */
async function readPassword(ctx: Context, command: string, confirm: boolean): Promise<string> {
  if (ctx.flags['password-stdin']) {
    const password = (await readAll(ctx.io.stdin)).toString('utf8').replace(/\r?\n$/, '');
    if (!password) throw new UsageError('stdin held no password', command);
    return password;
  }
  if (!canPrompt(ctx.io)) throw new UsageError('give --password-stdin and pipe the password in (it is never taken from the command line), or run this on a terminal to be asked', command);
  const password = await ask(ctx.io, 'Password: ', true);
  if (!password) throw new UsageError('no password given', command);
  if (confirm && (await ask(ctx.io, 'Password again: ', true)) !== password) throw new UsageError('the two passwords differ; nothing was changed', command);
  return password;
}

const ROLES = ['developer', 'provider', 'peer-operator'] as const;

const register: Command = {
  name: 'register',
  summary: 'create an account, then log in as it (asks for the password on a terminal)',
  usage: 'chainfaas register --api-url URL [--email EMAIL] [--role ROLE ...] [--password-stdin]',
  flags: {
    email: { kind: 'string', value: 'EMAIL', help: 'the account’s email (asked on a terminal when left out)' },
    role: { kind: 'list', value: 'ROLE', help: 'developer (default), provider, peer-operator; repeat for several' },
    'password-stdin': { kind: 'boolean', help: 'read the password from stdin instead of asking (at least 10 characters)' },
  },
  details: [
    'The API token the registration returns is saved as the login (as chainfaas login does): nothing',
    'else to run before chainfaas functions create. The password is never a flag.',
    '',
    'Examples:',
    '  chainfaas register --api-url http://127.0.0.1:3000 --email ada@example.com',
    '  echo "$PASSWORD" | chainfaas register --api-url https://api.example.com --email ci@example.com --role developer --password-stdin',
  ].join('\n'),
  async run(ctx) {
    noMoreArgs(ctx, 0, 'register');
    const apiUrl = ctx.apiUrl();
    const roles = (ctx.flags.role as string[] | undefined) ?? ['developer'];
    const unknown = roles.find((r) => !(ROLES as readonly string[]).includes(r));
    if (unknown) throw new UsageError(`--role ${unknown}: choose from ${ROLES.join(', ')}`, 'register');
    const email = (ctx.flags.email as string | undefined) ?? (canPrompt(ctx.io) && !ctx.flags['password-stdin'] ? (await ask(ctx.io, 'Email: ')).trim() : undefined);
    if (!email) throw new UsageError('give --email', 'register');
    const password = await readPassword(ctx, 'register', true);
    const created = await new ApiClient(apiUrl).register(email, password, roles as (typeof ROLES)[number][]);
    writeProfile(ctx.configFile, ctx.profile, { apiUrl, token: created.token, email: created.user.email });
    if (ctx.json) printJson(ctx.io, { apiUrl, userId: created.user.userId, email: created.user.email, roles: created.user.roles, config: ctx.configFile, profile: ctx.profile });
    else out(ctx, `Registered ${created.user.email} (${created.user.roles.join(', ')}) at ${apiUrl}; logged in. Saved to ${ctx.configFile}${inProfile(ctx)}.`);
    return EXIT.ok;
  },
};

const logout: Command = {
  name: 'logout',
  summary: 'forget the saved login',
  usage: 'chainfaas logout',
  flags: {},
  async run(ctx) {
    noMoreArgs(ctx, 0, 'logout');
    const removed = removeProfile(ctx.configFile, ctx.profile);
    if (ctx.json) printJson(ctx.io, { removed, config: ctx.configFile, profile: ctx.profile });
    else out(ctx, removed ? `Logged out (removed ${ctx.profile === DEFAULT_PROFILE ? '' : `profile ${ctx.profile} from `}${ctx.configFile}).` : 'Not logged in.');
    return EXIT.ok;
  },
};

/** ` (profile NAME)` after a file name, for a profile other than the default. */
const inProfile = (ctx: Context) => (ctx.profile === DEFAULT_PROFILE ? '' : ` (profile ${ctx.profile})`);

const profiles: Command = {
  name: 'profiles',
  summary: 'list the saved logins (profiles); the one in use is marked *',
  usage: 'chainfaas profiles',
  flags: {},
  details: [
    'Each profile is one saved login (API address and token). Choose one with --profile NAME or',
    'CHAINFAAS_PROFILE; `chainfaas login --profile NAME ...` writes it, `chainfaas logout --profile NAME`',
    'removes it. Without either, the profile is "default".',
  ].join('\n'),
  async run(ctx) {
    noMoreArgs(ctx, 0, 'profiles');
    const all = listProfiles(ctx.configFile);
    if (ctx.json) {
      printJson(ctx.io, { items: all.map(({ name, apiUrl, email }) => ({ name, apiUrl, email, current: name === ctx.profile })), config: ctx.configFile });
      return EXIT.ok;
    }
    if (all.length === 0) {
      out(ctx, `No saved login in ${ctx.configFile}: run chainfaas login --api-url URL ...`);
      return EXIT.ok;
    }
    printTable(
      ctx.io,
      ['', 'PROFILE', 'API', 'EMAIL'],
      all.map((p) => [p.name === ctx.profile ? '*' : '', p.name, p.apiUrl ?? '—', p.email ?? '—']),
    );
    return EXIT.ok;
  },
};

const whoami = fetchAndShow({
  name: 'whoami',
  summary: 'show the account the CLI acts as',
  usage: 'chainfaas whoami',
  flags: {},
  fetch: (ctx) => ctx.api().me(),
  show: (ctx, me) => printFacts(ctx.io, [['User', me.userId], ['Email', me.email], ['Roles', me.roles.join(', ')], ['API', ctx.apiUrl()]]),
});

// ---------------------------------------------------------------------------------------------
// functions

const FUNCTION_FLAGS: Record<string, FlagSpec> = {
  image: { kind: 'string', value: 'REF', help: 'image pinned by digest: registry/repo@sha256:<64 hex>' },
  vcpu: { kind: 'number', value: 'N', help: 'vCPUs per job (default 0.5)' },
  'memory-mb': { kind: 'number', value: 'MB', help: 'memory per job (default 128)' },
  'timeout-s': { kind: 'number', value: 'S', help: 'timeout per job (default 10)' },
  'disk-mb': { kind: 'number', value: 'MB', help: 'scratch space (/tmp) per job (default 64)' },
  description: { kind: 'string', value: 'TEXT', help: 'what the function does' },
  'input-schema': { kind: 'string', value: 'FILE', help: 'JSON Schema file a JSON input must match (the portal draws a form from it)' },
  protocol: { kind: 'string', value: 'stdio|http', help: 'how the container gets its input (default stdio)' },
  mode: { kind: 'string', value: 'sync|async', help: 'default invocation mode (default sync)' },
  network: { kind: 'string', value: 'none|egress', help: 'network in the container (default none)' },
  'max-price': { kind: 'string', value: 'CREDITS', help: 'price cap per job, in credits (e.g. 0.5); default: worst case' },
  env: { kind: 'list', value: 'NAME=VALUE', help: 'environment variable (repeat the flag); on update, replaces them all' },
};

function specFromFlags(flags: Flags, base: FunctionSpec | undefined, name: string, command: string): FunctionSpec {
  const env = flags.env as string[] | undefined;
  let envVars = base?.env;
  if (env) {
    envVars = {};
    for (const pair of env) {
      const eq = pair.indexOf('=');
      if (eq < 1) throw new UsageError(`--env ${pair}: write NAME=VALUE`, command);
      envVars[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  let maxPrice = base?.maxPrice;
  if (flags['max-price'] !== undefined) {
    maxPrice = parseCredits(String(flags['max-price']));
    if (maxPrice === undefined || maxPrice < 1) throw new UsageError(`--max-price ${flags['max-price']}: write credits such as 0.5 or 2 (at most 6 decimals)`, command);
  }
  const image = (flags.image as string | undefined) ?? base?.image;
  if (!image) throw new UsageError('--image is required', command);
  let inputSchema = base?.inputSchema;
  if (flags['input-schema'] !== undefined) {
    const file = String(flags['input-schema']);
    try {
      inputSchema = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--input-schema ${file}: ${(err as Error).message}`, command);
    }
  }
  const description = (flags.description as string | undefined) ?? base?.description;
  const diskMb = (flags['disk-mb'] as number | undefined) ?? base?.resources.diskMb;
  return {
    name,
    image,
    resources: {
      vcpu: (flags.vcpu as number | undefined) ?? base?.resources.vcpu ?? 0.5,
      memoryMb: (flags['memory-mb'] as number | undefined) ?? base?.resources.memoryMb ?? 128,
      timeoutS: (flags['timeout-s'] as number | undefined) ?? base?.resources.timeoutS ?? 10,
      ...(diskMb !== undefined ? { diskMb } : {}),
    },
    ...(description !== undefined ? { description } : {}),
    ...(inputSchema !== undefined ? { inputSchema } : {}),
    protocol: ((flags.protocol as string | undefined) ?? base?.protocol) as FunctionSpec['protocol'],
    mode: ((flags.mode as string | undefined) ?? base?.mode) as FunctionSpec['mode'],
    network: ((flags.network as string | undefined) ?? base?.network) as FunctionSpec['network'],
    ...(maxPrice !== undefined ? { maxPrice } : {}),
    ...(envVars !== undefined ? { env: envVars } : {}),
  };
}

function printFunction(ctx: Context, fn: FunctionRecord): void {
  printFacts(ctx.io, [
    ['Name', fn.name],
    ['Function', fn.functionId],
    ['Version', String(fn.version)],
    ['Description', fn.description],
    ['Image', fn.image],
    ['Resources', `${fn.resources.vcpu} vCPU, ${fn.resources.memoryMb} MB, ${fn.resources.diskMb ?? 64} MB disk, ${fn.resources.timeoutS} s`],
    ['Protocol', fn.protocol],
    ['Mode', fn.mode],
    ['Network', fn.network],
    ['Price cap', `${credits(fn.maxPrice)} credits`],
    ['Environment', Object.keys(fn.env).join(', ') || '(none)'],
    ['Created', when(fn.createdAt)],
    ['Updated', when(fn.updatedAt)],
    ['Deleted', fn.deletedAt ? when(fn.deletedAt) : undefined],
  ]);
}

const functionsCreate = fetchAndShow({
  name: 'functions create',
  summary: 'register a function (image pinned by digest)',
  usage: 'chainfaas functions create NAME --image REF [--vcpu N] [--memory-mb MB] [--disk-mb MB] [--timeout-s S] [--description TEXT] [--input-schema FILE] [--protocol P] [--mode M] [--network N] [--max-price CREDITS] [--env NAME=VALUE ...]',
  flags: FUNCTION_FLAGS,
  details: 'Example:\n  chainfaas functions create sha256 --image 127.0.0.1:5000/chainfaas/sha256@sha256:2d5e... --memory-mb 64',
  args: ['NAME'],
  fetch: (ctx, [name]) => ctx.api().createFunction(specFromFlags(ctx.flags, undefined, name as string, 'functions create')),
  show: (ctx, fn) => {
    out(ctx, `Created function ${fn.name} (${fn.functionId}), version ${fn.version}.`);
    printFunction(ctx, fn);
  },
});

const functionsList = fetchAndShow({
  name: 'functions list',
  summary: 'list your functions',
  usage: 'chainfaas functions list',
  flags: {},
  fetch: async (ctx) => (await ctx.api().listFunctions()).items,
  json: (items) => ({ items }),
  show: (ctx, items) => {
    if (items.length === 0) out(ctx, 'No functions. Create one with: chainfaas functions create NAME --image REF');
    else
      printTable(
        ctx.io,
        ['Name', 'Function', 'Version', 'Resources', 'Mode', 'Price cap', 'Image'],
        items.map((f) => [f.name, f.functionId, String(f.version), `${f.resources.vcpu} vCPU/${f.resources.memoryMb} MB/${f.resources.timeoutS} s`, f.mode, credits(f.maxPrice), f.image]),
      );
  },
});

const functionsGet = fetchAndShow({
  name: 'functions get',
  summary: 'show a function, and what a job of it costs before it runs',
  usage: 'chainfaas functions get FUNCTION',
  flags: {},
  details: 'FUNCTION is a function id (fn_...) or a name.',
  args: ['FUNCTION'],
  fetch: async (ctx, [ref]) => {
    const api = ctx.api();
    const [fn, prices] = await Promise.all([resolveFunction(api, ref as string), api.prices().catch(() => undefined)]);
    return { fn, prices };
  },
  json: ({ fn }) => fn,
  show: (ctx, { fn, prices }) => {
    printFunction(ctx, fn);
    printFacts(ctx.io, [['Price', priceText(fn, prices)]]);
    out(ctx, fn.inputSchema ? `Input schema:\n${JSON.stringify(fn.inputSchema, null, 2)}` : 'Input schema: none (any input)');
  },
});

const functionsUpdate = fetchAndShow({
  name: 'functions update',
  summary: 'change a function (writes a new version)',
  usage: 'chainfaas functions update FUNCTION [--image REF] [--vcpu N] [--memory-mb MB] [--disk-mb MB] [--timeout-s S] [--description TEXT] [--input-schema FILE] [--protocol P] [--mode M] [--network N] [--max-price CREDITS] [--env NAME=VALUE ...]',
  flags: FUNCTION_FLAGS,
  details: 'Options not given keep their current value. Jobs already created keep the version they were created with.',
  args: ['FUNCTION'],
  fetch: async (ctx, [ref]) => {
    const api = ctx.api();
    const current = await resolveFunction(api, ref as string);
    if (Object.keys(ctx.flags).filter((k) => k in FUNCTION_FLAGS).length === 0) throw new UsageError('nothing to change: give at least one option', 'functions update');
    return api.updateFunction(current.functionId, specFromFlags(ctx.flags, current, current.name, 'functions update'));
  },
  show: (ctx, fn) => {
    out(ctx, `Updated ${fn.name} (${fn.functionId}) to version ${fn.version}.`);
    printFunction(ctx, fn);
  },
});

const functionsDelete = fetchAndShow({
  name: 'functions delete',
  summary: 'delete a function (its jobs stay readable)',
  usage: 'chainfaas functions delete FUNCTION',
  flags: {},
  args: ['FUNCTION'],
  fetch: async (ctx, [ref]) => {
    const api = ctx.api();
    const fn = await resolveFunction(api, ref as string);
    await api.deleteFunction(fn.functionId);
    return { functionId: fn.functionId, name: fn.name, deleted: true };
  },
  show: (ctx, fn) => out(ctx, `Deleted ${fn.name} (${fn.functionId}). It can no longer be invoked; its jobs stay readable.`),
});

// ---------------------------------------------------------------------------------------------
// up: build, push, register (faas-cli up, sam deploy)

/** Runs `docker …`, its output on our stderr (stdout stays the result's); answers what it printed. */
function docker(ctx: Context, args: string[], quiet: boolean): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const take = (c: Buffer) => {
      text += c.toString('utf8');
      if (!quiet) ctx.io.stderr.write(c);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'ENOENT' ? 'docker is not installed (or not on the PATH): chainfaas up builds and pushes with it' : e.message)));
    child.on('close', (code) => (code === 0 ? resolveRun(text) : reject(new Error(`docker ${args[0]} failed (exit ${code})${quiet ? `:\n${text.trim().split('\n').slice(-5).join('\n')}` : ''}`))));
  });
}

/** Where `up` pushes: --registry, CHAINFAAS_REGISTRY, or the registry the platform names in /config.json (the local platform's). */
async function registryFor(ctx: Context): Promise<string> {
  const given = (ctx.flags.registry as string | undefined) ?? process.env.CHAINFAAS_REGISTRY;
  if (given) return given.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const named = await fetch(`${ctx.apiUrl()}/config.json`)
    .then(async (r) => (r.ok ? ((await r.json()) as { registry?: unknown }).registry : undefined))
    .catch(() => undefined);
  if (typeof named === 'string' && named) return named;
  throw new UsageError('no registry to push to: give --registry (yours, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team, after docker login) or set CHAINFAAS_REGISTRY', 'up');
}

const { image: _image, ...UP_FUNCTION_FLAGS } = FUNCTION_FLAGS;
void _image;

const up: Command = {
  name: 'up',
  summary: 'build the folder’s image, push it, and create or update the function pinned by its digest',
  usage: 'chainfaas up [NAME] [--dir DIR] [--registry REGISTRY] [--vcpu N] [--memory-mb MB] [--timeout-s S] [...]',
  flags: {
    dir: { kind: 'string', value: 'DIR', help: 'the folder with the Dockerfile (default: the current one)' },
    registry: { kind: 'string', value: 'REGISTRY', help: 'push to host[:port][/path] (or CHAINFAAS_REGISTRY); default: the platform’s own registry (local)' },
    quiet: { kind: 'boolean', alias: 'q', help: 'no docker output on stderr' },
    ...UP_FUNCTION_FLAGS,
  },
  details: [
    'NAME defaults to the folder’s name. In one command: docker build, docker push, then the function',
    'NAME is created (or, when you have one by that name, updated to a new version) with the image',
    'pinned by the digest the push reported; other options keep their current value on an update.',
    'Locally the platform names its registry; in AWS push to yours (docker login first) with --registry.',
    '',
    'Example:',
    '  cd examples/sha256 && chainfaas up --memory-mb 64 && chainfaas invoke sha256 -d hello',
  ].join('\n'),
  async run(ctx) {
    noMoreArgs(ctx, 1, 'up');
    const dir = resolvePath((ctx.flags.dir as string | undefined) ?? '.');
    if (!existsSync(join(dir, 'Dockerfile'))) throw new UsageError(`${dir} has no Dockerfile`, 'up');
    const name = ctx.args[0] ?? basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
    const api = ctx.api();
    const existing = await resolveFunction(api, name).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    });
    const registry = await registryFor(ctx);
    const quiet = ctx.flags.quiet === true || ctx.json;
    const repository = `${registry}/${name}`;
    const tag = `${repository}:up-${Date.now().toString(36)}`;
    if (!quiet) err(ctx, `building ${tag} from ${dir}`);
    await docker(ctx, ['build', '-t', tag, dir], quiet);
    if (!quiet) err(ctx, `pushing ${tag}`);
    const pushed = await docker(ctx, ['push', tag], quiet);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1];
    if (!digest) throw new Error(`docker push printed no digest for ${tag}`);
    const image = `${repository}@${digest}`;
    const flags = { ...ctx.flags, image };
    const fn = existing
      ? await api.updateFunction(existing.functionId, specFromFlags(flags, existing, existing.name, 'up'))
      : await api.createFunction(specFromFlags(flags, undefined, name, 'up'));
    if (ctx.json) printJson(ctx.io, fn);
    else out(ctx, `${existing ? 'Updated' : 'Created'} function ${fn.name} (${fn.functionId}), version ${fn.version}, image ${fn.image}. Run it: chainfaas invoke ${fn.name}`);
    return EXIT.ok;
  },
};

// ---------------------------------------------------------------------------------------------
// invoke

const MAX_INLINE_INPUT = 256 * 1024;

const invoke: Command = {
  name: 'invoke',
  summary: 'run a function and print its result (waits with a spinner)',
  usage: 'chainfaas invoke FUNCTION [-d TEXT | --data-file PATH | < input] [--json-input] [-o FILE] [--async] [--timeout S] [--key KEY]',
  flags: {
    data: { kind: 'string', alias: 'd', value: 'TEXT', help: 'the input, as text' },
    'data-file': { kind: 'string', value: 'PATH', help: 'read the input from a file ("-" for stdin); without -d or this, stdin is read when it is not a terminal' },
    'json-input': { kind: 'boolean', help: "send the input as JSON, checked against the function's input schema (else it is sent as bytes, unchecked)" },
    out: { kind: 'string', alias: 'o', value: 'FILE', help: 'write the result to FILE instead of stdout' },
    async: { kind: 'boolean', help: 'do not wait: print the job id and exit' },
    timeout: { kind: 'number', value: 'S', help: 'how long to wait for the result (default: the function’s timeout + 120 s)' },
    key: { kind: 'string', value: 'KEY', help: 'invoke with an invoke key (ik_...) instead of your login (or CHAINFAAS_INVOKE_KEY)' },
    quiet: { kind: 'boolean', alias: 'q', help: 'no spinner or status on stderr' },
  },
  details: [
    'Exit codes: 0 the job succeeded; 4 it failed (its reason and log go to stderr);',
    '5 still running when --timeout passed (its id is printed); 1 the API refused the call.',
    '',
    'Examples:',
    '  chainfaas invoke sha256 -d "hello"',
    '  chainfaas invoke fn_abc --data-file photo.jpg -o result.json',
    '  echo 3 | chainfaas invoke sleep --async --json',
  ].join('\n'),
  async run(ctx) {
    const ref = arg(ctx, 0, 'FUNCTION', 'invoke');
    noMoreArgs(ctx, 1, 'invoke');
    if (ctx.flags.data !== undefined && ctx.flags['data-file'] !== undefined) throw new UsageError('give -d/--data or --data-file, not both', 'invoke');
    const key = (ctx.flags.key as string | undefined) ?? process.env.CHAINFAAS_INVOKE_KEY;
    const api = key ? new ApiClient(ctx.apiUrl(), key) : ctx.api();
    // An invoke key cannot list functions: with a key, FUNCTION must be the id.
    const functionId = key ? ref : await resolveFunctionId(api, ref);
    const input = await readInput(ctx);
    const body: { input?: unknown; inputBase64?: string; inputUpload?: string; mode?: 'sync' | 'async'; waitS?: number } = {};
    if (ctx.flags['json-input']) {
      try {
        body.input = JSON.parse(input.toString('utf8'));
      } catch (err) {
        throw new UsageError(`--json-input: the input is not JSON (${(err as Error).message})`, 'invoke');
      }
    } else if (input.length > MAX_INLINE_INPUT) body.inputUpload = await uploadInput(api, functionId, input);
    else body.inputBase64 = input.toString('base64');
    const spinner = new Spinner(ctx.io.stderr, !ctx.flags.quiet && !ctx.flags.async);
    if (ctx.flags.async) {
      body.mode = 'async';
      const { body: job } = await api.invoke(functionId, body);
      if (ctx.json) printJson(ctx.io, job);
      else out(ctx, job.jobId);
      return EXIT.ok;
    }
    body.mode = 'sync';
    const started = Date.now();
    const timeoutFlag = ctx.flags.timeout as number | undefined;
    if (timeoutFlag !== undefined && !(timeoutFlag > 0)) throw new UsageError(`--timeout ${timeoutFlag}: give a number of seconds above 0`, 'invoke');
    // A short wait, as the portal's: a quick job answers at once; a longer one shows its phases
    // (read every second) with its id. It never outlasts --timeout: the CLI gives up when the user said.
    body.waitS = timeoutFlag === undefined ? 2 : Math.min(2, Math.floor(timeoutFlag));
    spinner.start(`invoking ${ref}…`);
    let job: JobView;
    try {
      ({ body: job } = await api.invoke(functionId, body));
      if (!TERMINAL_STATUSES.includes(job.status)) {
        spinner.update(`job ${job.jobId} ${phaseText(job)}…`);
        const fnTimeout = key || timeoutFlag !== undefined ? 900 : (await api.getFunction(functionId)).resources.timeoutS;
        const timeoutMs = (timeoutFlag ?? fnTimeout + 120) * 1000;
        const waited = await waitForJob(api, job.jobId, { timeoutMs: Math.max(0, started + timeoutMs - Date.now()), onUpdate: (j) => !TERMINAL_STATUSES.includes(j.status) && spinner.update(`job ${j.jobId} ${phaseText(j)}…`) });
        job = waited.job;
        if (!waited.done) {
          spinner.stop();
          if (ctx.json) printJson(ctx.io, job);
          err(ctx, `chainfaas: job ${job.jobId} is still ${job.status} after ${(timeoutMs / 1000).toFixed(0)} s; follow it with: chainfaas jobs get ${job.jobId}`);
          return EXIT.timeout;
        }
      }
    } catch (e) {
      spinner.stop();
      throw e;
    }
    spinner.stop(ctx.flags.quiet ? undefined : `job ${job.jobId} ${job.status} in ${duration(job.runtimeMs)}`);
    return finishJob(ctx, job);
  },
};

/** Prints (or writes) a finished job's result; a failed job's reason and log go to stderr. */
async function finishJob(ctx: Context, job: JobView): Promise<number> {
  if (job.status !== 'SUCCEEDED') {
    if (ctx.json) printJson(ctx.io, job);
    err(ctx, `chainfaas: job ${job.jobId} ${job.status}: ${job.reason ?? 'no reason given'}`);
    if (job.logUrl) {
      const log = await download(job.logUrl).catch(() => undefined);
      if (log && log.length) err(ctx, `--- log (stderr) ---\n${log.toString('utf8').replace(/\n$/, '')}`);
    }
    return EXIT.jobFailed;
  }
  // A job that succeeded after reaching a limit (a refused fork, a full /tmp) says so, apart from its result.
  if (job.limits?.length && !ctx.json) err(ctx, `chainfaas: job ${job.jobId} reached limits: ${job.limits.map((l) => l.detail).join('; ')}`);
  const result = job.resultUrl ? await download(job.resultUrl) : Buffer.alloc(0);
  const file = ctx.flags.out as string | undefined;
  if (file) {
    writeFileSync(file, result);
    if (ctx.json) printJson(ctx.io, { ...job, output: file });
    else err(ctx, `wrote ${bytes(result.length)} to ${file}`);
  } else if (ctx.json) printJson(ctx.io, { ...job, output: result.toString('utf8') });
  else {
    ctx.io.stdout.write(result);
    if (result.length && result[result.length - 1] !== 0x0a && ctx.io.stdout.isTTY) ctx.io.stdout.write('\n');
  }
  return EXIT.ok;
}

async function readInput(ctx: Context): Promise<Buffer> {
  if (ctx.flags.data !== undefined) return Buffer.from(String(ctx.flags.data), 'utf8');
  const file = ctx.flags['data-file'] as string | undefined;
  if (file === '-') return readAll(ctx.io.stdin);
  if (file !== undefined) {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new UsageError(`--data-file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'invoke');
    }
  }
  if (ctx.io.stdin.isTTY) return Buffer.alloc(0);
  return readAll(ctx.io.stdin);
}

/** Large input: `POST /functions/{id}/inputs` presigns an upload; the invocation names it. */
async function uploadInput(api: ApiClient, functionId: string, input: Buffer): Promise<string> {
  const upload = await api.post<{ uploadId: string; uploadUrl: string; headers: Record<string, string> }>(`/functions/${encodeURIComponent(functionId)}/inputs`, { size: input.length });
  const res = await fetch(upload.uploadUrl, { method: 'PUT', headers: upload.headers, body: input });
  if (!res.ok) throw new Error(`uploading the input failed: the bucket answered HTTP ${res.status}`);
  return upload.uploadId;
}

/** A log that may not exist yet: undefined on 404. */
async function downloadIfAny(url: string): Promise<Buffer | undefined> {
  const res = await fetch(url);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`the results bucket answered HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

async function download(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`the results bucket answered HTTP ${res.status}${res.status === 403 ? ' (the link expired: read the job again)' : ''}`);
  return Buffer.from(await res.arrayBuffer());
}

export function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// jobs

/** `2026-11-23T19:44:41Z`, or a relative `30m`, `2h`, `7d` (ago). */
function instant(text: string, flag: string): string {
  const rel = /^(\d+)([smhd])$/.exec(text);
  if (rel) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(rel[1]) * unit).toISOString();
  }
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--${flag} ${text}: give an ISO time (2026-11-23T19:44:41Z) or an age such as 30m, 2h, 7d`, 'jobs list');
  return d.toISOString();
}

const jobsList: Command = {
  name: 'jobs list',
  summary: 'search your jobs (newest first)',
  usage: 'chainfaas jobs list [--function FUNCTION] [--status S[,S...]] [--since TIME] [--until TIME] [--limit N] [--all]',
  flags: {
    function: { kind: 'string', value: 'FUNCTION', help: 'only this function (id or name)' },
    status: { kind: 'string', value: 'STATUS', help: 'QUEUED, ASSIGNED, SUCCEEDED, FAILED, CANCELLED (comma-separated)' },
    since: { kind: 'string', value: 'TIME', help: 'created at or after (ISO time, or 30m, 2h, 7d ago)' },
    until: { kind: 'string', value: 'TIME', help: 'created at or before' },
    limit: { kind: 'number', value: 'N', help: 'jobs per page (1-100, default 20)' },
    all: { kind: 'boolean', help: 'follow every page' },
  },
  async run(ctx) {
    noMoreArgs(ctx, 0, 'jobs list');
    const api = ctx.api();
    const fnRef = ctx.flags.function as string | undefined;
    const query = {
      functionId: fnRef ? await resolveFunctionId(api, fnRef) : undefined,
      status: (ctx.flags.status as string | undefined)?.toUpperCase().replace(/\s+/g, ''),
      from: ctx.flags.since ? instant(String(ctx.flags.since), 'since') : undefined,
      to: ctx.flags.until ? instant(String(ctx.flags.until), 'until') : undefined,
      limit: ctx.flags.limit as number | undefined,
    };
    const items: JobView[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.searchJobs({ ...query, cursor });
      items.push(...page.items);
      cursor = page.next;
    } while (cursor && ctx.flags.all);
    if (ctx.json) printJson(ctx.io, { items, next: cursor });
    else if (items.length === 0) out(ctx, 'No jobs match.');
    else {
      const names = new Map((await api.listFunctions()).items.map((f) => [f.functionId, f.name]));
      printTable(
        ctx.io,
        ['Job', 'Function', 'Status', 'Created', 'Run time', 'Cost'],
        items.map((j) => [j.jobId, names.get(j.functionId) ?? j.functionId, j.status, when(j.timings.createdAt), duration(j.runtimeMs), j.cost === undefined ? '—' : credits(j.cost)]),
      );
      if (cursor) err(ctx, `more jobs: add --all, or narrow the search`);
    }
    return EXIT.ok;
  },
};

const jobsGet: Command = {
  name: 'jobs get',
  summary: 'show a job: status, timings, provider, run time, cost (and its ledger record)',
  usage: 'chainfaas jobs get JOB [--ledger]',
  flags: { ledger: { kind: 'boolean', help: 'also show the job’s record and history on the monitoring ledger' } },
  async run(ctx) {
    const id = arg(ctx, 0, 'JOB', 'jobs get');
    noMoreArgs(ctx, 1, 'jobs get');
    const api = ctx.api();
    const job = await api.getJob(id);
    const ledger = ctx.flags.ledger ? await api.getJobLedger(id) : undefined;
    if (ctx.json) {
      printJson(ctx.io, ledger ? { ...job, ledger } : job);
      return EXIT.ok;
    }
    const t = job.timings;
    printFacts(ctx.io, [
      ['Job', job.jobId],
      ['Function', `${job.functionId} (version ${job.functionVersion})`],
      ['Status', job.status],
      ['Phase', job.status === 'ASSIGNED' ? phaseText(job, Date.now()) : undefined],
      ['Why', job.status === 'FAILED' || job.status === 'CANCELLED' ? (job.reason ?? '—') : undefined],
      ['Provider', job.providerId ?? (job.verification ? "the replicas' (below)" : '—')],
      ['Attempt', String(job.attempt)],
      ['Created', when(t.createdAt)],
      ['Assigned', t.assignedAt ? `${when(t.assignedAt)} (+${duration(between(t.createdAt, t.assignedAt))})` : undefined],
      ['Started', t.startedAt ? when(t.startedAt) : undefined],
      ['Finished', t.finishedAt ? when(t.finishedAt) : undefined],
      ['Run time', duration(job.runtimeMs)],
      ['Exit code', job.exitCode === undefined || job.exitCode === null ? undefined : String(job.exitCode)],
      ['Limits reached', job.limits?.map((l) => l.detail).join('; ')],
      ['Not watched', job.limitsUnwatched?.map((u) => `${u.limit}: ${u.why}`).join('; ')],
      ['Cost', job.cost === undefined ? 'not settled yet' : `${credits(job.cost)} credits${job.paid === false ? ' (not paid)' : ''}`],
      ['Result', job.result ? `${bytes(job.result.size)}, sha256 ${job.result.sha256}` : undefined],
      ['Verification', job.verification ? `${job.verification.mode} k=${job.verification.k}, quorum ${job.verification.quorum} (at most ${job.verification.maxReplicas}): ${job.verification.decision}${verdictNote(job.verification)}` : undefined],
    ]);
    // Issue #19: each replica, what it returned, its outcome in the decision and what it was paid.
    if (job.verification?.replicas?.length) {
      out(ctx, 'Replicas:');
      for (const r of job.verification.replicas) {
        const paid = r.cost === undefined ? 'not settled' : r.paid ? `paid ${credits(r.cost)} credits` : 'not paid';
        out(ctx, `  ${r.jobId}  ${r.providerId ?? '—'}  ${r.status}  ${r.outcome}  ${r.resultSha256 ? r.resultSha256.slice(0, 12) : '—'}  ${paid}`);
      }
    }
    if (ledger) {
      out(ctx);
      if (!ledger.record) out(ctx, job.verification ? 'Ledger: a replicated job is on the ledger replica by replica (chainfaas jobs get <replica> --ledger).' : 'Ledger: not on the ledger yet.');
      else {
        const r = ledger.record;
        out(ctx, 'Ledger record:');
        printFacts(ctx.io, [
          ['  Developer', r.developerId],
          ['  Provider', r.providerId],
          ['  Run time', r.runtimeMs === undefined ? 'not reported' : `${duration(r.runtimeMs)} (signed by the provider)`],
          ['  Received', r.received ? `yes, sha256 ${r.resultSha256}` : 'no'],
          ['  Cost', r.cost === undefined ? '—' : `${credits(r.cost)} credits`],
          ['  Paid', r.paid ? `yes${r.paidAt ? ` at ${when(r.paidAt)}` : ''}` : (r.unpaidReason ?? r.failed ?? 'no')],
        ]);
        out(ctx, `  History: ${ledger.history.length} versions`);
        for (const h of ledger.history) out(ctx, `    ${when(h.timestamp)}  ${h.txId}`);
      }
    }
    return EXIT.ok;
  },
};

const LOGS_FLAGS: Record<string, FlagSpec> = {
  follow: { kind: 'boolean', alias: 'f', help: 'follow a running job: print its log as it grows until the job ends (its phase on stderr)' },
};
const LOGS_DETAILS = [
  'While a job runs, its provider uploads the log so far every few seconds as it grows; the',
  'whole log is uploaded when the job ends. -f prints what exists, then what is added, until the',
  'job ends (its phase goes to stderr). Exit 0 when the log was printed; 1 when the job has none',
  '(it never ran, or wrote nothing).',
].join('\n');

async function printLogs(ctx: Context, command: string): Promise<number> {
  const id = arg(ctx, 0, 'JOB', command);
  noMoreArgs(ctx, 1, command);
  const api = ctx.api();
  const job = await api.getJob(id);
  if (!ctx.flags.follow || TERMINAL_STATUSES.includes(job.status) || ctx.json) {
    const ended = ctx.flags.follow && !TERMINAL_STATUSES.includes(job.status) ? (await waitForJob(api, id, { timeoutMs: 24 * 3_600_000 })).job : job;
    return showLog(ctx, ended);
  }
  return followLog(ctx, api, job);
}

/**
 * `logs -f` on a job that has not ended: every second, the job is read again and its log (the
 * log so far while it runs) fetched; the bytes not printed yet are printed. Its phase goes to
 * stderr, one line per change (no spinner: it would be drawn over the log).
 */
async function followLog(ctx: Context, api: ApiClient, first: JobView): Promise<number> {
  const status = new Spinner(ctx.io.stderr, true, false).start(`job ${first.jobId} ${phaseText(first)}`);
  let job = first;
  let printed = 0;
  for (;;) {
    // Undefined: the provider has uploaded nothing yet.
    const log = job.logUrl ? await downloadIfAny(job.logUrl) : undefined;
    if (log && log.length > printed) ctx.io.stdout.write(log.subarray(printed));
    printed = Math.max(printed, log?.length ?? 0);
    if (TERMINAL_STATUSES.includes(job.status)) break;
    await new Promise((r) => setTimeout(r, 1000));
    job = await api.getJob(job.jobId);
    if (!TERMINAL_STATUSES.includes(job.status)) status.update(`job ${job.jobId} ${phaseText(job)}`);
  }
  status.stop();
  err(ctx, `job ${job.jobId} ${job.status}${job.runtimeMs !== undefined ? ` in ${duration(job.runtimeMs)}` : ''}`);
  if (printed > 0) return EXIT.ok;
  return showLog(ctx, job);
}

const logs: Command = {
  name: 'logs',
  summary: 'print a job’s log (the function’s stderr); -f follows a running job',
  usage: 'chainfaas logs JOB [-f]',
  flags: LOGS_FLAGS,
  details: LOGS_DETAILS,
  run: (ctx) => printLogs(ctx, 'logs'),
};

const jobsLogs: Command = {
  name: 'jobs logs',
  summary: 'print a job’s log (the function’s stderr)',
  usage: 'chainfaas jobs logs JOB [-f]',
  flags: LOGS_FLAGS,
  details: LOGS_DETAILS,
  run: (ctx) => printLogs(ctx, 'jobs logs'),
};

async function showLog(ctx: Context, job: JobView): Promise<number> {
  const running = !TERMINAL_STATUSES.includes(job.status);
  // While the job runs, its log so far may not be uploaded yet (404).
  const log = job.logUrl ? (running ? await downloadIfAny(job.logUrl) : await download(job.logUrl)) : undefined;
  if (!log) {
    const why =
      job.status === 'CANCELLED'
        ? 'it never ran, so it has no log'
        : !running
          ? 'it wrote nothing to stderr'
          : 'no log yet: its provider uploads it every few seconds while the function writes to stderr (chainfaas logs -f follows it)';
    err(ctx, `chainfaas: job ${job.jobId} is ${job.status}: ${why}`);
    return EXIT.error;
  }
  if (ctx.json) printJson(ctx.io, { jobId: job.jobId, log: log.toString('utf8') });
  else ctx.io.stdout.write(log);
  return EXIT.ok;
}

const jobsResult: Command = {
  name: 'jobs result',
  summary: 'print a finished job’s result, or write it to a file',
  usage: 'chainfaas jobs result JOB [-o FILE]',
  flags: { out: { kind: 'string', alias: 'o', value: 'FILE', help: 'write the result to FILE instead of stdout' } },
  async run(ctx) {
    const id = arg(ctx, 0, 'JOB', 'jobs result');
    noMoreArgs(ctx, 1, 'jobs result');
    const job = await ctx.api().getJob(id);
    if (!TERMINAL_STATUSES.includes(job.status)) {
      err(ctx, `chainfaas: job ${job.jobId} is still ${job.status}; try again when it has finished`);
      return EXIT.timeout;
    }
    return finishJob(ctx, job);
  },
};

const jobsCancel = fetchAndShow({
  name: 'jobs cancel',
  summary: 'cancel a job that is still QUEUED',
  usage: 'chainfaas jobs cancel JOB',
  flags: {},
  args: ['JOB'],
  fetch: (ctx, [id]) => ctx.api().cancelJob(id as string),
  show: (ctx, job) => out(ctx, `Job ${job.jobId} is ${job.status}.`),
});

// ---------------------------------------------------------------------------------------------
// keys

const keysCreate = fetchAndShow({
  name: 'keys create',
  summary: 'create an invoke key for a function (shown once)',
  usage: 'chainfaas keys create FUNCTION [--name NAME] [--expires-in-s S]',
  flags: {
    name: { kind: 'string', value: 'NAME', help: 'a label to tell keys apart' },
    'expires-in-s': { kind: 'number', value: 'S', help: 'lifetime in seconds (default 365 days)' },
  },
  details: 'The key may invoke this one function and read the jobs it created; send it as Authorization: Bearer <key>.',
  args: ['FUNCTION'],
  fetch: async (ctx, [ref]) => {
    const api = ctx.api();
    const functionId = await resolveFunctionId(api, ref as string);
    const body: { name?: string; expiresInS?: number } = {};
    if (ctx.flags.name !== undefined) body.name = String(ctx.flags.name);
    if (ctx.flags['expires-in-s'] !== undefined) body.expiresInS = ctx.flags['expires-in-s'] as number;
    return { key: await api.createKey(functionId, body), functionId };
  },
  json: (created) => created.key,
  show: (ctx, { key, functionId }) => {
    out(ctx, key.key);
    err(ctx, `Invoke key ${key.tokenId} for ${functionId}${key.name ? ` (${key.name})` : ''}, expires ${when(key.expiresAt)}. It is shown once: store it now.`);
  },
});

const keysList = fetchAndShow({
  name: 'keys list',
  summary: 'list a function’s invoke keys (never the secrets)',
  usage: 'chainfaas keys list FUNCTION',
  flags: {},
  args: ['FUNCTION'],
  fetch: async (ctx, [ref]) => {
    const api = ctx.api();
    return (await api.listKeys(await resolveFunctionId(api, ref as string))).items;
  },
  json: (items) => ({ items }),
  show: (ctx, items) => {
    if (items.length === 0) out(ctx, 'No invoke keys.');
    else printTable(ctx.io, ['Key', 'Name', 'Hint', 'Created', 'Expires'], items.map((k: Credential) => [k.tokenId, k.name ?? '', k.hint, when(k.createdAt), when(k.expiresAt)]));
  },
});

const keysRevoke = fetchAndShow({
  name: 'keys revoke',
  summary: 'revoke an invoke key',
  usage: 'chainfaas keys revoke FUNCTION KEY_ID',
  flags: {},
  args: ['FUNCTION', 'KEY_ID'],
  fetch: async (ctx, [ref, keyId]) => {
    const api = ctx.api();
    const functionId = await resolveFunctionId(api, ref as string);
    await api.revokeKey(functionId, keyId as string);
    return { functionId, keyId: keyId as string, revoked: true };
  },
  show: (ctx, r) => out(ctx, `Revoked invoke key ${r.keyId} of ${r.functionId}.`),
});

// ---------------------------------------------------------------------------------------------
// account

const balance = fetchAndShow({
  name: 'balance',
  summary: 'show your balance (read model and ledger)',
  usage: 'chainfaas balance',
  flags: {},
  fetch: (ctx) => ctx.api().account(),
  show: (ctx, account) =>
    printFacts(ctx.io, [
      ['Balance', `${credits(account.balance)} credits`],
      ['On the ledger', account.ledgerBalance === undefined ? 'the ledger did not answer' : `${credits(account.ledgerBalance)} credits`],
    ]),
});

const history = fetchAndShow({
  name: 'history',
  summary: 'show your account history on the monetary ledger',
  usage: 'chainfaas history',
  flags: {},
  fetch: async (ctx) => (await ctx.api().accountHistory()).items,
  json: (items) => ({ items }),
  show: (ctx, items) => {
    if (items.length === 0) out(ctx, 'No movements.');
    else printTable(ctx.io, ['When', 'Kind', 'Amount', 'Reference', 'Transaction'], items.map((e) => [when(e.timestamp), e.kind, `${e.amount > 0 ? '+' : ''}${credits(e.amount)}`, e.reference, e.txId]));
  },
});

// ---------------------------------------------------------------------------------------------
// money: top-ups, bills

/** A top-up reference the API credits once: a retry with the same one charges nothing more. */
function newTopUpReference(): string {
  return `cli-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

const topUp = fetchAndShow({
  name: 'top-up',
  summary: 'add credits to your balance through the payment provider',
  usage: 'chainfaas top-up AMOUNT [--reference REF]',
  flags: { reference: { kind: 'string', value: 'REF', help: 'idempotency reference (letters, digits . _ : -); default: a new one, printed' } },
  details: [
    'AMOUNT is in credits (e.g. 25 or 0.5, at most 6 decimals). The same --reference again credits',
    'nothing more: when a top-up’s outcome is unknown (a network error), retry it with the reference',
    'it printed. Exit 0 when approved (or already approved: a replay); 1 when declined or refused.',
    '',
    'Example:\n  chainfaas top-up 25 --reference invoice-2026-11',
  ].join('\n'),
  args: ['AMOUNT'],
  fetch: async (ctx, [amountText]) => {
    const amount = parseCredits(amountText as string);
    if (amount === undefined || amount < 1) throw new UsageError(`AMOUNT ${amountText}: write credits such as 25 or 0.5 (at most 6 decimals)`, 'top-up');
    const reference = (ctx.flags.reference as string | undefined) ?? newTopUpReference();
    if (!/^[A-Za-z0-9._:-]{1,100}$/.test(reference)) throw new UsageError(`--reference ${reference}: letters, digits and . _ : - only, 1 to 100 characters`, 'top-up');
    const api = ctx.api();
    if (ctx.flags.reference === undefined) err(ctx, `top-up reference ${reference} (retry with --reference ${reference} if this one's outcome is unknown)`);
    return api.topUp(amount, reference);
  },
  show: (ctx, t) =>
    out(ctx, t.replayed ? `Top-up ${t.reference} of ${credits(t.amount)} credits was already ${t.status}: nothing more was charged.` : `Topped up ${credits(t.amount)} credits (reference ${t.reference}, payment ${t.paymentId ?? '—'}). The balance shows it once the ledger has committed it.`),
});

const BILL_COMMANDS = 'list, get MONTH, pay MONTH';

function billRows(items: Bill[]): string[][] {
  return items.map((b) => [b.month, b.status, b.terms, String(b.jobs), duration(b.runtimeMs), credits(b.total), credits(b.amountDue), b.payable === true ? 'yes' : 'no']);
}

const listBillsSpec = {
  flags: {},
  fetch: (ctx: Context) => ctx.api().listBills(),
  show: (ctx: Context, bills: { items: Bill[] }) => {
    if (bills.items.length === 0) out(ctx, 'No bills: a month gets a statement once one of your jobs has settled in it.');
    else printTable(ctx.io, ['Month', 'Status', 'Terms', 'Jobs', 'Run time', 'Total', 'Due', 'Payable'], billRows(bills.items));
  },
};

const bills: Command = {
  name: 'bills',
  summary: `your monthly bills (bills ${BILL_COMMANDS})`,
  usage: `chainfaas bills [${BILL_COMMANDS.replace(/, /g, '|')}]`,
  flags: {},
  details: 'Without a command, lists the bills (as chainfaas bills list). Amounts are in credits.',
  async run(ctx) {
    if (ctx.args[0] !== undefined) throw new UsageError(`unknown bills command "${ctx.args[0]}"; bills has: ${BILL_COMMANDS}`, 'bills');
    return billsList.run(ctx);
  },
};

const billsList = fetchAndShow({ name: 'bills list', summary: 'list your monthly bills, newest first', usage: 'chainfaas bills list', ...listBillsSpec });

function month(text: string, command: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(text)) throw new UsageError(`MONTH ${text}: write a month as YYYY-MM, e.g. 2026-11`, command);
  return text;
}

const billsGet: Command = {
  name: 'bills get',
  summary: "show a month's bill, per function; or save it as CSV or JSON",
  usage: 'chainfaas bills get MONTH [--csv] [-o FILE]',
  flags: {
    csv: { kind: 'boolean', help: 'the statement as CSV, exactly as the API writes it' },
    out: { kind: 'string', alias: 'o', value: 'FILE', help: 'write the statement (CSV with --csv, else JSON) to FILE' },
  },
  details: 'Examples:\n  chainfaas bills get 2026-11\n  chainfaas bills get 2026-11 --csv -o bill-2026-11.csv',
  async run(ctx) {
    const m = month(arg(ctx, 0, 'MONTH', 'bills get'), 'bills get');
    noMoreArgs(ctx, 1, 'bills get');
    const api = ctx.api();
    const file = ctx.flags.out as string | undefined;
    const text = ctx.flags.csv ? await api.getBillCsv(m) : undefined;
    const bill = text === undefined ? await api.getBill(m) : undefined;
    const body = text ?? `${JSON.stringify(bill, null, 2)}\n`;
    if (file) {
      writeFileSync(file, body);
      if (ctx.json) printJson(ctx.io, { month: m, format: ctx.flags.csv ? 'csv' : 'json', output: file, bytes: Buffer.byteLength(body) });
      else err(ctx, `wrote ${bytes(Buffer.byteLength(body))} to ${file}`);
    } else if (text !== undefined) ctx.io.stdout.write(text);
    else if (ctx.json) printJson(ctx.io, bill);
    else if (bill) {
      printFacts(ctx.io, [
        ['Month', bill.month],
        ['Status', bill.status],
        ['Terms', bill.terms],
        ['Jobs', String(bill.jobs)],
        ['Run time', duration(bill.runtimeMs)],
        ['Total', `${credits(bill.total)} credits`],
        ['Due', `${credits(bill.amountDue)} credits`],
        ['Payable', bill.payable === true ? `yes: chainfaas bills pay ${bill.month}` : 'no'],
      ]);
      if (bill.lines?.length) {
        out(ctx);
        printTable(ctx.io, ['Function', 'Id', 'Jobs', 'Run time', 'Cost'], bill.lines.map((l) => [l.name ?? '(unknown)', l.functionId, String(l.jobs), duration(l.runtimeMs), credits(l.cost)]));
      }
    }
    return EXIT.ok;
  },
};

const billsPay = fetchAndShow({
  name: 'bills pay',
  summary: "pay a month's bill from your balance (invoice terms)",
  usage: 'chainfaas bills pay MONTH',
  flags: {},
  details: 'Exit 0 when paid; 1 when the API refuses (409: nothing is due, e.g. prepaid terms; 402: the balance is short).',
  args: ['MONTH'],
  fetch: (ctx, [m]) => ctx.api().payBill(month(m as string, 'bills pay')),
  show: (ctx, r) =>
    out(ctx, r.replayed ? `The bill of ${r.month} was already paid (${credits(r.amount)} credits, reference ${r.reference}).` : `Paid the bill of ${r.month}: ${credits(r.amount)} credits from your balance (reference ${r.reference}, ${r.status}).`),
});

// ---------------------------------------------------------------------------------------------
// providers

const providers = fetchAndShow({
  name: 'providers',
  summary: 'list your provider machines: state, capacity, free capacity, last heartbeat',
  usage: 'chainfaas providers',
  flags: {},
  details: 'A provider is online when the scheduler would place jobs on it: not draining, and a heartbeat within the platform’s window.',
  fetch: async (ctx) => (await ctx.api().listProviders()).items,
  json: (items) => ({ items }),
  show: (ctx, items: ProviderView[]) => {
    if (items.length === 0) out(ctx, 'No providers. Connect a machine with: chainfaas-provider register --api-url URL --token TOKEN');
    else
      printTable(
        ctx.io,
        ['Provider', 'Name', 'State', 'Capacity', 'Free', 'Running', 'Last heartbeat'],
        items.map((p) => [p.providerId, p.name, p.state, `${p.capacity.vcpu} vCPU/${p.capacity.memoryMb} MB`, `${p.free.vcpu} vCPU/${p.free.memoryMb} MB`, String(p.runningJobs), `${when(p.lastHeartbeatAt)} (${p.silentS} s ago)`]),
      );
  },
});

/** The options every command takes (chainfaas.ts's global flags), for completion. */
const GLOBAL_OPTIONS: Record<string, string> = {
  'api-url': 'API address',
  token: 'API or session token',
  config: 'config file',
  profile: 'the saved login to use',
  output: 'json, yaml or table',
  json: 'print JSON for scripts',
  help: 'show help',
};
const SHELLS = ['bash', 'zsh', 'fish'] as const;

/**
 * `chainfaas completion bash|zsh|fish`: a completion script (commands, then each command's
 * options), written from COMMANDS, so it never lists a command that is not there.
 */
const completion: Command = {
  name: 'completion',
  summary: 'print a shell completion script (bash, zsh or fish)',
  usage: 'chainfaas completion bash|zsh|fish',
  flags: {},
  details: [
    'bash: source <(chainfaas completion bash)',
    '      or for good: chainfaas completion bash > ~/.local/share/bash-completion/completions/chainfaas',
    'zsh:  source <(chainfaas completion zsh)',
    '      or for good: chainfaas completion zsh > "${fpath[1]}/_chainfaas" (then a new shell)',
    'fish: chainfaas completion fish | source',
    '      or for good: chainfaas completion fish > ~/.config/fish/completions/chainfaas.fish',
  ].join('\n'),
  async run(ctx) {
    const shell = arg(ctx, 0, 'SHELL', 'completion');
    noMoreArgs(ctx, 1, 'completion');
    if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion ${shell}: give one of ${SHELLS.join(', ')}`, 'completion');
    const script = shell === 'bash' ? bashCompletion() : shell === 'zsh' ? zshCompletion() : fishCompletion();
    ctx.io.stdout.write(`${script.join('\n')}\n`);
    return EXIT.ok;
  },
};

/** The words of the command line: first words, the groups (first words with sub-commands) and each command's options. */
function completionWords() {
  const firsts = [...new Set(COMMANDS.map((c) => c.name.split(' ')[0] as string))];
  const groups = firsts.filter((f) => COMMANDS.some((c) => c.name.startsWith(`${f} `)));
  const subs = (g: string) => COMMANDS.filter((c) => c.name.startsWith(`${g} `)).map((c) => c.name.split(' ')[1] as string);
  const options = (c: Command) => [...Object.keys(c.flags), ...Object.keys(GLOBAL_OPTIONS)].map((f) => `--${f}`);
  return { firsts, groups, subs, options };
}

function bashCompletion(): string[] {
  const { firsts, groups, subs, options } = completionWords();
  return [
    '# bash completion for chainfaas (chainfaas completion bash)',
    '_chainfaas() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" first="${COMP_WORDS[1]}" second="${COMP_WORDS[2]}"',
    '  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=($(compgen -W "' + firsts.join(' ') + ' help" -- "$cur")); return; fi',
    '  case "$first" in',
    ...groups.map((g) => `    ${g}) if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=($(compgen -W "${subs(g).join(' ')}" -- "$cur")); return; fi ;;`),
    '  esac',
    '  local name="$first"; case "$first" in ' + (groups.length ? `${groups.join('|')}) name="$first $second" ;; ` : '') + 'esac',
    '  case "$name" in',
    ...COMMANDS.map((c) => `    "${c.name}") COMPREPLY=($(compgen -W "${options(c).join(' ')}" -- "$cur")) ;;`),
    '  esac',
    '}',
    'complete -o default -F _chainfaas chainfaas',
  ];
}

function zshCompletion(): string[] {
  const { firsts, groups, subs, options } = completionWords();
  return [
    '#compdef chainfaas',
    '# zsh completion for chainfaas (chainfaas completion zsh)',
    '_chainfaas() {',
    `  if (( CURRENT == 2 )); then compadd -- ${firsts.join(' ')} help; return; fi`,
    '  local name=${words[2]}',
    '  case ${words[2]} in',
    ...groups.map((g) => `    ${g}) if (( CURRENT == 3 )); then compadd -- ${subs(g).join(' ')}; return; fi; name="${g} \${words[3]}" ;;`),
    '  esac',
    '  if [[ $PREFIX != -* ]]; then _files; return; fi',
    '  case $name in',
    ...COMMANDS.map((c) => `    "${c.name}") compadd -- ${options(c).join(' ')} ;;`),
    '  esac',
    '}',
    // Autoloaded from fpath, this file is the function's first call: define, then complete; sourced, register it.
    'if [[ "${funcstack[1]}" == _chainfaas ]]; then _chainfaas "$@"; elif (( $+functions[compdef] )); then compdef _chainfaas chainfaas; fi',
  ];
}

function fishCompletion(): string[] {
  const { groups, subs } = completionWords();
  const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = [
    '# fish completion for chainfaas (chainfaas completion fish)',
    'complete -c chainfaas -f',
    ...COMMANDS.filter((c) => !c.name.includes(' ')).map((c) => `complete -c chainfaas -n __fish_use_subcommand -a ${c.name} -d ${quote(c.summary)}`),
    ...groups.filter((g) => !COMMANDS.some((c) => c.name === g)).map((g) => `complete -c chainfaas -n __fish_use_subcommand -a ${g} -d ${quote(`${g}: ${subs(g).join(', ')}`)}`),
    ...groups.flatMap((g) =>
      COMMANDS.filter((c) => c.name.startsWith(`${g} `)).map(
        (c) => `complete -c chainfaas -n ${quote(`__fish_seen_subcommand_from ${g}; and not __fish_seen_subcommand_from ${subs(g).join(' ')}`)} -a ${c.name.split(' ')[1]} -d ${quote(c.summary)}`,
      ),
    ),
    ...Object.entries(GLOBAL_OPTIONS).map(([f, help]) => `complete -c chainfaas -l ${f} -d ${quote(help)}${f === 'json' || f === 'help' ? '' : ' -r'}`),
  ];
  for (const c of COMMANDS) {
    const [first, second] = c.name.split(' ');
    const when = second ? `__fish_seen_subcommand_from ${first}; and __fish_seen_subcommand_from ${second}` : `__fish_seen_subcommand_from ${first}`;
    for (const [f, spec] of Object.entries(c.flags)) {
      lines.push(`complete -c chainfaas -n ${quote(when)} -l ${f}${spec.alias ? ` -s ${spec.alias}` : ''} -d ${quote(spec.help)}${spec.kind === 'boolean' ? '' : /^(FILE|PATH|DIR)$/.test(spec.value ?? '') ? ' -r -F' : ' -r'}`);
    }
  }
  return lines;
}

export const COMMANDS: Command[] = [
  register,
  login,
  logout,
  profiles,
  whoami,
  functionsCreate,
  functionsList,
  functionsGet,
  functionsUpdate,
  functionsDelete,
  up,
  invoke,
  jobsList,
  jobsGet,
  jobsLogs,
  logs,
  jobsResult,
  jobsCancel,
  keysCreate,
  keysList,
  keysRevoke,
  balance,
  history,
  topUp,
  bills,
  billsList,
  billsGet,
  billsPay,
  providers,
  completion,
];

export { ConfigError };

/** Issue #19: a job answered before its quorum (respond first), or run alone on a trusted provider (adaptive). */
function verdictNote(v: { verdict?: string; trusted?: { providerId: string; validRuns: number } }): string {
  const verdict = v.verdict ? `; first result ${v.verdict}` : '';
  const trusted = v.trusted ? `; unchecked: ran alone on ${v.trusted.providerId}, trusted after ${v.trusted.validRuns} agreements (checked with chance 1/${v.trusted.validRuns})` : '';
  return verdict + trusted;
}
