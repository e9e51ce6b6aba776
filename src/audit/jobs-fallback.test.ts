// The notes of `audit --jobs N` that reads on one thread: every code documented in docs/audit.md
// (and no documented code missing from the code), and the one-line warnings the CLI prints.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/load.js';
import { jobsFallback, jobsFallbackCodes, jobsFallbackWarning } from './jobs-fallback.js';

describe('jobs fallbacks', () => {
  const docs = readFileSync(join(packageRoot(), 'docs', 'audit.md'), 'utf8');

  test.each(Object.entries(jobsFallbackCodes))(
    '%s is documented in docs/audit.md, rerun or not',
    (code, spec) => {
      const row = docs.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, code).toBeDefined();
      expect(row).toContain(`| ${spec.rerun ? 'yes' : 'no'} |`);
    },
  );

  test('docs/audit.md documents no code that does not exist', () => {
    const documented = [...docs.matchAll(/`(PW_JOBS_[A-Z_]+)`/g)].map((match) => match[1]);
    expect(documented.length).toBeGreaterThan(0);
    for (const code of documented) expect(Object.keys(jobsFallbackCodes)).toContain(code);
  });

  test('a warning is one line: what failed or was not used, the code and reason, and what the report is', () => {
    const exited = jobsFallback(
      'PW_JOBS_WORKER_EXITED',
      'a worker thread ended with code 3 while reading a.log',
    );
    expect(exited.rerun).toBe(true);
    expect(jobsFallbackWarning(2, exited)).toBe(
      '--jobs 2: the multi-job read failed (PW_JOBS_WORKER_EXITED: a worker thread ended with code 3 while reading a.log); the report comes from a one-job rerun of every input',
    );
    const small = jobsFallback('PW_JOBS_SMALL_INPUT', '3 MiB of input; a second thread starts from 512 MiB');
    expect(jobsFallbackWarning(4, small)).toBe(
      '--jobs 4 not used, reading on one thread (PW_JOBS_SMALL_INPUT: 3 MiB of input; a second thread starts from 512 MiB)',
    );
    // A worker's stack or a long message stays on one line of at most 200 characters.
    const long = jobsFallback('PW_JOBS_WORKER_FAILED', `boom ${'x'.repeat(400)}\n    at somewhere`);
    expect(long.reason).toHaveLength(200);
    expect(long.reason).not.toContain('\n');
  });
});
