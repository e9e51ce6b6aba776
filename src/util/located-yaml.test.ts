import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { parseLocatedYaml } from './located-yaml.js';

describe('parseLocatedYaml', () => {
  test('an alias bomb is a located problem, not an exception', () => {
    const text = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
    ].join('\n');
    const parsed = parseLocatedYaml(text, 'bomb.yaml', z.record(z.string(), z.unknown()));
    expect(parsed.value).toBeUndefined();
    expect(parsed.problems).toEqual([
      {
        message: expect.stringContaining('YAML aliases expand too far'),
        location: { file: 'bomb.yaml', line: 2, column: 8 },
      },
    ]);
  });

  test('a few aliases are fine', () => {
    const parsed = parseLocatedYaml('a: &a [1, 2]\nb: *a\n', 'ok.yaml', z.record(z.string(), z.unknown()));
    expect(parsed.problems).toEqual([]);
    expect(parsed.value).toEqual({ a: [1, 2], b: [1, 2] });
  });
});
