// Seeded fuzzing of every ingest format (issue 10, "Done when"): 10,000 mutated records per format,
// made from the real samples and fixtures, thrown at the parser in one input. No exception may
// escape, and every problem must be located: a line (or packet / entry number) inside the input,
// a message, and a field name when it names one. A failure prints the seed; the same seed gives
// the same input.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ethernet, pcapFile } from '../../test/fixtures/pcap/capture-writer.js';
import type { FlowRecord } from '../flow/record.js';
// The demo's seeded generator (mulberry32): one implementation for every reproducible input.
import { Random } from '../util/random.js';
import { defaultVpcFields } from './aws-vpc.js';
import { flowBatches } from './batches.js';
import { DnsAnswers } from './dns-answers.js';
import type { FormatName, FormatOptions, IngestContext, IngestFormat } from './format.js';
import { formats } from './registry.js';
import { expectedFormats } from './test-files.js';

const COUNT = 10_000;
const SEED = 0x5eed_2026;

/** Values that parsers get wrong: signs, overflow, separators, quotes, escapes, non-ASCII. */
const TOKENS = [
  '-',
  '',
  '""',
  '"',
  '\\',
  '\\"',
  '{',
  '}',
  '[',
  ']',
  ':',
  '::',
  '%',
  '%zz',
  '/',
  '//',
  ' ',
  '\t',
  ',',
  ';',
  '0',
  '-1',
  '65536',
  '99999999999999999999999',
  '1e309',
  'NaN',
  'null',
  'true',
  '0x1F',
  '1.5.6',
  '::ffff:127.0.0.1',
  '[::1]:443',
  '999.1.1.1',
  'CONNECT',
  'http://',
  'https://[::1',
  'error:invalid-request',
  '\u0000',
  '\u00e9',
  '\u2028',
  '\ud83d',
  '\ud83d\ude00',
  'a'.repeat(300),
];

/** One text mutation of a line (never adds a line break). */
function mutateText(random: Random, line: string): string {
  const at = random.int(0, line.length);
  const to = Math.min(line.length, at + random.int(1, 12));
  switch (random.int(0, 6)) {
    case 0:
      return line.slice(0, at) + random.pick(TOKENS) + line.slice(at + 1);
    case 1:
      return line.slice(0, at) + line.slice(to);
    case 2:
      return line.slice(0, to) + line.slice(at, to) + line.slice(to);
    case 3:
      return line.slice(0, at) + random.pick(TOKENS) + line.slice(at);
    case 4: {
      const fields = line.split(' ');
      const i = random.int(0, fields.length - 1);
      const j = random.int(0, fields.length - 1);
      [fields[i], fields[j]] = [fields[j] as string, fields[i] as string];
      return fields.join(' ');
    }
    case 5:
      return line.slice(0, at);
    default: {
      // A number made odd: the parsers' numeric fields are where overflow hides.
      return line.replace(/\d+/, () => random.pick(['-1', '99999999999999999999', '0', '1.5', '']));
    }
  }
}

/** One structural mutation of a JSON value: a leaf replaced, a key dropped, a type changed. */
function mutateJson(random: Random, value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 6 || random.next() < 0.15) {
    return random.pick([null, -1, 1e308, 0.5, '', '-', 'x'.repeat(40), [], {}, true, random.pick(TOKENS)]);
  }
  if (Array.isArray(value)) {
    if (value.length === 0 || random.next() < 0.1) return [...value, mutateJson(random, null)];
    const copy = [...value];
    const i = random.int(0, copy.length - 1);
    copy[i] = mutateJson(random, copy[i], depth + 1);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return copy;
  const key = random.pick(keys);
  if (random.next() < 0.15) delete copy[key];
  else copy[key] = mutateJson(random, copy[key], depth + 1);
  return copy;
}

interface Seeds {
  /** Lines kept as they are at the top (headers). */
  header: string[];
  /** Lines to mutate. */
  lines: string[];
  /** Whether the lines are JSON values (mutated structurally half of the time). */
  json: boolean;
}

const isJson = (text: string) => /^\s*[[{]/.test(text);

/** The records of a JSON document or JSON-lines file, one JSON text each. */
function jsonRecords(text: string): string[] {
  const trimmed = text.trim();
  try {
    const value = JSON.parse(trimmed) as Record<string, unknown>;
    const log = value.log as Record<string, unknown> | undefined;
    const records = (value.records ?? log?.entries ?? [value]) as unknown[];
    return records.map((record) => JSON.stringify(record));
  } catch {
    return trimmed.split('\n').filter((line) => line.trim() !== '');
  }
}

function seedsOf(name: FormatName): Seeds {
  const header: string[] = [];
  const lines: string[] = [];
  let json = false;
  for (const [path, expected] of Object.entries(expectedFormats)) {
    if (expected !== name) continue;
    const text = readFileSync(path, 'utf8').replace(/^\ufeff/, '');
    if (isJson(text) && name !== 'zeek' && name !== 'ndjson') {
      json = true;
      lines.push(...jsonRecords(text));
      continue;
    }
    const all = text.split(/\r?\n/).filter((line) => line !== '');
    if (name === 'zeek') {
      // One TSV log keeps its header block; JSON lines (told apart per line) add seeds of their own.
      if (all[0]?.startsWith('#') && header.length === 0 && path.endsWith('zeek-conn.log')) {
        header.push(...all.filter((line) => line.startsWith('#') && !line.startsWith('#close')));
        lines.push(...all.filter((line) => !line.startsWith('#')));
      } else if (isJson(text)) {
        lines.push(...all);
      }
      continue;
    }
    if (name === 'csv' || (name === 'vpc' && /srcaddr/.test(all[0] ?? ''))) {
      if (name === 'csv' && header.length === 0) header.push(all[0] as string);
      if (name === 'vpc') continue; // the default-format sample seeds the rest
      lines.push(...all.slice(1));
      continue;
    }
    lines.push(...all);
  }
  return { header, lines, json };
}

function parsedOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // a seed that is bad on purpose (a fixture's broken line): text mutations
  }
}

/** The fuzzed input of a text format, as text, and its number of lines. */
function fuzzedText(name: FormatName, random: Random): { text: string; lines: number } {
  const seeds = seedsOf(name);
  expect(seeds.lines.length, `seeds of ${name}`).toBeGreaterThan(0);
  const records: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    let line = random.pick(seeds.lines);
    const value = seeds.json && (name === 'har' || random.next() < 0.5) ? parsedOrUndefined(line) : undefined;
    if (value !== undefined) line = JSON.stringify(mutateJson(random, value));
    else for (let n = random.int(1, 3); n > 0; n--) line = mutateText(random, line);
    records.push(line.replace(/[\r\n]/g, ' '));
  }
  if (name === 'har') {
    // One document: a syntax error would end it, so HAR entries are mutated as JSON values.
    return {
      text: `{"log": {"version": "1.2", "entries": [\n${records.join(',\n')}\n]}}\n`,
      lines: COUNT + 2,
    };
  }
  return { text: `${[...seeds.header, ...records].join('\n')}\n`, lines: seeds.header.length + COUNT };
}

/** Frames of the real loopback capture, mutated: bytes flipped in the headers, frames cut. */
function fuzzedCapture(random: Random): { bytes: Buffer; lines: number } {
  const file = readFileSync('test/fixtures/pcap/lo-ethernet.pcap');
  const frames: Buffer[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const length = file.readUInt32LE(at + 8);
    frames.push(file.subarray(at + 16, at + 16 + length));
    at += 16 + length;
  }
  expect(frames.length).toBeGreaterThan(10);
  const packets = [];
  for (let i = 0; i < COUNT; i++) {
    const frame = Buffer.from(random.pick(frames));
    for (let n = random.int(1, 4); n > 0; n--) {
      const at = random.int(0, Math.min(frame.length - 1, 80));
      frame[at] = random.int(0, 255);
    }
    const data = random.next() < 0.2 ? frame.subarray(0, random.int(0, frame.length)) : frame;
    // Some frames wrapped once more, so the tunnel decoders see garbage too.
    const wrapped =
      random.next() < 0.1 ? ethernet(0x0800, Buffer.concat([Buffer.from('4500', 'hex'), data])) : data;
    packets.push({ data: wrapped, timeMs: 1_700_000_000_000 + i });
  }
  return { bytes: pcapFile({ linkType: 1 }, packets), lines: COUNT };
}

interface Rejection {
  file: string;
  line: number;
  message: string;
  field?: string;
}

async function run(format: IngestFormat, input: Buffer, file: string, options?: FormatOptions) {
  const problems: Rejection[] = [];
  const ctx: IngestContext = {
    file,
    dns: new DnsAnswers(),
    options,
    problem(line, message, field) {
      problems.push({ file: this.file, line, message, field });
    },
  };
  const flows: FlowRecord[] = [];
  const { Readable } = await import('node:stream');
  const stream = Readable.from([input]);
  for await (const batch of flowBatches(format, stream, ctx)) flows.push(...batch);
  return { flows, problems };
}

/** Every format, plus the readers that options select (a custom Squid logformat, VPC fields). */
const cases: [string, IngestFormat, FormatOptions | undefined][] = [
  ...formats.map((format) => [format.name, format, undefined] as [string, IngestFormat, undefined]),
  [
    'squid --squid-logformat',
    formats.find((format) => format.name === 'squid') as IngestFormat,
    { squidLogformat: 'squid' },
  ],
  [
    'vpc --vpc-fields',
    formats.find((format) => format.name === 'vpc') as IngestFormat,
    // The default fields, but given as the option: the path header-less CloudWatch exports take.
    { vpcFields: [...defaultVpcFields] },
  ],
];

describe.each(cases)('fuzz %s', (label, format, options) => {
  const name = format.name;
  test(`${COUNT} mutated records: no exception, every problem located`, async () => {
    const random = new Random(SEED ^ label.length ^ label.charCodeAt(0));
    const fuzzed = name === 'pcap' ? fuzzedCapture(random) : fuzzedText(name, random);
    const bytes = 'bytes' in fuzzed ? fuzzed.bytes : Buffer.from(fuzzed.text);
    const file = `fuzz-${name}`;
    const started = performance.now();
    const { flows, problems } = await run(format, bytes, file, options);
    const seconds = (performance.now() - started) / 1000;
    expect(seconds, `${name} took ${seconds.toFixed(2)} s`).toBeLessThan(10);
    expect(problems.length, `seed ${SEED}: ${name} reported nothing`).toBeGreaterThan(0);
    // Most mutations leave a readable record: none read at all means one bad line sank the input.
    expect(flows.length, `seed ${SEED}: ${name} read no flow`).toBeGreaterThan(COUNT / 50);
    // Checked in plain code and asserted once: 400,000 expect() calls would take most of the time.
    const unlocated = problems.filter(
      (problem) =>
        problem.file !== file ||
        !Number.isInteger(problem.line) ||
        problem.line < 1 ||
        problem.line > fuzzed.lines ||
        problem.message.length === 0 ||
        // The field is the one to blame when there is one: any name, even an empty JSON key.
        (problem.field !== undefined && typeof problem.field !== 'string'),
    );
    expect(unlocated.slice(0, 5), `seed ${SEED}`).toEqual([]);
    const misplaced = flows.filter(
      (flow) =>
        flow.origin.file !== file ||
        !Number.isInteger(flow.origin.line) ||
        (flow.origin.line ?? 0) < 1 ||
        (flow.origin.line ?? 0) > fuzzed.lines,
    );
    expect(misplaced.slice(0, 5), `seed ${SEED}`).toEqual([]);
  });
});
