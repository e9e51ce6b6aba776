import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { detach, detachOrNull } from './detach.js';

describe('detach', () => {
  it('copies the text of a slice, one-byte and two-byte', () => {
    const line = `${'x'.repeat(100)} img1234.cdn.example.net résumé 東京.example `;
    for (const [start, end] of [
      [101, 123],
      [124, 130],
      [131, 141],
      [0, line.length],
    ] as const) {
      const slice = line.slice(start, end);
      expect(detach(slice)).toBe(slice);
    }
    expect(detach('')).toBe('');
    expect(detach('"quoted\\path"\n')).toBe('"quoted\\path"\n');
    expect(detachOrNull(null)).toBeNull();
    expect(detachOrNull('a.example')).toBe('a.example');
  });

  it('turns a lone surrogate into U+FFFD, as the UTF-8 round trip always did', () => {
    expect(detach('a\ud800b')).toBe('a\ufffdb');
    expect(detach('\udc00')).toBe('\ufffd');
    expect(detach('ok \ud83d\ude00')).toBe('ok \ud83d\ude00');
  });

  it('keeps none of the text it was sliced from', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = getHeapStatistics().used_heap_size;
    const kept: string[] = [];
    for (let i = 0; i < 50; i++) {
      // 4 MB of one-byte text each, built so that no two share storage.
      const big = `${i} ${'host.example '.repeat(320_000)}`;
      kept.push(detach(big.slice(10, 40)));
    }
    gc();
    const grown = getHeapStatistics().used_heap_size - before;
    // The slices alone would keep 50 x 4 MB alive; the copies keep 50 x 30 characters.
    expect(grown).toBeLessThan(20 * 1024 * 1024);
    expect(kept[49]).toBe('ample host.example host.exampl');
  });

  it('copies a text too long for the JSON round trip through the Buffer', () => {
    const long = `\u0001${'a'.repeat(2 ** 26)}`.slice(1);
    expect(detach(long)).toBe(long);
  });
});
