import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { packageRoot } from './catalog/load.js';
import { errorCodes, PathwardenError } from './errors.js';

describe('error catalogue', () => {
  const docs = readFileSync(join(packageRoot(), 'docs', 'errors.md'), 'utf8');

  test.each(Object.keys(errorCodes))('%s is documented in docs/errors.md with its exit code', (code) => {
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, code).toBeDefined();
    expect(row).toContain(`| ${errorCodes[code as keyof typeof errorCodes].exitCode} |`);
  });

  test('docs/errors.md documents no code that does not exist', () => {
    const documented = [...docs.matchAll(/`(PW_ERR_[A-Z_]+)`/g)].map((match) => match[1]);
    for (const code of documented) expect(Object.keys(errorCodes)).toContain(code);
  });

  test('no PW_ERR_ code is used in the source without being in the catalogue', () => {
    const root = join(packageRoot(), 'src');
    const used = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts')) {
          for (const match of readFileSync(path, 'utf8').matchAll(/'(PW_ERR_[A-Z_]+)'/g))
            used.add(match[1] as string);
        }
      }
    };
    walk(root);
    for (const code of used) expect(Object.keys(errorCodes), code).toContain(code);
  });

  test('errors carry code, exit code, problems and cause', () => {
    const cause = new Error('root cause');
    const error = new PathwardenError('PW_ERR_CATALOG_INVALID', 'bad', {
      cause,
      problems: [{ message: 'x', location: { file: 'f.yaml', line: 3 } }],
    });
    expect(error.code).toBe('PW_ERR_CATALOG_INVALID');
    expect(error.exitCode).toBe(2);
    expect(error.cause).toBe(cause);
    expect(error.problems).toHaveLength(1);
  });
});
