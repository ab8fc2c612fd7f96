/**
 * What the CLI prints. Results go to stdout (a table for people, JSON with --json for scripts);
 * progress and errors go to stderr, so `chainfaas invoke fn > out` captures only the result.
 */

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
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
