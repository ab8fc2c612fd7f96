import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { canonicalJson, sha256Hex } from '../../../contract/src';
import type { LedgerIdentity } from './simulated-stub';

/**
 * The embedded ledger's append-only block file: one JSON block per line. Each block names its
 * predecessor's hash and carries its own SHA-256 over its canonical JSON (without the `hash`
 * member), so changing any byte of a committed block breaks the chain from that block on.
 */

/** The hash the first block names as its predecessor. */
export const GENESIS_PREVIOUS_HASH = '0'.repeat(64);

/** A state write in a block: the new value as UTF-8 text (or base64 when not valid UTF-8), or a delete. */
export interface BlockWrite {
  key: string;
  value?: string;
  valueBase64?: string;
  isDelete?: true;
}

/** One committed transaction as recorded in a block. */
export interface BlockTransaction {
  txId: string;
  /** ISO-8601 transaction time */
  timestamp: string;
  creator: LedgerIdentity;
  contract: string;
  transaction: string;
  args: string[];
  writes: BlockWrite[];
  event?: { name: string; payload: string };
  /** The transaction's return value as sent to the client. */
  response: string;
}

export interface Block {
  number: number;
  previousHash: string;
  timestamp: string;
  transactions: BlockTransaction[];
  hash: string;
}

/** The result of checking a block file. */
export interface ChainVerification {
  ok: boolean;
  /** How many blocks verified before the first bad one (all of them when ok). */
  blocks: number;
  /** Number (line index) of the first block that does not verify. */
  firstBadBlock?: number;
  reason?: string;
}

/** SHA-256 (hex) of a block's canonical JSON without its `hash`. */
export function blockHash(block: Omit<Block, 'hash'>): string {
  const { number, previousHash, timestamp, transactions } = block;
  return sha256Hex(canonicalJson({ number, previousHash, timestamp, transactions }));
}

/** Encodes a value for a block: text when it round-trips as UTF-8, base64 otherwise. */
export function encodeValue(key: string, value: Buffer | null): BlockWrite {
  if (value === null) return { key, isDelete: true };
  const text = value.toString('utf8');
  return Buffer.from(text, 'utf8').equals(value) ? { key, value: text } : { key, valueBase64: value.toString('base64') };
}

export function decodeValue(write: BlockWrite): Buffer | null {
  if (write.isDelete) return null;
  if (write.valueBase64 !== undefined) return Buffer.from(write.valueBase64, 'base64');
  return Buffer.from(write.value ?? '', 'utf8');
}

/** Checks every line of a block file's text: parseable, numbered in sequence, linked, hashed. */
export function verifyBlockLines(lines: readonly string[]): ChainVerification & { chain: Block[] } {
  const chain: Block[] = [];
  let previousHash = GENESIS_PREVIOUS_HASH;
  for (const [index, line] of lines.entries()) {
    const bad = (reason: string) => ({ ok: false, blocks: index, firstBadBlock: index, reason, chain });
    let block: Block;
    try {
      block = JSON.parse(line) as Block;
    } catch {
      return bad('not valid JSON');
    }
    if (block === null || typeof block !== 'object' || !Array.isArray(block.transactions)) return bad('not a block');
    if (block.number !== index) return bad(`numbered ${String(block.number)}, expected ${index}`);
    if (block.previousHash !== previousHash) return bad("does not name the previous block's hash");
    if (blockHash(block) !== block.hash) return bad('its contents do not match its hash');
    chain.push(block);
    previousHash = block.hash;
  }
  return { ok: true, blocks: chain.length, chain };
}

/** The block file on disk: read whole on open, appended and fsynced one block at a time. */
export class BlockFile {
  private fd: number | undefined;

  constructor(readonly path: string) {}

  /**
   * The complete lines of the file. A final line without its newline is a write that a crash
   * interrupted (the block was never acknowledged); it is cut off.
   */
  readLines(): string[] {
    if (!existsSync(this.path)) return [];
    const text = readFileSync(this.path, 'utf8');
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) truncateSync(this.path, Buffer.byteLength(text.slice(0, end), 'utf8'));
    return text
      .slice(0, end)
      .split('\n')
      .filter((line) => line.length > 0);
  }

  append(block: Block): void {
    this.fd ??= openSync(this.path, 'a');
    writeSync(this.fd, `${canonicalJson(block)}\n`);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
