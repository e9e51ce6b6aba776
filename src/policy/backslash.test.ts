// Backslashes in URLs are rejected everywhere a target or a logged URL is read. Browsers' WHATWG
// parser turns `\` into `/` in http(s) URLs, other parsers keep it as a character of the authority
// (so `https://app.powerbi.com\@evil.example/` names two different hosts): pathwarden refuses to guess.
import { describe, expect, test } from 'vitest';
import { parseAbsoluteUrl } from '../ingest/fields.js';
import { backslashProblem, parseTarget } from './target.js';

const forms = [
  'https:\\\\app.powerbi.com\\groups\\me',
  'https:/\\app.powerbi.com/',
  'https://app.powerbi.com\\@evil.example/',
  'https://evil.example\\.app.powerbi.com/',
  'app.powerbi.com\\groups',
  '\\\\app.powerbi.com\\share',
];

describe('backslash URL forms', () => {
  test('parseTarget rejects each with one clear message', () => {
    for (const form of forms) {
      const result = parseTarget(form);
      expect(result, form).toBe(backslashProblem(form));
      expect(result).toContain('backslash');
    }
  });

  test('log URLs with a backslash in the authority are not read as URLs', () => {
    expect(parseAbsoluteUrl('https://app.powerbi.com\\@evil.example/')).toBeUndefined();
    expect(parseAbsoluteUrl('https://evil.example\\.app.powerbi.com/x')).toBeUndefined();
    // A backslash after the authority (in the path) does not change the host.
    expect(parseAbsoluteUrl('https://app.powerbi.com/a\\b')?.host).toBe('app.powerbi.com');
  });
});
