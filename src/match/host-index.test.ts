import { describe, expect, test } from 'vitest';
import { type HostPattern, hostMatchesPattern, parseHostPattern } from './host.js';
import { HostIndex } from './host-index.js';

function pattern(text: string): HostPattern {
  const parsed = parseHostPattern(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

describe('HostIndex', () => {
  const index = new HostIndex<string>(2);
  index.set(pattern('*.powerbi.com'), 0, 'portal');
  index.set(pattern('api.powerbi.com'), 0, 'api');
  index.set(pattern('*.x.powerbi.com'), 0, 'deeper');
  index.set(pattern('*.powerbi.com'), 1, 'portal-for-slot-1');

  test('exact beats wildcard, longest wildcard suffix beats shorter', () => {
    expect(index.lookup('api.powerbi.com', 0)).toBe('api');
    expect(index.lookup('app.powerbi.com', 0)).toBe('portal');
    expect(index.lookup('a.x.powerbi.com', 0)).toBe('deeper');
    expect(index.lookup('x.powerbi.com', 0)).toBe('portal');
    expect(index.lookup('a.b.api.powerbi.com', 0)).toBe('portal');
  });

  test('apex and unrelated names do not match', () => {
    expect(index.lookup('powerbi.com', 0)).toBeUndefined();
    expect(index.lookup('evilpowerbi.com', 0)).toBeUndefined();
    expect(index.lookup('com', 0)).toBeUndefined();
    expect(index.lookup('', 0)).toBeUndefined();
  });

  test('slots are independent', () => {
    expect(index.lookup('api.powerbi.com', 1)).toBe('portal-for-slot-1');
    expect(index.lookup('a.x.powerbi.com', 1)).toBe('portal-for-slot-1');
  });

  test('accept passes over rejected values to the next most specific one', () => {
    expect(index.lookup('api.powerbi.com', 0, (value) => value !== 'api')).toBe('portal');
    expect(index.lookup('a.x.powerbi.com', 0, (value) => value !== 'deeper')).toBe('portal');
    expect(index.lookup('a.x.powerbi.com', 0, () => false)).toBeUndefined();
  });

  test('agrees with the reference matcher on random names', () => {
    // Seeded so a failure is reproducible.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const labels = ['a', 'b', 'powerbi', 'com', 'net', 'x', 'analysis', 'windows', 'evil'];
    const name = (depth: number) =>
      Array.from({ length: depth }, () => labels[Math.floor(random() * labels.length)]).join('.');
    const patterns: HostPattern[] = [];
    const reference = new HostIndex<number>(1);
    for (let i = 0; i < 60; i++) {
      const text =
        random() < 0.5 ? name(1 + Math.floor(random() * 3)) : `*.${name(2 + Math.floor(random() * 2))}`;
      const parsed = parseHostPattern(text);
      if (typeof parsed === 'string' || patterns.some((p) => JSON.stringify(p) === JSON.stringify(parsed)))
        continue;
      patterns.push(parsed);
      reference.set(parsed, 0, patterns.length - 1);
    }
    const specificity = (p: HostPattern) => (p.kind === 'exact' ? 1000 : p.suffix.length);
    for (let i = 0; i < 5000; i++) {
      const host = name(1 + Math.floor(random() * 5));
      let best = -1;
      patterns.forEach((p, j) => {
        if (
          hostMatchesPattern(host, p) &&
          (best < 0 || specificity(p) > specificity(patterns[best] as HostPattern))
        ) {
          best = j;
        }
      });
      expect(reference.lookup(host, 0) ?? -1, host).toBe(best);
    }
  });
});
