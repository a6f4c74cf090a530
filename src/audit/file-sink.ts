import { createReadStream, existsSync, openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { chainLines, GENESIS } from './chain.js';
import type { AuditEvent, AuditRecord } from './events.js';
import type { AuditSink } from './sink.js';
import { WriterLock } from './writer-lock.js';

/**
 * The single-node durable log: an append-only JSONL file (mode 0600). One process writes it,
 * enforced by `<file>.lock` (writer-lock.ts): the first append (or `claim()`, which
 * `countersign serve` calls at start so a second server refuses before it listens) takes the
 * lock and only then reads the chain's head. Reading (`audit verify`, `export`) takes no lock.
 * Each batch is appended and flushed to disk (datasync) before the next, so a crash loses at
 * most the batch in flight.
 */
export class FileAuditSink implements AuditSink {
  readonly kind = 'file';
  private handle: FileHandle | undefined;
  private head: { seq: number; hash: string } | undefined;
  private readonly lock: WriterLock;

  constructor(readonly path: string) {
    this.lock = new WriterLock(`${path}.lock`, `the audit log ${path}`);
  }

  /** Becomes the one writer (or throws WriterLockError naming the one there is), then reads the head it chains onto. */
  claim(): void {
    this.lock.acquire();
    this.head ??= lastRecordOf(this.path);
  }

  async append(events: readonly AuditEvent[], replica: string): Promise<AuditRecord[]> {
    this.claim();
    this.lock.check();
    const head = this.head ?? lastRecordOf(this.path);
    this.handle ??= await open(this.path, 'a', 0o600);
    const { records, lines } = chainLines(events, head.hash, head.seq, replica);
    await this.handle.appendFile(`${lines.join('\n')}\n`);
    await this.handle.datasync();
    const last = records[records.length - 1];
    if (last !== undefined) this.head = { seq: last.seq, hash: last.hash };
    return records;
  }

  async *read(): AsyncIterable<AuditRecord> {
    if (!existsSync(this.path)) return;
    const lines = createInterface({ input: createReadStream(this.path, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) if (line.trim() !== '') yield JSON.parse(line) as AuditRecord;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    this.head = undefined;
    this.lock.release();
  }
}

/** The chain head from the file's last line (only the end of the file is read, so a long log costs nothing at start). */
function lastRecordOf(path: string): { seq: number; hash: string } {
  if (!existsSync(path)) return { seq: 0, hash: GENESIS };
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    readSync(fd, buffer, 0, buffer.length, start);
    const lines = buffer.toString('utf8').trimEnd().split('\n');
    const last = lines[lines.length - 1] ?? '';
    if (last === '') return { seq: 0, hash: GENESIS };
    if (lines.length === 1 && start > 0) throw new Error(`${path} ends with a line longer than ${TAIL_BYTES} bytes; run countersign audit verify`);
    const record = JSON.parse(last) as Partial<AuditRecord>;
    if (typeof record.seq !== 'number' || typeof record.hash !== 'string') throw new Error(`${path} does not end with an audit record; run countersign audit verify`);
    return { seq: record.seq, hash: record.hash };
  } finally {
    closeSync(fd);
  }
}

const TAIL_BYTES = 1024 * 1024;
