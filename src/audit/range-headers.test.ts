// watchHeaders() notes the same header lines whatever the chunk boundaries (a header line cut
// between chunks, at the first or last byte, CRLF), from reused chunk buffers, and passes every
// chunk through unchanged.
import { describe, expect, test } from 'vitest';
import { zeekFormat } from '../ingest/zeek.js';
import { headersAfter, MAX_RANGE_HEADER_LINES, type RangeHeaders, watchHeaders } from './range-headers.js';

const headerLine = zeekFormat.headerLine as NonNullable<typeof zeekFormat.headerLine>;

/** The chunks of `text`, `size` bytes each, all views of one reused buffer (as FileChunks gives). */
async function* chunksOf(text: Buffer, size: number): AsyncGenerator<Buffer> {
  const buffer = Buffer.alloc(size);
  for (let at = 0; at < text.length; at += size) {
    const n = text.copy(buffer, 0, at, Math.min(text.length, at + size));
    yield buffer.subarray(0, n);
    buffer.fill(0x21);
  }
}

async function watch(
  text: string,
  size: number,
  skip = 0,
): Promise<{ headers: RangeHeaders | null; out: string }> {
  let headers: RangeHeaders | null | undefined;
  const parts: Buffer[] = [];
  const input = Buffer.from(text, 'utf8');
  for await (const chunk of watchHeaders(chunksOf(input, size), skip, headerLine, (seen) => {
    headers = seen;
  }))
    parts.push(Buffer.from(chunk));
  expect(headers).not.toBeUndefined();
  return { headers: headers as RangeHeaders | null, out: Buffer.concat(parts).toString('utf8') };
}

describe('watchHeaders', () => {
  test('the same header lines at every chunk size', async () => {
    const text = [
      '#fields\ta\tb', // at the first byte: no block start before it
      '1\t2',
      '#close\t2026',
      '#separator \\x09',
      '#path\tconn\r',
      '#fields\tts\tuid',
      '3\t# not a header',
      '4\t5',
      '#types\ttime\tstring', // read by nothing: not noted
      '#separator', // without its space the parser does not start a section: not noted
      '#unset_field\t-',
    ].join('\n'); // the last header line has no newline
    const expected: RangeHeaders = {
      start: true,
      lines: ['#separator \\x09', '#path\tconn', '#fields\tts\tuid', '#unset_field\t-'],
    };
    for (let size = 1; size <= text.length + 1; size++) {
      const { headers, out } = await watch(text, size);
      expect(headers, `chunks of ${size}`).toEqual(expected);
      expect(out).toBe(text);
    }
    expect(headersAfter(['#old'], expected)).toEqual(expected.lines);
  });

  test('without a block start the lines add to those in force; a prelude chunk is skipped', async () => {
    const text = '#fields\tx\n1\n#path\ty\n';
    for (const size of [1, 3, 64]) {
      const { headers } = await watch(`#separator \\x09\n${text}`, size, size === 64 ? 1 : 0);
      if (size === 64)
        expect(headers).toEqual({ start: false, lines: [] }); // all in the skipped chunk
      else expect(headers).toEqual({ start: true, lines: ['#separator \\x09', '#fields\tx', '#path\ty'] });
    }
    const { headers } = await watch(text, 4);
    expect(headers).toEqual({ start: false, lines: ['#fields\tx', '#path\ty'] });
    expect(headersAfter(['#separator \\x09'], headers as RangeHeaders)).toEqual([
      '#separator \\x09',
      '#fields\tx',
      '#path\ty',
    ]);
  });

  test('a byte-order mark before the first line of a file does not hide it', async () => {
    const { headers } = await watch('\ufeff#separator \\x7c\n#fields|a\n1\n', 5);
    expect(headers).toEqual({ start: true, lines: ['#separator \\x7c', '#fields|a'] });
  });

  test('too many header lines make the range unusable (null)', async () => {
    const text = `${Array.from({ length: MAX_RANGE_HEADER_LINES + 1 }, (_, i) => `#path\t${i}`).join('\n')}\n`;
    expect((await watch(text, 4096)).headers).toBeNull();
  });
});
