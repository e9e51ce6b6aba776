// The contract every ingest format keeps (like hono's common.case.test.ts for its routers): run
// over everything in the registry, so a format added later is held to it too.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { collectFlows } from './collect.js';
import { formats } from './registry.js';
import { expectedFormats } from './test-files.js';

/** Deterministic pseudo-random bytes (xorshift), so a failure can be reproduced. */
function noise(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

const garbage: Record<string, Buffer> = {
  'binary noise': noise(20_000, 0x9e3779b9),
  'text that is no log': Buffer.from('hello world\nthis is not a log file, is it?\n{ half json\n1 2 3\n'),
  'a JSON object of another kind': Buffer.from('{"changeNumber": 1, "values": [{"name": "x"}]}\n'),
  'a long line': Buffer.from(`${'x'.repeat(2 << 20)}\nshort line\n`),
};

describe.each(formats.map((format) => [format.name, format] as const))('format %s', (name, format) => {
  const ownFiles = Object.entries(expectedFormats)
    .filter(([, expected]) => expected === name)
    .map(([path]) => path);

  test('has real inputs of its own to be tested on (test-files.ts)', () => {
    expect(ownFiles.length).toBeGreaterThan(0);
  });

  test('sniffs the inputs of other formats below 0.5, its own at 0.5 or more', () => {
    for (const [path, expected] of Object.entries(expectedFormats)) {
      const score = format.sniff(readFileSync(path).subarray(0, 65536));
      expect(score, path).toBeGreaterThanOrEqual(0);
      expect(score, path).toBeLessThanOrEqual(1);
      if (expected === name) expect(score, path).toBeGreaterThanOrEqual(0.5);
      else expect(score, path).toBeLessThan(0.5);
    }
  });

  test('sniff never throws, on nothing or noise', () => {
    expect(format.sniff(Buffer.alloc(0))).toBe(0);
    for (const bytes of Object.values(garbage))
      expect(() => format.sniff(bytes.subarray(0, 65536))).not.toThrow();
  });

  test('an empty input yields no flow and no problem', async () => {
    for (const input of [Buffer.alloc(0), Readable.from([])]) {
      const { flows, problems } = await collectFlows(format, input);
      expect(flows).toEqual([]);
      expect(problems).toEqual([]);
    }
  });

  test.each(Object.entries(garbage))('%s: problems, not an exception', async (_, bytes) => {
    const { flows, problems } = await collectFlows(format, bytes);
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) {
      expect(problem.line).toBeGreaterThanOrEqual(1);
      expect(problem.message.length).toBeGreaterThan(0);
    }
    expect(flows.length).toBeLessThan(5);
  });

  test('an input with content never yields no flow and no problem (issue 10, item 8)', async () => {
    // Before: azfw read the NSG samples (another category) and bare Log Analytics rows as 0 / 0.
    let others = 0;
    for (const [path, expected] of Object.entries(expectedFormats)) {
      if (expected === name) continue;
      others++;
      const { flows, problems } = await collectFlows(format, readFileSync(path), { file: 'other' });
      expect(flows.length + problems.length, path).toBeGreaterThan(0);
    }
    expect(others).toBeGreaterThan(10);
    // Blank lines are no content for a text format (a capture has a magic number to lack).
    const blank = await collectFlows(format, '\r\n\n\n');
    if (name !== 'pcap') expect(blank.problems).toEqual([]);
  });

  test('parse() and parseBatches() give the same flows', async () => {
    let flows = 0;
    for (const path of ownFiles) {
      const bytes = readFileSync(path);
      const batches = await collectFlows(format, bytes);
      const oneByOne = await collectFlows(format, bytes, { oneByOne: true });
      expect(oneByOne, path).toEqual(batches);
      flows += batches.flows.length;
    }
    expect(flows).toBeGreaterThan(0);
  });

  test('flows carry the format origin, the file name and a line', async () => {
    let seen = 0;
    for (const path of ownFiles) {
      const { flows } = await collectFlows(format, readFileSync(path), { file: 'given-name' });
      seen += flows.length;
      for (const flow of flows) {
        expect(flow.origin.file).toBe('given-name');
        expect(flow.origin.line).toBeGreaterThanOrEqual(1);
        // Only the flow forms may carry an actual path (a gateway record read back).
        if (name !== 'csv' && name !== 'ndjson') expect(flow.actualPath).toBe('unknown');
        expect(Object.keys(flow)).toHaveLength(18);
      }
    }
    expect(seen).toBeGreaterThan(0);
  });
});
