import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { DnsAnswers } from './dns-answers.js';
import type { IngestContext } from './format.js';
import { readLines, splitFields } from './line-reader.js';

async function lines(pieces: (string | Buffer)[], maxLineBytes?: number) {
  const seen: [number, string][] = [];
  const problems: [number, string][] = [];
  const ctx: IngestContext = {
    file: 'x',
    dns: new DnsAnswers(),
    problem: (line, message) => problems.push([line, message]),
  };
  const input = Readable.from(
    pieces.map((piece) => (typeof piece === 'string' ? Buffer.from(piece) : piece)),
  );
  for await (const _ of readLines(input, ctx, (line, number) => seen.push([number, line]), {
    maxLineBytes,
  })) {
    // one step per chunk
  }
  return { seen, problems };
}

describe('readLines', () => {
  const text = '\uFEFFfirst\r\nsecond\n\n  \nfourth ünïcode\nlast without newline';

  test('CRLF and LF, blank lines counted but not delivered, BOM removed, last line without newline', async () => {
    const { seen, problems } = await lines([text]);
    expect(problems).toEqual([]);
    expect(seen).toEqual([
      [1, 'first'],
      [2, 'second'],
      [4, '  '],
      [5, 'fourth ünïcode'],
      [6, 'last without newline'],
    ]);
  });

  test('the same lines whatever the chunking, even inside a UTF-8 character', async () => {
    const bytes = Buffer.from(text);
    const expected = (await lines([text])).seen;
    for (const size of [1, 2, 3, 7]) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
      expect((await lines(pieces)).seen).toEqual(expected);
    }
  });

  test('a line over the limit is reported once with its number and skipped, in one chunk or across many', async () => {
    const long = `ok\n${'x'.repeat(100)}\nafter\n`;
    for (const pieces of [[long], long.match(/.{1,9}/gs) as string[]]) {
      const { seen, problems } = await lines(pieces, 50);
      expect(seen).toEqual([
        [1, 'ok'],
        [3, 'after'],
      ]);
      expect(problems).toEqual([[2, 'line is longer than 50 bytes; skipped']]);
    }
  });

  test('a stream error becomes a problem after the lines before it', async () => {
    const input = new Readable({ read() {} });
    input.push('a\nb\n');
    setImmediate(() => input.destroy(new Error('boom')));
    const problems: [number, string][] = [];
    const seen: string[] = [];
    const ctx: IngestContext = {
      file: 'x',
      dns: new DnsAnswers(),
      problem: (line, message) => problems.push([line, message]),
    };
    for await (const _ of readLines(input, ctx, (line) => seen.push(line))) {
      // one step per chunk
    }
    expect(seen).toEqual(['a', 'b']);
    expect(problems).toEqual([[3, 'input could not be read to the end: boom']]);
  });
});

describe('splitFields', () => {
  /** The fields splitFields finds in `text` (between offsets `from` and `to`) up to `last`, as strings. */
  const split = (text: string, last: number, from = 0, to = text.length) => {
    const b = Buffer.from(text, 'latin1');
    const starts = new Int32Array(last + 2);
    const ends = new Int32Array(last + 2);
    if (!splitFields(b, from, to, 0x09, last, starts, ends)) return null;
    return Array.from({ length: last + 1 }, (_, i) => b.toString('latin1', starts[i], ends[i]));
  };

  test('finds the fields up to the last one asked for, empty ones included', () => {
    expect(split('a\tbb\t\tc\td', 2)).toEqual(['a', 'bb', '']);
    expect(split('a\tbb\t\tc\td', 4)).toEqual(['a', 'bb', '', 'c', 'd']);
    expect(split('a\tb\t', 2)).toEqual(['a', 'b', '']);
    expect(split('', 0)).toEqual(['']);
  });

  test('the same fields as String.split, wherever the separators fall', () => {
    // The reference: String.split on the same text.
    const reference = (text: string, last: number, from: number, to: number) => {
      const fields = text.slice(from, to).split('\t');
      return fields.length > last ? fields.slice(0, last + 1) : null;
    };
    // Bytes that differ from the tab by one bit or sit next to it (0x08, 0x0a, 0x89, 0x19, 0x29),
    // separators at every offset modulo 4, runs of them, and the line's last bytes.
    const pieces = [
      'a',
      'bc',
      '\u0089',
      '\u0008',
      '\n',
      '\u0019',
      '\u0029',
      'xyzw',
      '\u00ff\u00fe',
      '\t',
      '\t\t',
    ];
    let seed = 7;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let n = 0; n < 2000; n++) {
      let text = '';
      const length = next() % 30;
      for (let k = 0; k < length; k++) text += pieces[next() % pieces.length];
      const from = next() % 3;
      const to = Math.max(from, text.length - (next() % 3));
      const last = next() % 8;
      expect(split(text, last, from, to)).toEqual(reference(text, last, from, to));
    }
  });

  test('refuses a line with fewer fields and never reads past the end', () => {
    expect(split('a\tb', 2)).toBeNull();
    expect(split('a\tb\tc\n1\t2', 2, 0, 3)).toBeNull();
    expect(split('x\ta\tb\tc\n', 2, 2, 7)).toEqual(['a', 'b', 'c']);
  });
});
