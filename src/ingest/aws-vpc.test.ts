import { describe, expect, test } from 'vitest';
import { vpcFormat } from './aws-vpc.js';
import { collectFile } from './collect.js';
import { fixture, sample } from './test-files.js';

describe('vpc: real sample (elastic/integrations aws vpcflow test-extra-samples.log)', async () => {
  const { flows, problems } = await collectFile(vpcFormat, sample('aws-vpc-flow.log'));

  test('7 lines -> 3 accepted flows; NODATA, SKIPDATA and REJECT are no problems', () => {
    expect(problems).toEqual([]);
    expect(flows.map((flow) => flow.origin.line)).toEqual([1, 4, 6]);
  });

  test('IPv6, TCP and ICMP records', () => {
    expect(flows[0]).toEqual({
      start: 1477913708000,
      end: 1477913820000,
      origin: { kind: 'vpc', file: sample('aws-vpc-flow.log'), line: 1 },
      client: '2001:db8:1234:a100:8d6e:3477:df66:f105',
      host: null,
      sni: null,
      httpHost: null,
      destination: '2001:db8:1234:a102:3304:8879:34cf:4071',
      port: 22,
      protocol: 'tcp',
      component: null,
      bytesUp: 8855,
      bytesDown: null,
      sourceAddress: '2001:db8:1234:a100:8d6e:3477:df66:f105',
      upstream: null,
      connectionId: null,
      actualPath: 'unknown',
      actualPathEvidence: null,
    });
    expect(flows[1]).toMatchObject({
      client: '78.24.182.42',
      destination: '158.109.0.1',
      port: 22,
      bytesUp: 4249,
    });
    expect(flows[2]).toMatchObject({ protocol: 'icmp', port: null, bytesUp: 336, start: 1432917027000 });
  });
});

describe('vpc: fixtures', () => {
  test('header line, both directions of a connection, bad lines', async () => {
    const { flows, problems } = await collectFile(vpcFormat, fixture('vpc-header.log'));
    expect(
      flows.map((flow) => [flow.origin.line, flow.client, flow.destination, flow.port, flow.bytesUp]),
    ).toEqual([
      [2, '10.20.0.15', '13.73.248.4', 443, 4800],
      [3, '13.73.248.4', '10.20.0.15', 50001, 45000],
    ]);
    expect(problems.map((problem) => [problem.line, problem.field])).toEqual([
      [4, undefined],
      [5, 'dstaddr'],
      [6, 'action'],
    ]);
  });

  test('custom fields with flow-direction (version 5): only egress records', async () => {
    const { flows, problems } = await collectFile(vpcFormat, fixture('vpc-v5.log'));
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      destination: '13.73.248.4',
      port: 443,
      bytesUp: 4800,
      start: 1709287200000,
    });
  });
});
