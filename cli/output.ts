/**
 * What the CLI prints. Results go to stdout (a table for people, JSON with --json for scripts);
 * progress and errors go to stderr, so `chainfaas invoke fn > out` captures only the result.
 */

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** The format of structured output (`--output json|yaml`; `--json` is json). @default json */
  format?: 'json' | 'yaml';
}

export const OUTPUT_FORMATS = ['json', 'yaml', 'table'] as const;

/** Structured output for scripts: the API's answer as JSON, or the same data as YAML (`--output yaml`). */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(io.format === 'yaml' ? toYaml(value) : `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * JSON data as block-style YAML 1.2 (mappings, sequences, scalars). Strings are quoted as JSON
 * strings (valid YAML) whenever a plain scalar could be read as something else, so the document
 * reads back to the same data.
 */
export function toYaml(value: unknown): string {
  const lines: string[] = [];
  const scalar = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    const text = String(v);
    const plain = /^[A-Za-z_./][A-Za-z0-9_ ./@+-]*$/.test(text) && !/^(true|false|null|yes|no|on|off|~)$/i.test(text) && !/\s$/.test(text) && !text.includes(': ') && !text.includes(' #');
    return plain ? text : JSON.stringify(text);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const walk = (v: unknown, indent: string): void => {
    if (Array.isArray(v)) {
      for (const item of v) {
        if ((isObject(item) && Object.keys(item).length) || (Array.isArray(item) && item.length)) {
          const sub: string[] = [];
          const before = lines.length;
          walk(item, `${indent}  `);
          sub.push(...lines.splice(before));
          lines.push(`${indent}- ${(sub[0] as string).slice(indent.length + 2)}`, ...sub.slice(1));
        } else lines.push(`${indent}- ${isObject(item) ? '{}' : Array.isArray(item) ? '[]' : scalar(item)}`);
      }
      return;
    }
    if (isObject(v)) {
      for (const [k, item] of Object.entries(v)) {
        if (item === undefined) continue;
        const key = scalar(k);
        if ((isObject(item) && Object.keys(item).length) || (Array.isArray(item) && item.length)) {
          lines.push(`${indent}${key}:`);
          walk(item, `${indent}  `);
        } else lines.push(`${indent}${key}: ${isObject(item) ? '{}' : Array.isArray(item) ? '[]' : scalar(item)}`);
      }
      return;
    }
    lines.push(`${indent}${scalar(v)}`);
  };
  if ((isObject(value) && !Object.keys(value).length) || (Array.isArray(value) && !value.length)) return `${isObject(value) ? '{}' : '[]'}\n`;
  walk(value, '');
  return `${lines.join('\n')}\n`;
}

/** Columns padded to their widest cell, headers in capitals (faas-cli list, wsk list). */
export function printTable(io: Io, headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  io.stdout.write(`${line(headers.map((h) => h.toUpperCase()))}\n`);
  for (const r of rows) io.stdout.write(`${line(r)}\n`);
}

/** `label: value` pairs, labels aligned (jobs get, functions get). */
export function printFacts(io: Io, pairs: [string, string | undefined][]): void {
  const shown = pairs.filter((p): p is [string, string] => p[1] !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length));
  for (const [k, v] of shown) io.stdout.write(`${`${k}:`.padEnd(width + 1)}  ${v}\n`);
}

/**
 * A spinner on stderr while the CLI waits (invoke). Drawn only on a terminal; elsewhere (CI,
 * pipes) it prints each new status once, so logs stay readable.
 */
export class Spinner {
  private static readonly FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private text = '';
  private lastPrinted = '';
  private readonly started = Date.now();

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly enabled: boolean,
    private readonly tty = stream.isTTY === true,
  ) {}

  start(text: string): this {
    this.text = text;
    if (!this.enabled) return this;
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 80);
      this.draw();
    } else this.printOnce();
    return this;
  }

  update(text: string): void {
    this.text = text;
    if (this.enabled && !this.tty) this.printOnce();
  }

  stop(final?: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.enabled) return;
    if (this.tty) this.stream.write('\r\x1b[2K');
    if (final) this.stream.write(`${final}\n`);
  }

  private draw(): void {
    const s = ((Date.now() - this.started) / 1000).toFixed(1);
    this.stream.write(`\r\x1b[2K${Spinner.FRAMES[this.frame++ % Spinner.FRAMES.length]} ${this.text} (${s} s)`);
  }

  private printOnce(): void {
    if (this.text === this.lastPrinted) return;
    this.lastPrinted = this.text;
    this.stream.write(`${this.text}\n`);
  }
}
