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
});
