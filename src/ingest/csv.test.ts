import { describe, expect, test } from 'vitest';
import { collectFile, collectFlows } from './collect.js';
import { csvFormat } from './csv.js';
import { splitRow } from './csv-rows.js';
import { fixture } from './test-files.js';

describe('csv flow form (fixture)', async () => {
  const { flows, problems } = await collectFile(csvFormat, fixture('flows.csv'));

  test('3 flows; a quoted cell spanning two lines is one row', () => {
    expect(flows.map((flow) => flow.origin.line)).toEqual([2, 3, 4]);
  });

  test('every column maps onto its FlowRecord field', () => {
    expect(flows[0]).toEqual({
      start: 1709287200000,
      end: 1709287201000,
      origin: { kind: 'csv', file: fixture('flows.csv'), line: 2 },
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
      sourceAddress: '10.20.0.5',
      upstream: null,
      connectionId: null,
      actualPath: 'unknown',
      actualPathEvidence: null,
    });
    expect(flows[1]).toMatchObject({
      start: Date.UTC(2024, 2, 1, 10, 0, 5),
      end: null,
      host: 'api.powerbi.com',
      component: 'desktop',
      upstream: '10.9.0.1:3128',
      actualPath: 'expressroute',
    });
    expect(flows[2]).toMatchObject({
      destination: '2603:1020:200::12',
      actualPath: 'internet',
      bytesUp: 10,
      bytesDown: 20,
    });
  });

  test('unknown column once, bad cells, wrong cell count, unclosed quote', () => {
    expect(problems.map((problem) => [problem.line, problem.field])).toEqual([
      [1, 'comment'],
      [6, 'port'],
      [7, 'component'],
      [8, undefined],
      [9, undefined],
      [10, undefined],
    ]);
  });

  test('semicolon header with snake_case and dashed names, BOM and CRLF', async () => {
    const text = '\uFEFFhost;destination;bytes_up;Bytes-Down\r\napp.powerbi.com;13.73.248.4;1;2\r\n';
    const { flows: rows, problems: none } = await collectFlows(csvFormat, text);
    expect(none).toEqual([]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      host: 'app.powerbi.com',
      destination: '13.73.248.4',
      bytesUp: 1,
      bytesDown: 2,
    });
  });

  test('splitRow (RFC 4180)', () => {
    expect(splitRow('a,"b,c","d""e",', ',')).toEqual(['a', 'b,c', 'd"e', '']);
    expect(splitRow('"open,', ',')).toBeUndefined();
    expect(splitRow('', ',')).toEqual(['']);
  });
});
