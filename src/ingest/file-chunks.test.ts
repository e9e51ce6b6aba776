// FileChunks: a file or a byte range of it, read in chunks of two alternating buffers (the next chunk
// read while the consumer holds this one): the bytes, the ranges, a held chunk left intact, and a
// consumer that stops early.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FileChunks } from './file-chunks.js';

let dir: string;
let file: string;
const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(''));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-file-chunks-'));
  file = join(dir, 'log');
  writeFileSync(file, content);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(chunks: FileChunks, hold = false): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of chunks) {
    const copy = Buffer.from(chunk);
    // The next chunk's read is in flight now: it must not land in the chunk held here.
    if (hold) await sleep(1);
    expect(chunk.equals(copy)).toBe(true);
    out.push(copy);
  }
  return out;
}

describe('FileChunks', () => {
  test('reads the whole file in chunks of its size, the last one short', async () => {
    for (const size of [7, 64, 1000, content.length, content.length + 1]) {
      const chunks = new FileChunks(file, 0, Number.POSITIVE_INFINITY, null, size);
      const parts = await read(chunks);
      expect(Buffer.concat(parts).equals(content)).toBe(true);
      expect(parts.length).toBe(Math.ceil(content.length / size));
      expect(chunks.bytesRead).toBe(content.length);
    }
  });

  test('a held chunk stays intact while the next one is read', async () => {
    const parts = await read(new FileChunks(file, 0, Number.POSITIVE_INFINITY, null, 97), true);
    expect(Buffer.concat(parts).equals(content)).toBe(true);
  });

  test('a byte range with its prelude', async () => {
    const prelude = Buffer.from('#fields\tx\n');
    const parts = await read(new FileChunks(file, 100, 2500, prelude, 64));
    expect(Buffer.concat(parts).equals(Buffer.concat([prelude, content.subarray(100, 2500)]))).toBe(true);
    expect(await read(new FileChunks(file, 50, 50, null, 64))).toEqual([]);
  });

  test('a consumer that stops early leaves no read behind and can read again', async () => {
    for (let stop = 0; stop < 3; stop++) {
      let seen = 0;
      for await (const chunk of new FileChunks(file, 0, Number.POSITIVE_INFINITY, null, 128)) {
        expect(chunk.length).toBe(128);
        if (seen++ === stop) break;
      }
      expect(seen).toBe(stop + 1);
    }
    const parts = await read(new FileChunks(file, 0, Number.POSITIVE_INFINITY, null, 128));
    expect(Buffer.concat(parts).equals(content)).toBe(true);
  });
});
