import { describe, expect, test } from 'vitest';
import { vnetFormat, vnetTuple } from './azure-vnet.js';
import { collectFile } from './collect.js';
import { fixture, sample } from './test-files.js';

describe('vnet: real samples (elastic/integrations azure_network_watcher_vnet)', () => {
  test('blob form: 19 tuples -> 5 outbound connections (B + E joined), 9 inbound denied skipped', async () => {
    const { flows, problems } = await collectFile(vnetFormat, sample('azure-vnet-flow.json'));
    expect(problems).toEqual([]);
    expect(
      flows.map((flow) => [flow.destination, flow.start, flow.end, flow.bytesUp, flow.bytesDown]),
    ).toEqual([
      ['52.239.184.180', 1663146003599, 1663146003606, 767, 1580],
      ['40.74.146.17', 1663146003637, 1663146003640, 705, 4569],
      ['40.74.146.17', 1663146004251, 1663146004251, 705, 4569],
      ['40.74.146.17', 1663146004622, 1663146004622, 134, 108],
      ['104.16.218.84', 1663146017343, 1663146022793, 2217, 32466],
    ]);
    expect(flows[0]).toMatchObject({
      origin: { kind: 'vnet', line: 1 },
      client: '10.0.0.6',
      sourceAddress: '10.0.0.6',
      port: 443,
      protocol: 'tcp',
    });
  });

  test('one record per line: an E tuple and a B-only tuple', async () => {
    const { flows, problems } = await collectFile(vnetFormat, sample('azure-vnet-flow.log'));
    expect(problems).toEqual([]);
    expect(
      flows.map((flow) => [
        flow.client,
        flow.destination,
        flow.start,
        flow.end,
        flow.bytesUp,
        flow.bytesDown,
      ]),
    ).toEqual([
      ['216.160.83.56', '81.2.69.142', 1663146003606, 1663146003606, 2217, 0],
      ['1.128.0.0', '175.16.199.0', 1663146003599, null, null, null],
    ]);
  });
});

describe('vnet: record-per-line fixture with broken lines', async () => {
  const { flows, problems } = await collectFile(vnetFormat, fixture('vnet-lines.log'));

  test('a connection begun on line 1 and ended on line 3 is one flow; broken lines are skipped', () => {
    expect(flows.map((flow) => [flow.origin.line, flow.destination, flow.port, flow.protocol])).toEqual([
      [1, '8.8.8.8', 53, 'udp'],
      [1, '13.73.248.4', 443, 'tcp'],
      [6, '1.1.1.1', 443, 'tcp'],
    ]);
    expect(flows[1]).toMatchObject({
      start: 1709287200000,
      end: 1709287260000,
      bytesUp: 200,
      bytesDown: 3000,
    });
    expect(flows[2]).toMatchObject({ start: 1709287380000, end: 1709287380000, bytesUp: 10, bytesDown: 20 });
  });

  test('problems: unterminated line, bad state, not JSON, no flowRecords', () => {
    expect(problems.map((problem) => problem.line)).toEqual([2, 3, 4, 5]);
    expect(problems[1]?.message).toContain('state "Q"');
  });
});

test('vnetTuple', () => {
  expect(vnetTuple('1,10.0.0.1,10.0.0.2,1,2,6,O,D,NX,0,0,0,0')).toBeNull();
  expect(vnetTuple('1,10.0.0.1,10.0.0.2,1,2,6,I,B,NX,0,0,0,0')).toBeNull();
  expect(vnetTuple('1,10.0.0.1,10.0.0.2,1,2,1,O,E,NX,1,2,3,4')).toMatchObject({
    protocol: 'icmp',
    destinationPort: null,
  });
  expect(vnetTuple('1,10.0.0.1,10.0.0.2,1,2,6,O,B,NX,0,0,0')).toBe('has 12 fields, expected 13');
});
