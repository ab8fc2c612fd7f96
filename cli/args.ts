/**
 * A small command-line parser in the style of the AWS CLI and faas-cli: `--flag value`,
 * `--flag=value`, boolean switches, repeatable flags, one-letter aliases, `--` ends the flags.
 * Anything it does not know is a UsageError (exit code 2), named with the flag.
 */

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose help to point at (`functions create`). */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagKind = 'string' | 'number' | 'boolean' | 'list';

export interface FlagSpec {
  kind: FlagKind;
  alias?: string;
  /** Placeholder in the help text (`URL`, `CREDITS`). */
  value?: string;
  help: string;
}

export type Flags = Record<string, string | number | boolean | string[] | undefined>;

export interface Parsed {
  flags: Flags;
  positionals: string[];
}

export function parseArgs(argv: string[], spec: Record<string, FlagSpec>, command?: string): Parsed {
  const flags: Flags = {};
  const positionals: string[] = [];
  const byAlias = new Map(Object.entries(spec).filter(([, s]) => s.alias).map(([name, s]) => [s.alias as string, name]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      name = byAlias.get(arg.slice(1));
      if (!name) throw new UsageError(`unknown option ${arg}`, command);
    } else {
      positionals.push(arg);
      continue;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`, command);
    if (s.kind === 'boolean') {
      if (inline !== undefined && !['true', 'false'].includes(inline)) throw new UsageError(`--${name} takes no value (or =true/=false)`, command);
      flags[name] = inline === undefined ? true : inline === 'true';
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`--${name} needs a value${s.value ? ` (${s.value})` : ''}`, command);
      value = next;
      i++;
    }
    if (s.kind === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`, command);
      flags[name] = n;
    } else if (s.kind === 'list') {
      flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    } else {
      flags[name] = value;
    }
  }
  return { flags, positionals };
}

/** Help lines for a flag table, aligned. */
export function flagHelp(spec: Record<string, FlagSpec>): string {
  const rows = Object.entries(spec).map(([name, s]) => [`${s.alias ? `-${s.alias}, ` : '    '}--${name}${s.kind === 'boolean' ? '' : ` ${s.value ?? 'VALUE'}`}${s.kind === 'list' ? ' ...' : ''}`, s.help]);
  const width = Math.max(...rows.map((r) => (r[0] as string).length));
  return rows.map(([a, b]) => `  ${(a as string).padEnd(width)}  ${b}`).join('\n');
}
