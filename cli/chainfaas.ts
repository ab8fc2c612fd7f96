#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLATFORM_NODE, requireNode } from '../contract/src/node-support';
import { ApiClient, ApiError, describeError } from '../portal/src/client';
import { FlagSpec, flagHelp, parseArgs, UsageError } from './args';
import { COMMANDS } from './all-commands';
import { AmbiguousName, Command, ConfigError, Context, EXIT } from './commands';
import { configPath, ProfileConfig, profileName, readProfile } from './config';
import { Io, OUTPUT_FORMATS, printJson } from './output';

/**
 * `chainfaas`: the developer CLI over ChainFaaS's public HTTP API, in the manner of faas-cli, wsk
 * and the AWS CLI: `chainfaas <group> <command> [args] [--flags]`, global flags anywhere, --json
 * for scripts, results on stdout, progress and errors on stderr, and exit codes that tell what
 * happened (0 ok, 1 API error, 2 usage, 3 login, 4 job failed, 5 still running).
 */

const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  'api-url': { kind: 'string', value: 'URL', help: 'API address (or CHAINFAAS_API_URL; saved by login)' },
  token: { kind: 'string', value: 'TOKEN', help: 'API or session token (or CHAINFAAS_TOKEN; saved by login)' },
  config: { kind: 'string', value: 'FILE', help: 'config file (or CHAINFAAS_CONFIG; default ~/.chainfaas/config.json)' },
  profile: { kind: 'string', value: 'NAME', help: 'the saved login to use (or CHAINFAAS_PROFILE; default: default); login writes into it' },
  json: { kind: 'boolean', help: 'print JSON for scripts (as --output json)' },
  output: { kind: 'string', value: 'json|yaml|table', help: 'json or yaml: the API’s data for scripts; table (default): for people' },
  help: { kind: 'boolean', alias: 'h', help: 'show help' },
  version: { kind: 'boolean', help: 'show the version' },
};

function version(): string {
  for (const dir of [join(__dirname, '..'), join(__dirname, '..', '..')]) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'chainfaas') return pkg.version ?? '0.0.0';
    }
  }
  return '0.0.0';
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'chainfaas — run functions on volunteer computers, from the command line',
    '',
    'Usage: chainfaas <command> [arguments] [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    flagHelp(GLOBAL_FLAGS),
    '',
    'Exit codes: 0 success; 1 the API refused the request or could not be reached; 2 bad command line;',
    '3 not logged in or credentials refused; 4 the job failed; 5 gave up waiting for the job.',
    '',
    "Run 'chainfaas <command> --help' for a command's options.",
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [`${c.summary}`, '', `Usage: ${c.usage}`, ...(Object.keys(c.flags).length ? ['', 'Options:', flagHelp(c.flags)] : []), '', 'Global options:', flagHelp(GLOBAL_FLAGS), ...(c.details ? ['', c.details] : [])].join('\n');
}

function groupHelp(group: string): string {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const width = Math.max(...members.map((c) => c.name.length));
  return [`Usage: chainfaas ${group} <command> [arguments] [options]`, '', 'Commands:', ...members.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)].join('\n');
}

/** Finds the command named by the first words that are not options (global options may come first). */
function findCommand(argv: string[]): { command?: Command; rest: string[]; words: string[] } {
  const words: { index: number; word: string }[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i] as string;
    if (a === '--') break;
    if (a.startsWith('-')) {
      const name = a.replace(/^--?/, '');
      const spec = GLOBAL_FLAGS[name];
      if (spec && spec.kind !== 'boolean' && !a.includes('=')) i++;
      continue;
    }
    words.push({ index: i, word: a });
  }
  const two = words.length === 2 ? COMMANDS.find((c) => c.name === `${words[0]?.word} ${words[1]?.word}`) : undefined;
  const used = two ? words : words.slice(0, 1);
  const command = two ?? COMMANDS.find((c) => c.name === words[0]?.word);
  const rest = argv.filter((_a, i) => !(command ? used : []).some((w) => w.index === i));
  return { command, rest, words: words.map((w) => w.word) };
}

/** The command closest to what was typed (at most 2 edits away, or the one it begins), if any. */
function didYouMean(typed: string, first: string): string | undefined {
  const names = [...new Set(COMMANDS.flatMap((c) => [c.name, c.name.split(' ')[0] as string]))];
  // Two words are matched against two-word commands, one against the rest; the fuller match wins a tie.
  const scored = names
    .map((n) => ({ n, d: n.includes(' ') ? distance(typed, n) : distance(first, n) }))
    .sort((a, b) => a.d - b.d || b.n.length - a.n.length);
  const best = scored[0];
  if (best && best.d <= 2) return best.n;
  return names.find((n) => first.length >= 3 && n.startsWith(first));
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j] as number;
      row[j] = Math.min(here + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length] as number;
}

/** `--output FILE` was the file option of invoke, jobs result and bills get (now `-o/--out`): a value that is no format still means the file. */
function compatOutput(argv: string[], command: Command | undefined): string[] {
  if (!command?.flags.out) return argv;
  return argv.flatMap((a, i) => {
    const next = argv[i + 1];
    if (a === '--output' && next !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(next)) return ['--out'];
    if (a.startsWith('--output=') && !(OUTPUT_FORMATS as readonly string[]).includes(a.slice(9))) return [`--out=${a.slice(9)}`];
    return [a];
  });
}

function formatOf(argv: string[]): 'json' | 'yaml' | 'table' | undefined {
  const i = argv.findIndex((a) => a === '--output' || a.startsWith('--output='));
  const value = i < 0 ? undefined : argv[i]?.includes('=') ? argv[i]?.slice(9) : argv[i + 1];
  if (value === undefined) return argv.includes('--json') ? 'json' : undefined;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(value)) throw new UsageError(`--output ${value}: choose json, yaml or table`);
  return value as 'json' | 'yaml' | 'table';
}

export async function main(argv: string[], baseIo: Io): Promise<number> {
  const found = findCommand(argv);
  const { command, words } = found;
  const rest = compatOutput(found.rest, command);
  let io = baseIo;
  let json = argv.includes('--json');
  try {
    if (!command) {
      const { flags } = parseArgs(argv.filter((a) => a.startsWith('-')), GLOBAL_FLAGS);
      if (flags.version) {
        io.stdout.write(`chainfaas ${version()}\n`);
        return EXIT.ok;
      }
      if (words[0] === 'help') {
        const target = COMMANDS.find((c) => c.name === words.slice(1).join(' ')) ?? COMMANDS.find((c) => c.name === words[1]);
        io.stdout.write(`${target ? commandHelp(target) : words[1] && COMMANDS.some((c) => c.name.startsWith(`${words[1]} `)) ? groupHelp(words[1]) : mainHelp()}\n`);
        return EXIT.ok;
      }
      if (words.length === 0) {
        (flags.help ? io.stdout : io.stderr).write(`${mainHelp()}\n`);
        return flags.help ? EXIT.ok : EXIT.usage;
      }
      const group = words[0] as string;
      if (COMMANDS.some((c) => c.name.startsWith(`${group} `))) {
        if (flags.help && words.length === 1) {
          io.stdout.write(`${groupHelp(group)}\n`);
          return EXIT.ok;
        }
        throw new UsageError(words.length > 1 ? `unknown command "${group} ${words[1]}"; ${group} has: ${COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.split(' ')[1]).join(', ')}` : `"${group}" needs a command: ${COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.split(' ')[1]).join(', ')}`);
      }
      const near = didYouMean(words.slice(0, 2).join(' '), group);
      throw new UsageError(`unknown command "${group}"${near ? `; did you mean "${near}"?` : ''}`);
    }
    const spec = { ...GLOBAL_FLAGS, ...command.flags };
    const { flags, positionals } = parseArgs(rest, spec, command.name);
    const format = formatOf(rest);
    json = format === 'json' || format === 'yaml';
    if (format === 'yaml') io = { ...baseIo, format: 'yaml' };
    if (flags.help) {
      io.stdout.write(`${commandHelp(command)}\n`);
      return EXIT.ok;
    }
    const file = configPath(flags.config as string | undefined);
    const profile = profileName(flags.profile as string | undefined);
    let saved: ProfileConfig | undefined;
    const load = () => (saved ??= readProfile(file, profile));
    const inProfile = profile === 'default' ? '' : ` --profile ${profile}`;
    const apiUrl = () => {
      const url = (flags['api-url'] as string | undefined) ?? process.env.CHAINFAAS_API_URL ?? load().apiUrl;
      if (!url) {
        if (command.name === 'login' || command.name === 'register') throw new UsageError('give --api-url (the address of the ChainFaaS API)', command.name);
        throw new ConfigError(`no API address: run chainfaas login${inProfile} --api-url URL ..., or set CHAINFAAS_API_URL`);
      }
      if (!/^https?:\/\/[^\s/]+/.test(url)) throw new UsageError(`--api-url ${url}: give an http(s) URL such as https://api.example.com`, command.name);
      return url.replace(/\/+$/, '');
    };
    const ctx: Context = {
      io,
      flags,
      args: positionals,
      json,
      configFile: file,
      profile,
      saved: load,
      apiUrl,
      api: () => {
        const token = (flags.token as string | undefined) ?? process.env.CHAINFAAS_TOKEN ?? load().token;
        if (!token) throw new ConfigError(`not logged in${inProfile ? ` (profile ${profile})` : ''}: run chainfaas login${inProfile} --api-url URL --email EMAIL --password-stdin (or pass --token)`);
        return new ApiClient(apiUrl(), token);
      },
    };
    return await command.run(ctx);
  } catch (err) {
    return report(io, err, json);
  }
}

/** An error for scripts: one line of JSON, or YAML with --output yaml. */
function structuredError(io: Io, body: unknown): void {
  if (io.format === 'yaml') printJson(io, body);
  else io.stdout.write(`${JSON.stringify(body)}\n`);
}

function report(io: Io, err: unknown, json: boolean): number {
  if (err instanceof AmbiguousName) {
    io.stderr.write(`chainfaas: ${err.message}\n`);
    if (json) structuredError(io, { error: { code: 'ambiguous_name', message: err.message.split('\n')[0], candidates: err.candidates.map((f) => ({ functionId: f.functionId, name: f.name, version: f.version, createdAt: f.createdAt, image: f.image })) } });
    return EXIT.usage;
  }
  if (err instanceof UsageError) {
    const c = COMMANDS.find((x) => x.name === err.command);
    io.stderr.write(`chainfaas: ${err.message}\n${c ? `Usage: ${c.usage}\nRun 'chainfaas ${c.name} --help' for its options.` : "Run 'chainfaas --help' for the commands."}\n`);
    return EXIT.usage;
  }
  if (err instanceof ConfigError) {
    io.stderr.write(`chainfaas: ${err.message}\n`);
    if (json) structuredError(io, { error: { code: 'config', message: err.message } });
    return EXIT.auth;
  }
  if (err instanceof ApiError) {
    io.stderr.write(`chainfaas: ${describeError(err)}\n`);
    // The HTTP status wins over a detail of the problem also named `status` (a bill's, a top-up's).
    if (json) structuredError(io, { error: { ...err.problem, status: err.status } });
    return err.status === 401 ? EXIT.auth : EXIT.error;
  }
  io.stderr.write(`chainfaas: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT.error;
}

if (require.main === module) {
  requireNode('chainfaas', PLATFORM_NODE);
  // Output nobody reads any more (`chainfaas … | head -1`): stop quietly, as other tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`chainfaas: internal error: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT.error;
    },
  );
}
