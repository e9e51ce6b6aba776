import { describe, expect, test } from 'vitest';
import { canonicalHostName, formatHostPattern, hostMatchesPattern, parseHostPattern } from './host.js';

describe('canonicalHostName', () => {
  test.each([
    ['app.powerbi.com', 'app.powerbi.com'],
    ['APP.PowerBI.Com', 'app.powerbi.com'],
    ['app.powerbi.com.', 'app.powerbi.com'],
    ['Bücher.example', 'xn--bcher-kva.example'],
    ['bücher.example.', 'xn--bcher-kva.example'],
    ['_dmarc.example.com', '_dmarc.example.com'],
  ])('%s -> %s', (input, expected) => {
    expect(canonicalHostName(input)).toBe(expected);
  });

  test.each([
    ['empty', ''],
    ['only a dot', '.'],
    ['two trailing dots', 'a.com..'],
    ['empty label', 'a..com'],
    ['leading dot', '.a.com'],
    ['space', 'a b.com'],
    ['slash', 'a/b'],
    ['label of 64 chars', `${'a'.repeat(64)}.com`],
    ['name of 254 chars', `${'a.'.repeat(127)}ab`],
  ])('rejects %s', (_, input) => {
    expect(canonicalHostName(input)).toBeUndefined();
  });

  test('accepts a label of 63 chars', () => {
    expect(canonicalHostName(`${'a'.repeat(63)}.com`)).toBe(`${'a'.repeat(63)}.com`);
  });
});

describe('parseHostPattern', () => {
  test('exact and wildcard', () => {
    expect(parseHostPattern('API.powerbi.com')).toEqual({ kind: 'exact', name: 'api.powerbi.com' });
    expect(parseHostPattern('*.PowerBI.com')).toEqual({ kind: 'wildcard', suffix: 'powerbi.com' });
    expect(parseHostPattern('*.bücher.example')).toEqual({
      kind: 'wildcard',
      suffix: 'xn--bcher-kva.example',
    });
  });

  test.each([
    ['*cdn.office.net', 'not the whole first label'],
    ['autodiscover.*.onmicrosoft.com', 'not the whole first label'],
    ['*-files.sharepoint.com', 'not the whole first label'],
    ['*.*.powerbi.com', 'only one wildcard'],
    ['*.com', 'whole top-level domain'],
    ['', 'empty'],
    [' app.powerbi.com', 'surrounding spaces'],
    ['app..powerbi.com', 'not a valid host name'],
  ])('rejects %s', (input, message) => {
    const result = parseHostPattern(input);
    expect(typeof result).toBe('string');
    expect(result).toContain(message);
  });

  test('round-trips through formatHostPattern', () => {
    for (const text of ['*.analysis.windows.net', 'api.powerbi.com']) {
      const pattern = parseHostPattern(text);
      if (typeof pattern === 'string') throw new Error(pattern);
      expect(formatHostPattern(pattern)).toBe(text);
    }
  });
});

describe('hostMatchesPattern (reference semantics)', () => {
  const wildcard = { kind: 'wildcard', suffix: 'powerbi.com' } as const;
  test('wildcard matches one or more labels in front, never the suffix itself', () => {
    expect(hostMatchesPattern('app.powerbi.com', wildcard)).toBe(true);
    expect(hostMatchesPattern('a.b.c.powerbi.com', wildcard)).toBe(true);
    expect(hostMatchesPattern('powerbi.com', wildcard)).toBe(false);
  });
  test('label-aligned: evilpowerbi.com is not under powerbi.com', () => {
    expect(hostMatchesPattern('evilpowerbi.com', wildcard)).toBe(false);
    expect(hostMatchesPattern('x.evilpowerbi.com', wildcard)).toBe(false);
  });
});
