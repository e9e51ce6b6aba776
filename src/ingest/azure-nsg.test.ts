import { describe, expect, test } from 'vitest';
import { nsgFormat, nsgTuple } from './azure-nsg.js';
import { collectFile } from './collect.js';
import { fixture, sample } from './test-files.js';

describe('nsg: real samples (elastic/integrations azure_network_watcher_nsg)', () => {
  test('blob form: 2 records, 11 tuples -> 4 outbound allowed flows (7 inbound denied skipped)', async () => {
    const { flows, problems } = await collectFile(nsgFormat, sample('azure-nsg-flow.json'));
    expect(problems).toEqual([]);
    // E tuples complete a flow at once; the B-only and C-only ones are written at the end.
    expect(
      flows.map((flow) => [flow.destination, flow.start, flow.end, flow.bytesUp, flow.bytesDown]),
    ).toEqual([
      ['13.67.143.117', 1542110379000, 1542110379000, 66, 66],
      ['40.71.12.225', 1542110406000, 1542110406000, 8489, 7054],
      ['13.67.143.118', 1542110377000, null, null, null],
      ['13.67.143.115', 1542110379000, 1542110379000, 16978, 14008],
    ]);
    expect(flows[0]).toEqual({
      start: 1542110379000,
      end: 1542110379000,
      origin: { kind: 'nsg', file: sample('azure-nsg-flow.json'), line: 1 },
      client: '10.5.16.4',
      host: null,
      sni: null,
      httpHost: null,
      destination: '13.67.143.117',
      port: 443,
      protocol: 'tcp',
      component: null,
      bytesUp: 66,
      bytesDown: 66,
      sourceAddress: '10.5.16.4',
      upstream: null,
      connectionId: null,
      actualPath: 'unknown',
      actualPathEvidence: null,
    });
  });

  test('one record per line: 1 flow', async () => {
    const { flows, problems } = await collectFile(nsgFormat, sample('azure-nsg-flow.log'));
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      origin: { line: 1 },
      client: '1.128.0.0',
      sourceAddress: '1.128.0.0',
      destination: '1.128.0.1',
      port: 443,
      start: 1542110379000,
      bytesUp: 66,
      bytesDown: 66,
    });
  });
});

describe('nsg: pretty-printed blob fixture', async () => {
  const { flows, problems } = await collectFile(nsgFormat, fixture('nsg-pretty.json'));

  test('B / C / E tuples of one connection across records become one flow', () => {
    expect(flows.map((flow) => [flow.origin.line, flow.destination])).toEqual([
      [3, '2603:1020:200::12'],
      [3, '13.73.248.4'],
      [54, '13.107.42.14'],
      [3, '20.50.88.235'],
    ]);
    expect(flows[1]).toMatchObject({
      start: 1709287200000,
      end: 1709287300000,
      bytesUp: 1100, // 1000 (C) + 100 (E)
      bytesDown: 22000, // 20000 (C) + 2000 (E)
      port: 443,
    });
  });

  test('version 1 tuples are flows by themselves (no bytes, no end)', () => {
    expect(flows[2]).toMatchObject({ client: '10.20.0.16', start: 1709287400000, end: null, bytesUp: null });
  });

  test('bad tuples and a record without flows are reported at their record line', () => {
    expect(problems.map((problem) => problem.line)).toEqual([3, 3, 55]);
    expect(problems[0]?.message).toContain('protocol "X"');
    expect(problems[1]?.message).toContain('has 1 fields');
  });
});

test('nsgTuple', () => {
  expect(nsgTuple('1,10.0.0.1,10.0.0.2,1,2,T,I,A,B,,,,')).toBeNull();
  expect(nsgTuple('1,10.0.0.1,10.0.0.2,1,2,T,O,D,B,,,,')).toBeNull();
  expect(nsgTuple('1,10.0.0.1,10.0.0.2,1,2,U,O,A,E,1,2,3,4')).toMatchObject({
    protocol: 'udp',
    bytesOut: 2,
    bytesIn: 4,
    state: 'E',
  });
  expect(nsgTuple('x,10.0.0.1,10.0.0.2,1,2,T,O,A,B,,,,')).toBe('time is not epoch seconds');
  expect(nsgTuple(42)).toBe('is not a string');
});
