import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { collectFile, collectFlows } from './collect.js';
import { harFormat } from './har.js';
import { fixture, sample } from './test-files.js';

describe('har: real samples (Chrome 114 exports from mitmproxy test data)', () => {
  test('chrome.har: 1 entry, every field', async () => {
    const { flows, problems } = await collectFile(harFormat, sample('chrome.har'));
    expect(problems).toEqual([]);
    expect(flows).toEqual([
      {
        // startedDateTime 2023-07-15T13:37:26.093Z, time 169.796 ms (rounded)
        start: 1689428246093,
        end: 1689428246093 + 170,
        origin: { kind: 'har', file: sample('chrome.har'), line: 10 },
        client: null,
        host: 'signal-metrics-collector-beta.s-onetag.com',
        sni: null,
        httpHost: 'signal-metrics-collector-beta.s-onetag.com', // the :authority header
        destination: '99.83.181.31',
        port: 443,
        protocol: 'https',
        component: null,
        bytesUp: 1310, // headersSize -1 (unknown) + bodySize 1310
        bytesDown: 73, // _transferSize
        sourceAddress: null,
        upstream: null,
        connectionId: '159834',
        actualPath: 'unknown',
        actualPathEvidence: null,
      },
    ]);
  });

  test('chrome-mitmproxy-cut.har: failed navigation with an empty serverIPAddress', async () => {
    const { flows, problems } = await collectFile(harFormat, sample('chrome-mitmproxy-cut.har'));
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      origin: { line: 20 },
      start: 1689251552676,
      end: 1689251552676 + 4,
      host: 'www.google.com',
      port: 443,
      destination: null,
      bytesUp: 0,
      bytesDown: 0,
      connectionId: null,
      httpHost: null,
    });
  });

  test('a minified (one-line) HAR gives the same flow on line 1', async () => {
    const minified = JSON.stringify(JSON.parse(readFileSync(sample('chrome.har'), 'utf8')));
    const { flows, problems } = await collectFlows(harFormat, minified);
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({ origin: { line: 1 }, destination: '99.83.181.31', bytesDown: 73 });
  });

  test('a HAR streamed in 7-byte pieces parses the same', async () => {
    const bytes = readFileSync(sample('chrome.har'));
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) pieces.push(bytes.subarray(i, i + 7));
    const { Readable } = await import('node:stream');
    const { flows, problems } = await collectFlows(harFormat, Readable.from(pieces));
    expect(problems).toEqual([]);
    expect(flows[0]).toMatchObject({
      origin: { line: 10 },
      host: 'signal-metrics-collector-beta.s-onetag.com',
    });
  });
});

describe('har: edge cases (fixture)', async () => {
  const { flows, problems } = await collectFile(harFormat, fixture('har-edge-cases.har'));

  test('3 flows; a data: URL is no request; 4 problems at the entries lines', () => {
    expect(flows.map((flow) => flow.origin.line)).toEqual([8, 33, 64]);
    expect(problems.map((problem) => problem.line)).toEqual([49, 57, 58, 64]);
  });

  test('bracketed IPv6 serverIPAddress, zone offset in startedDateTime, sizes summed', () => {
    expect(flows[0]).toMatchObject({
      start: Date.UTC(2024, 2, 1, 9, 0, 0, 100),
      end: Date.UTC(2024, 2, 1, 9, 0, 0, 100) + 250,
      host: 'app.powerbi.com',
      httpHost: 'app.powerbi.com',
      destination: '2603:1020:200::12',
      port: 443,
      bytesUp: 420,
      bytesDown: 5000,
      connectionId: '443',
    });
  });

  test('-1 everywhere: unknown sizes and end, no address', () => {
    expect(flows[1]).toMatchObject({
      start: Date.UTC(2024, 2, 1, 9, 0, 1),
      end: null,
      host: 'localhost',
      port: 8080,
      protocol: 'http',
      bytesUp: null,
      bytesDown: null,
      destination: null,
    });
  });

  test('a bad serverIPAddress is reported and the flow kept; custom _ fields ignored', () => {
    expect(flows[2]).toMatchObject({
      protocol: 'wss',
      port: 443,
      host: 'realtime.powerbi.com',
      httpHost: 'realtime.powerbi.com',
      destination: null,
      bytesUp: 100,
      bytesDown: 250,
    });
    expect(problems[3]).toMatchObject({ field: 'serverIPAddress' });
  });
});

describe('har: broken documents', () => {
  test('truncated after the first entry: that entry is kept, the cut is reported', async () => {
    const text = readFileSync(fixture('har-edge-cases.har'), 'utf8').split('\n').slice(0, 40).join('\n');
    const { flows, problems } = await collectFlows(harFormat, text);
    expect(flows.map((flow) => flow.origin.line)).toEqual([8, 33]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toContain('not complete');
  });

  test('JSON without log.entries is reported', async () => {
    const { flows, problems } = await collectFlows(harFormat, '{"log": {"version": "1.2"}}');
    expect(flows).toEqual([]);
    expect(problems).toEqual([
      { line: 1, message: 'not a HAR file: no log.entries array', field: 'log.entries' },
    ]);
  });

  test('a syntax error stops the document with one problem', async () => {
    const { flows, problems } = await collectFlows(
      harFormat,
      '{"log": {"entries": [{"request": {"url": "https://a.example/"}}, }]]}\n',
    );
    expect(flows).toHaveLength(1);
    expect(problems).toHaveLength(1);
  });
});
