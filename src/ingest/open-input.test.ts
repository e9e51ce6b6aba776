// openInput: gzip and UTF-16 (what Windows PowerShell's `>` redirection writes) are undone once,
// here, so every format reads UTF-8 bytes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { collectFile } from './collect.js';
import { openInput } from './open-input.js';
import { detectFormat, getFormat } from './registry.js';
import { expectedFormats, sample } from './test-files.js';

const dir = mkdtempSync(join(tmpdir(), 'pathwarden-open-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `text` as UTF-16 with a byte order mark. */
function utf16(text: string, order: 'le' | 'be'): Buffer {
  const le = Buffer.from(`\ufeff${text}`, 'utf16le');
  return order === 'le' ? le : le.swap16();
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('openInput: UTF-16 with a byte order mark (issue 10, item 11)', () => {
  const text = 'line one ü\r\nline two €\n𝄞 last';

  test.each(['le', 'be'] as const)(
    'UTF-16%s is decoded to UTF-8, in one chunk or byte by byte',
    async (order) => {
      const bytes = utf16(text, order);
      const whole = await openInput('-', Readable.from([bytes]));
      expect(whole.encoding).toBe(`utf-16${order}`);
      expect(whole.head.toString('utf8')).toBe(text);
      expect((await readAll(whole.stream)).toString('utf8')).toBe(text);
      const pieces = [...bytes].map((byte) => Buffer.from([byte]));
      const split = await openInput('-', Readable.from(pieces), 7);
      expect(split.head.toString('utf8')).toBe(text.slice(0, 7));
      expect((await readAll(split.stream)).toString('utf8')).toBe(text);
    },
  );

  test('gzip of UTF-16 is decoded too; UTF-8 and binary inputs are left alone', async () => {
    const gz = await openInput('-', Readable.from([gzipSync(utf16(text, 'le'))]));
    expect(gz.compressed).toBe(true);
    expect((await readAll(gz.stream)).toString('utf8')).toBe(text);
    const plain = await openInput('-', Readable.from([Buffer.from(text)]));
    expect(plain.encoding).toBe('utf-8');
    const pcap = Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 0xff, 0xfe]);
    expect(await readAll((await openInput('-', Readable.from([pcap]))).stream)).toEqual(pcap);
  });

  test('every line-based sample, rewritten as UTF-16 LE and BE, is detected and read like the original', async () => {
    const lineSamples = Object.entries(expectedFormats).filter(
      ([path, format]) => format !== undefined && format !== 'pcap' && path.includes('/samples/'),
    );
    expect(lineSamples.length).toBeGreaterThan(10);
    for (const [path, name] of lineSamples) {
      const format = getFormat(name as NonNullable<typeof name>);
      if (!format) throw new Error(`no format ${name}`);
      const original = await collectFile(format, path, { file: 'x' });
      for (const order of ['le', 'be'] as const) {
        const copy = join(dir, `${order}-${path.split('/').pop()}`);
        writeFileSync(copy, utf16(readFileSync(path, 'utf8'), order));
        const opened = await openInput(copy);
        opened.stream.destroy();
        expect(detectFormat(opened.head)?.name, `${path} ${order}`).toBe(name);
        const decoded = await collectFile(format, copy, { file: 'x' });
        expect(decoded, `${path} ${order}`).toEqual(original);
      }
    }
  });

  test('the squid sample in UTF-16LE: before the fix no flow; now its 100', async () => {
    const copy = join(dir, 'squid-utf16.log');
    writeFileSync(copy, utf16(readFileSync(sample('squid-access.log'), 'utf8'), 'le'));
    const format = getFormat('squid');
    if (!format) throw new Error('no squid format');
    const { flows, problems } = await collectFile(format, copy);
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(100);
  });
});
