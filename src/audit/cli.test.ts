// `pathwarden audit` run in-process through runCli, with the fake formats standing in for the
// registry so that exit codes and outputs are tested apart from the real parsers.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { runCli } from '../cli/program.js';
import type { AuditReport } from './audit-report.js';
import { at } from './test-support.js';
import { checkWellFormedXml } from './test-xml-csv.js';

vi.mock('../ingest/registry.js', async () => {
  const { fakeFormats } = await import('./test-support.js');
  const source = fakeFormats();
  return {
    formats: source.all,
    getFormat: source.get,
    detectFormat: (head: Buffer, fileName?: string) => source.detect(head, fileName ?? ''),
  };
});

let dir: string;
let leaky: string;
let clean: string;
let bad: string;
let topology: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-cli-audit-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  leaky = write(
    'leaky.log',
    `#fake squid\nt=${at(0)} host=api.powerbi.com proxy=10.9.0.2 up=1 down=2\nt=${at(1)} host=content.powerapps.com proxy=10.9.0.2\n`,
  );
  clean = write('clean.log', `#fake squid\nt=${at(0)} host=api.powerbi.com proxy=10.9.0.1 up=1 down=2\n`);
  bad = write('bad.log', `#fake squid\nt=${at(0)} host=api.powerbi.com proxy=10.9.0.1\nbad no host here\n`);
  topology = write(
    'topology.yaml',
    'expressroute:\n  proxies: [10.9.0.1:3128]\ninternet:\n  proxies: [10.9.0.2:3128]\ndefault: internet\n',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => {
    out += String(chunk);
  });
  stderr.on('data', (chunk) => {
    err += String(chunk);
  });
  const code = await runCli(argv, { stdin: new PassThrough(), stdout, stderr });
  return { code, stdout: out, stderr: err };
}

describe('pathwarden audit exit codes', () => {
  test('0 when clean, with a terminal summary on stdout', async () => {
    const result = await run('audit', '--topology', topology, clean, '--fail-on', 'leak');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('pathwarden audit: 1 flows from 1 input');
    expect(result.stdout).toContain('Leaks: none');
  });

  test('1 when a --fail-on condition matched (repeatable), 0 when it did not', async () => {
    const leak = await run('audit', '--topology', topology, leaky, '--fail-on', 'leak');
    expect(leak.code).toBe(1);
    expect(leak.stderr).toContain('--fail-on matched: 1 leak flow');
    const both = await run(
      'audit',
      '--topology',
      topology,
      clean,
      '--fail-on',
      'unknown',
      '--fail-on',
      'exception',
    );
    expect(both.code).toBe(0);
    const exception = await run(
      'audit',
      '--topology',
      topology,
      leaky,
      '--fail-on',
      'unknown',
      '--fail-on',
      'exception',
    );
    expect(exception.code).toBe(1);
    expect(exception.stderr).toContain('1 exception flow');
    expect((await run('audit', '--topology', topology, leaky)).code).toBe(0);
  });

  test('2 for an unreadable file, listing every input problem', async () => {
    const result = await run('audit', join(dir, 'missing.log'), join(dir, 'also-missing.log'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pathwarden: 2 inputs cannot be audited');
    expect(result.stderr).toContain(`${join(dir, 'missing.log')}: no such file or directory`);
  });

  test('2 for an input whose format is not recognised', async () => {
    const result = await run('audit', topology);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('format not recognised');
  });

  test('bad records are counted and reported; --strict makes the first one fatal (2)', async () => {
    const lenient = await run('audit', '--topology', topology, bad);
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toContain(`${bad}:3: no host here`);
    const strict = await run('audit', '--topology', topology, '--strict', bad);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain(
      `pathwarden: ${bad}:3: no host here (--strict stops at the first bad record)`,
    );
  });

  test('2 for usage errors: no input, two stdout formats, --demo with inputs, bad --fail-on', async () => {
    expect((await run('audit')).code).toBe(2);
    expect((await run('audit', '--json', '--csv', clean)).code).toBe(2);
    expect((await run('audit', '--demo', clean)).code).toBe(2);
    expect((await run('audit', '--fail-on', 'ok', clean)).code).toBe(2);
    expect((await run('audit', '--format', 'pcap', clean)).code).toBe(2);
  });
});

describe('pathwarden audit outputs', () => {
  test('--json to stdout with --html and --junit files in the same run', async () => {
    const html = join(dir, 'report.html');
    const junit = join(dir, 'junit.xml');
    const result = await run(
      'audit',
      '--topology',
      topology,
      leaky,
      clean,
      '--json',
      '--html',
      html,
      '--junit',
      junit,
    );
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as AuditReport;
    expect(report.verdicts).toEqual({
      ok: 1,
      leak: 1,
      exception: 1,
      unknown: 0,
      unverified: 0,
      'not-covered': 0,
    });
    expect(report.findings.leaks.items[0]?.evidence).toBe(`${leaky}:2`);
    expect(readFileSync(html, 'utf8')).toContain('<h1>Power BI path audit</h1>');
    expect(checkWellFormedXml(readFileSync(junit, 'utf8'))).toEqual([]);
  });

  test('--ndjson and --csv stream flows to stdout; -o writes them to a file instead', async () => {
    const ndjson = await run('audit', '--topology', topology, leaky, '--ndjson');
    expect(
      ndjson.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line).verdict),
    ).toEqual(['leak', 'exception']);
    const csv = await run('audit', '--topology', topology, leaky, '--csv');
    expect(csv.stdout.split('\r\n')[0]).toMatch(/^start,end,originKind,/);
    const out = join(dir, 'flows.csv');
    const toFile = await run('audit', '--topology', topology, leaky, '--csv', '-o', out);
    expect(toFile.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toBe(csv.stdout);
  });

  test('--quiet prints no summary; an unwritable output is PW_ERR_OUTPUT_WRITE (2)', async () => {
    const quiet = await run('audit', '--topology', topology, clean, '--quiet');
    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });
    const unwritable = await run('audit', clean, '-o', join(dir, 'no-such-dir', 'out.json'), '--json');
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toContain('cannot write');
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
  });

  // --jobs 2 on a small input reads on one thread: that used to go unsaid.
  test('--jobs N that reads on one thread says why on stderr, unless --quiet', async () => {
    const told = await run('audit', '--topology', topology, clean, '--jobs', '2', '--json');
    expect(told.code).toBe(0);
    expect(told.stderr).toMatch(
      /^pathwarden: warning: --jobs 2 not used, reading on one thread \(PW_JOBS_SMALL_INPUT: \d+ B of input; a second thread starts from 512 MiB\)\n$/,
    );
    // The report is the one-job report.
    const one = await run('audit', '--topology', topology, clean, '--json');
    const withoutTime = (json: string) => {
      const report = JSON.parse(json);
      expect(report.generatedAt).toEqual(expect.any(String));
      delete report.generatedAt;
      return report;
    };
    expect(withoutTime(told.stdout)).toEqual(withoutTime(one.stdout));
    expect(await run('audit', '--topology', topology, clean, '--jobs', '2', '--quiet')).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    // --jobs 1 asks for nothing.
    expect((await run('audit', '--topology', topology, clean, '--jobs', '1')).stderr).toBe('');
  });

  test('--help shows examples', async () => {
    const help = await run('audit', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('pathwarden audit --demo');
    expect(help.stdout).toContain('--fail-on <verdict>');
  });
});

describe('pathwarden audit --vpc-fields', () => {
  test('a bad field list is a usage error (exit 2) naming the option', async () => {
    const result = await run('audit', '--format', 'vpc', '--vpc-fields', 'version account-id', clean);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--vpc-fields must name srcaddr and dstaddr');
  });
});

describe('pathwarden audit --squid-logformat', () => {
  test('an unknown code is a usage error (exit 2) naming its column', async () => {
    const result = await run('audit', '--squid-logformat', '%ts %>a %zz %ru', clean);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown format code at column 9');
  });
});
