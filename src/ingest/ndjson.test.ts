import { describe, expect, test } from 'vitest';
import { csvHeader, csvLine } from '../audit/report-csv.js';
import { ndjsonLine } from '../audit/report-ndjson.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { collectFile, collectFlows } from './collect.js';
import { csvFormat } from './csv.js';
import { ndjsonFormat } from './ndjson.js';
import { fixture } from './test-files.js';

describe('ndjson flow form (fixture)', async () => {
  const { flows, problems } = await collectFile(ndjsonFormat, fixture('flows.ndjson'));

  test('4 flows; a classified record reads back, its classification ignored', () => {
    expect(flows.map((flow) => flow.origin.line)).toEqual([1, 2, 5, 6]);
    expect(flows[0]).toEqual({
      start: 1709287200000,
      end: 1709287201000,
      origin: { kind: 'ndjson', file: fixture('flows.ndjson'), line: 1 },
      client: '10.20.0.15',
      host: 'app.powerbi.com',
      sni: null,
      httpHost: null,
      destination: '13.73.248.4',
      port: 443,
      protocol: 'https',
      component: 'saas',
      bytesUp: 1200,
      bytesDown: 45000,
      sourceAddress: null,
      upstream: '10.9.0.1:3128',
      connectionId: null,
      actualPath: 'expressroute',
      actualPathEvidence: 'proxy 10.9.0.1',
    });
  });

  test('strings for numbers and times are accepted', () => {
    expect(flows[1]).toMatchObject({
      host: 'api.powerbi.com',
      start: Date.UTC(2024, 2, 1, 10, 0, 5),
      port: 443,
      bytesDown: 10,
    });
  });

  test('problems: bad address, not an object, unknown key once, bad JSON, nothing to classify', () => {
    expect(problems.map((problem) => [problem.line, problem.field])).toEqual([
      [3, 'destination'],
      [4, undefined],
      [5, 'colour'],
      [7, undefined],
      [8, undefined],
    ]);
  });
});

describe('round trip through the audit writers (report-ndjson.ts, report-csv.ts)', () => {
  const classified: FlowRecord = {
    ...emptyFlow({ kind: 'squid', file: 'access.log', line: 42 }),
    start: 1709287200000,
    end: 1709287201500,
    client: '10.20.0.15',
    host: 'app.powerbi.com',
    destination: '13.73.248.4',
    port: 443,
    protocol: 'https',
    bytesDown: 5120,
    upstream: '10.9.0.1',
    actualPath: 'expressroute',
    actualPathEvidence: 'proxy 10.9.0.1',
    expectedPath: 'either',
    verdict: 'ok',
    ruleId: 'some-rule',
    reason: 'a reason, with a comma',
  };
  const readable = (flow: FlowRecord) => {
    const { origin: _origin, expectedPath: _e, verdict: _v, ruleId: _r, reason: _why, ...fields } = flow;
    return fields;
  };

  test('--ndjson output reads back with no problems', async () => {
    const { flows, problems } = await collectFlows(
      ndjsonFormat,
      ndjsonLine(classified) + ndjsonLine(classified),
    );
    expect(problems).toEqual([]);
    expect(flows.map(readable)).toEqual([readable(classified), readable(classified)]);
  });

  test('--csv output reads back with no problems', async () => {
    const { flows, problems } = await collectFlows(csvFormat, csvHeader + csvLine(classified));
    expect(problems).toEqual([]);
    expect(flows.map(readable)).toEqual([readable(classified)]);
  });
});
