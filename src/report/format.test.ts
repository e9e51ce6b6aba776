import { describe, expect, it } from 'vitest';
import { formatTime } from './format.js';

describe('formatTime', () => {
  it('writes ISO 8601 UTC, without milliseconds when they are zero', () => {
    expect(formatTime(1_700_000_000_000)).toBe('2023-11-14T22:13:20Z');
    expect(formatTime(1_700_000_000_123)).toBe('2023-11-14T22:13:20.123Z');
    expect(formatTime(0)).toBe('1970-01-01T00:00:00Z');
  });

  it('gives - for an unknown time or one a Date cannot hold, never throws', () => {
    for (const value of [null, undefined, Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1, -9e15, 1e20]) {
      expect(formatTime(value)).toBe('-');
    }
    expect(formatTime(8.64e15)).toBe('+275760-09-13T00:00:00Z');
  });
});
