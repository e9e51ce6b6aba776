import { describe, expect, test } from 'vitest';
import { isGatewayError } from './errors.js';
import { ChunkedFramer, LengthFramer } from './http-body.js';

/** Feeds `text` in pieces of `step` bytes; returns the bytes taken and whether the body ended. */
function feed(text: string, step: number): { taken: number; done: boolean; error?: string } {
  const framer = new ChunkedFramer('PW_GW_BAD_FRAMING', 1024);
  const bytes = Buffer.from(text, 'latin1');
  let taken = 0;
  try {
    for (let at = 0; at < bytes.length && !framer.done; at += step) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + step));
      taken += framer.feed(piece, 0);
    }
  } catch (error) {
    if (isGatewayError(error)) return { taken, done: framer.done, error: error.code };
    throw error;
  }
  return { taken, done: framer.done };
}

describe('chunked bodies', () => {
  const valid = '5\r\nhello\r\nA;name=value;x="q"\r\n0123456789\r\n0\r\nTrailer-A: 1\r\n\r\n';

  test.each([1, 2, 7, 1000])('a valid body fed %i bytes at a time ends exactly at its end', (step) => {
    expect(feed(`${valid}NEXT`, step)).toEqual({ taken: valid.length, done: true });
  });

  test('upper-case hex and whitespace before an extension', () => {
    expect(feed('A ;x\r\n0123456789\r\n0\r\n\r\n', 3).done).toBe(true);
  });

  test.each([
    ['a non-hex size', 'g\r\nx\r\n0\r\n\r\n'],
    ['an empty size', '\r\nx\r\n0\r\n\r\n'],
    ['a negative size', '-1\r\nx\r\n0\r\n\r\n'],
    ['a size with 0x', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['too many digits', '0000000000001\r\nx\r\n0\r\n\r\n'],
    ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ['data longer than its size', '3\r\nhello\r\n0\r\n\r\n'],
    ['LF only after the data', '5\r\nhello\n0\r\n\r\n'],
    ['whitespace without an extension', '5 \r\nhello\r\n0\r\n\r\n'],
    ['an extension not starting with ;', '5 x\r\nhello\r\n0\r\n\r\n'],
    ['a control character in an extension', '5;a\u0001\r\nhello\r\n0\r\n\r\n'],
    ['obs-fold in the trailer', '0\r\nA: 1\r\n folded\r\n\r\n'],
    ['a trailer without a colon', '0\r\nnonsense\r\n\r\n'],
    ['a bare LF ending the body', '0\r\n\n'],
  ])('rejects %s', (_name, text) => {
    expect(feed(text, 1).error).toBe('PW_GW_BAD_FRAMING');
    expect(feed(text, 64).error).toBe('PW_GW_BAD_FRAMING');
  });

  test('an oversized trailer section is refused', () => {
    expect(feed(`0\r\nX: ${'a'.repeat(2000)}\r\n\r\n`, 100).error).toBe('PW_GW_BAD_FRAMING');
  });
});

describe('length bodies', () => {
  test('takes exactly Content-Length bytes across chunks', () => {
    const framer = new LengthFramer(5);
    expect(framer.feed(Buffer.from('abc'), 0)).toBe(3);
    expect(framer.done).toBe(false);
    expect(framer.feed(Buffer.from('xdefg'), 1)).toBe(2);
    expect(framer.done).toBe(true);
    expect(new LengthFramer(0).done).toBe(true);
  });
});
