// A folder of batches a remote store has not acknowledged yet. Each batch is one file, written to a
// temporary name, synced, renamed into place and the folder synced: after a crash a batch is either
// whole under its final name or absent. Batches are numbered, so they are replayed in the order they
// were spooled, and the folder survives a restart. A size cap keeps a long outage from filling the disk.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PathwardenError } from '../errors.js';

/** Text formats of spooled rows (ClickHouse's names). Batches spooled before `format` existed are JSONEachRow. */
export type SpoolFormat = 'TabSeparated' | 'JSONEachRow';
const spoolFormats: readonly SpoolFormat[] = ['TabSeparated', 'JSONEachRow'];

/** What a spooled batch says about itself: whose records, which ids, how many, in which format. */
export interface SpoolHeader {
  gateway: string;
  firstId: number;
  lastId: number;
  rows: number;
  format: SpoolFormat;
}

export interface SpooledBatch extends SpoolHeader {
  /** Order of spooling (file name). */
  sequence: number;
  file: string;
  bytes: number;
}

/** Writes one file durably; replaced in tests to simulate a full disk. */
export type SpoolWriter = (path: string, data: Buffer) => Promise<void>;

export interface SpoolOptions {
  /** Bytes the folder may hold; a batch that would go beyond is refused (default 1 GiB). */
  maxBytes?: number;
  writeFile?: SpoolWriter;
}

export class SpoolFullError extends PathwardenError {
  constructor(message: string) {
    super('PW_ERR_STORE_IO', message);
  }
}

const batchPattern = /^batch-(\d{16})\.ndjson$/;
const idsFile = 'ids';
const defaultMaxBytes = 1024 ** 3;

async function durableWrite(path: string, data: Buffer): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function parseHeader(line: string): SpoolHeader | undefined {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    const { gateway, firstId, lastId, rows } = value;
    const format = value.format ?? 'JSONEachRow';
    if (
      typeof gateway === 'string' &&
      spoolFormats.includes(format as SpoolFormat) &&
      Number.isSafeInteger(firstId) &&
      Number.isSafeInteger(lastId) &&
      Number.isSafeInteger(rows)
    ) {
      return {
        gateway,
        firstId: firstId as number,
        lastId: lastId as number,
        rows: rows as number,
        format: format as SpoolFormat,
      };
    }
  } catch {
    // not a header
  }
  return undefined;
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #write: SpoolWriter;
  #batches: SpooledBatch[] = [];
  #bytes = 0;
  #nextSequence = 1;
  /** Files found unreadable at open (moved aside, never replayed). */
  readonly rejected: string[] = [];

  private constructor(dir: string, options: SpoolOptions) {
    this.dir = dir;
    this.maxBytes = options.maxBytes ?? defaultMaxBytes;
    this.#write = options.writeFile ?? durableWrite;
  }

  /** Opens (creating) the folder and lists the batches in it; half-written files are removed. */
  static open(dir: string, options: SpoolOptions = {}): Spool {
    const spool = new Spool(dir, options);
    try {
      mkdirSync(dir, { recursive: true });
      for (const name of readdirSync(dir).sort()) {
        const path = join(dir, name);
        if (name.startsWith('.tmp-')) {
          rmSync(path, { force: true });
          continue;
        }
        const match = batchPattern.exec(name);
        if (!match) continue;
        const text = readFileSync(path, 'utf8');
        const header = parseHeader(text.slice(0, text.indexOf('\n')));
        if (!header) {
          renameSync(path, join(dir, `rejected-${name}`));
          spool.rejected.push(path);
          continue;
        }
        const bytes = statSync(path).size;
        spool.#batches.push({ ...header, sequence: Number(match[1]), file: path, bytes });
        spool.#bytes += bytes;
      }
    } catch (error) {
      throw new PathwardenError('PW_ERR_STORE_OPEN', `cannot open spool folder ${dir}: ${String(error)}`, {
        cause: error,
      });
    }
    const last = spool.#batches.at(-1);
    spool.#nextSequence = last ? last.sequence + 1 : 1;
    return spool;
  }

  get batches(): number {
    return this.#batches.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The highest id in any spooled batch (0 when empty). */
  get lastId(): number {
    return this.#batches.reduce((max, batch) => Math.max(max, batch.lastId), 0);
  }

  /** The oldest batch, which must be replayed before any other. */
  peek(): SpooledBatch | undefined {
    return this.#batches[0];
  }

  /**
   * The oldest batches, in order, of one format and up to `maxRows` rows in all (at least one batch
   * when any).
   */
  peekGroup(maxRows: number): SpooledBatch[] {
    const group: SpooledBatch[] = [];
    let rows = 0;
    for (const batch of this.#batches) {
      if (group.length > 0 && (rows + batch.rows > maxRows || batch.format !== group[0]?.format)) break;
      group.push(batch);
      rows += batch.rows;
    }
    return group;
  }

  /** Adds a batch after the others; throws SpoolFullError beyond the size cap or when the write fails. */
  async push(header: SpoolHeader, body: string): Promise<SpooledBatch> {
    const data = Buffer.from(`${JSON.stringify(header)}\n${body}`);
    if (this.#bytes + data.length > this.maxBytes) {
      throw new SpoolFullError(
        `spool ${this.dir} holds ${this.#bytes} bytes; a batch of ${data.length} more would pass spoolMaxBytes (${this.maxBytes})`,
      );
    }
    const sequence = this.#nextSequence++;
    const name = `batch-${String(sequence).padStart(16, '0')}.ndjson`;
    const temporary = join(this.dir, `.tmp-${name}`);
    const file = join(this.dir, name);
    try {
      await this.#write(temporary, data);
      await rename(temporary, file);
      syncFolder(this.dir);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw new SpoolFullError(`cannot write spool batch ${file}: ${String(error)}`);
    }
    const batch = { ...header, sequence, file, bytes: data.length };
    this.#batches.push(batch);
    this.#bytes += data.length;
    return batch;
  }

  /** The body of a batch (the lines after its header). */
  async read(batch: SpooledBatch): Promise<string> {
    const text = await readFile(batch.file, 'utf8');
    return text.slice(text.indexOf('\n') + 1);
  }

  /** Removes the oldest batch once it is stored. */
  async remove(batch: SpooledBatch): Promise<void> {
    if (this.#batches[0] !== batch) throw new Error('spool batches are removed oldest first');
    await rm(batch.file, { force: true });
    this.#batches.shift();
    this.#bytes -= batch.bytes;
  }

  /** Moves the oldest batch aside (`rejected-batch-*.ndjson`) when ClickHouse refuses its content. */
  async reject(batch: SpooledBatch): Promise<string> {
    if (this.#batches[0] !== batch) throw new Error('spool batches are rejected oldest first');
    const target = join(this.dir, `rejected-${basename(batch.file)}`);
    await rename(batch.file, target);
    this.#batches.shift();
    this.#bytes -= batch.bytes;
    return target;
  }

  /** The highest id reserved so far (0 when never written): no stored record has a higher one. */
  reservedIds(): number | undefined {
    try {
      const value = Number(readFileSync(join(this.dir, idsFile), 'utf8').trim());
      return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records durably that ids up to `upTo` may be in use. */
  async reserveIds(upTo: number): Promise<void> {
    const temporary = join(this.dir, `.tmp-${idsFile}`);
    await durableWrite(temporary, Buffer.from(`${upTo}\n`));
    await rename(temporary, join(this.dir, idsFile));
    syncFolder(this.dir);
  }
}
