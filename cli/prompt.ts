import { UsageError } from './args';
import type { Io } from './output';

/**
 * Questions on a terminal: a line read as typed, or a secret read without echo (the password is
 * never on the command line, so never in the shell's history), as `sudo` and `docker login` ask.
 * Questions go to stderr; answers come from stdin, which must be a terminal.
 */

type TtyIn = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown };

export function canPrompt(io: Io): boolean {
  return io.stdin.isTTY === true;
}

/** Reads one line; `hidden` echoes nothing (backspace edits, Ctrl-C or Ctrl-D gives up). */
export function ask(io: Io, question: string, hidden = false): Promise<string> {
  const stdin = io.stdin as TtyIn;
  if (!stdin.isTTY) return Promise.reject(new UsageError(`${question.replace(/:\s*$/, '')}: stdin is not a terminal to ask on`));
  return new Promise((resolve, reject) => {
    let answer = '';
    const raw = hidden && typeof stdin.setRawMode === 'function';
    // Echo off before the question shows: an answer typed at once is never echoed.
    if (raw) stdin.setRawMode?.(true);
    io.stderr.write(question);
    stdin.setEncoding?.('utf8');
    stdin.resume();
    const done = (fn: () => void) => {
      stdin.removeListener('data', onData);
      if (raw) stdin.setRawMode?.(false);
      stdin.pause();
      if (hidden) io.stderr.write('\n');
      fn();
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(answer));
        if (ch === '\u0003' || ch === '\u0004') return done(() => reject(new UsageError('cancelled')));
        if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    stdin.on('data', onData);
  });
}
