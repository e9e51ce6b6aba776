import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { collectFile } from './collect.js';
import { openInput } from './open-input.js';
import { detectFormat, formats, getFormat } from './registry.js';
import { expectedFormats, sample } from './test-files.js';

describe('registry', () => {
  test('every format is registered once under its own name', () => {
    const names = formats.map((format) => format.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of [
      'har',
      'squid',
      'zeek',
      'dns',
      'nsg',
      'vnet',
      'azfw',
      'vpc',
      'csv',
      'ndjson',
    ] as const) {
      expect(getFormat(name)?.name).toBe(name);
    }
  });

  for (const [path, expected] of Object.entries(expectedFormats)) {
    const name = path.split('/').slice(-2).join('/');
    test(`detects ${name} as ${expected ?? 'nothing'} by content`, () => {
      const head = readFileSync(path).subarray(0, 65536);
      expect(detectFormat(head)?.name).toBe(expected);
      // A misleading file name does not change the answer.
      expect(detectFormat(head, 'capture.csv.ndjson.har.squid.zeek')?.name).toBe(expected);
    });
  }

  test('no format claims text it does not know', () => {
    expect(detectFormat(Buffer.from('nothing any format knows\n'), 'x.squid.log')).toBeUndefined();
    expect(detectFormat(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('openInput: gzip is read transparently', () => {
  const directory = mkdtempSync(join(tmpdir(), 'pathwarden-ingest-'));

  for (const name of [
    'squid-access.log',
    'zeek-conn.log',
    'azure-nsg-flow.json',
    'chrome.har',
    'bind-queries.log',
  ]) {
    test(`${name}.gz gives the same flows as ${name}`, async () => {
      const gz = join(directory, `${name}.gz`);
      writeFileSync(gz, gzipSync(readFileSync(sample(name))));
      const opened = await openInput(gz);
      expect(opened.compressed).toBe(true);
      const format = detectFormat(opened.head, gz);
      expect(format?.name).toBe(expectedFormats[sample(name)]);
      opened.stream.destroy();
      const plain = await collectFile(format as NonNullable<typeof format>, sample(name), { file: 'x' });
      const zipped = await collectFile(format as NonNullable<typeof format>, gz, { file: 'x' });
      expect(zipped.problems).toEqual([]);
      expect(zipped.flows).toEqual(plain.flows);
      expect(zipped.flows.length).toBeGreaterThan(0);
    });
  }

  test('a truncated gzip stream: the flows before the cut, and a problem', async () => {
    const gz = join(directory, 'cut.log.gz');
    const whole = gzipSync(readFileSync(sample('squid-access.log')));
    writeFileSync(gz, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const { flows, problems } = await collectFile(
      getFormat('squid') as NonNullable<ReturnType<typeof getFormat>>,
      gz,
    );
    expect(flows.length).toBeGreaterThan(0);
    expect(flows.length).toBeLessThan(100);
    expect(problems.at(-1)?.message).toMatch(/could not be read to the end/);
  });

  test('a small file (smaller than the head) is read whole, head and stream', async () => {
    const opened = await openInput(sample('aws-vpc-flow.log'));
    expect(opened.compressed).toBe(false);
    expect(opened.head.length).toBe(775);
    const chunks: Buffer[] = [];
    for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(readFileSync(sample('aws-vpc-flow.log')))).toBe(true);
  });
});
