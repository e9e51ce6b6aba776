import { describe, expect, test } from 'vitest';
import type { PathwardenError } from '../errors.js';
import { parseVpcFields, vpcFormat } from './aws-vpc.js';
import { collectFile, collectFlows } from './collect.js';
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

describe('vpc: no header line, fields named by --vpc-fields (issue 10, item 9)', () => {
  // CloudWatch Logs and Firehose deliver the records without the header line that S3 files have.
  const custom =
    'version vpc-id interface-id flow-direction srcaddr dstaddr dstport protocol bytes start end action log-status';
  const lines = [
    '5 vpc-0123 eni-0a1b2c3d4e5f60718 egress 10.20.0.15 13.73.248.4 443 6 4800 1709287200 1709287260 ACCEPT OK',
    '5 vpc-0123 eni-0a1b2c3d4e5f60718 ingress 13.73.248.4 10.20.0.15 50001 6 45000 1709287200 1709287260 ACCEPT OK',
  ].join('\n');

  test('before: every line is a problem; with the fields: the egress flow', async () => {
    const without = await collectFlows(vpcFormat, lines);
    expect(without.flows).toEqual([]);
    expect(without.problems).toHaveLength(2);
    const { flows, problems } = await collectFlows(vpcFormat, lines, {
      formatOptions: { vpcFields: parseVpcFields(custom) },
    });
    expect(problems).toEqual([]);
    expect(flows.map((flow) => [flow.client, flow.destination, flow.port, flow.bytesUp])).toEqual([
      ['10.20.0.15', '13.73.248.4', 443, 4800],
    ]);
  });

  test('Transit Gateway flow logs (the $-and-braces form of a LogFormat; no action field)', async () => {
    // The default Transit Gateway flow log fields, in AWS's order, written as in a LogFormat.
    const tgwFields =
      'version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status type packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region flow-direction pkt-src-aws-service pkt-dst-aws-service'
        .split(' ')
        .map((name) => `$${'{'}${name}}`)
        .join(' ');
    expect(tgwFields.startsWith('$' + '{version} $' + '{resource-type}')).toBe(true);
    const fields = parseVpcFields(tgwFields);
    expect(fields).toHaveLength(36);
    const line =
      '6 TransitGateway 123456789012 tgw-0123 tgw-attach-0a 123456789012 123456789012 vpc-0a vpc-0b subnet-0a subnet-0b eni-0a eni-0b use1-az1 use1-az2 tgw-attach-0b 10.1.0.5 20.190.160.1 50100 443 6 10 5400 1709287200 1709287260 OK IPv4 0 0 0 0 3 us-east-1 egress - -';
    const { flows, problems } = await collectFlows(vpcFormat, line, { formatOptions: { vpcFields: fields } });
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      client: '10.1.0.5',
      destination: '20.190.160.1',
      port: 443,
      protocol: 'tcp',
      bytesUp: 5400,
      start: 1709287200000,
      end: 1709287260000,
    });
  });

  test('a header line in the file still wins over --vpc-fields', async () => {
    const { flows, problems } = await collectFile(vpcFormat, fixture('vpc-v5.log'), {
      formatOptions: { vpcFields: parseVpcFields('srcaddr dstaddr') },
    });
    expect(problems).toEqual([]);
    expect(flows.length).toBeGreaterThan(0);
  });

  test('bad --vpc-fields are a usage error', () => {
    expect(() => parseVpcFields('version account-id')).toThrow(/srcaddr and dstaddr/);
    expect(() => parseVpcFields('srcaddr dstaddr Bad_Name')).toThrow(/Bad_Name/);
    expect(() => parseVpcFields('srcaddr dstaddr srcaddr')).toThrow(/twice/);
    try {
      parseVpcFields('');
    } catch (error) {
      expect((error as PathwardenError).code).toBe('PW_ERR_USAGE');
    }
  });
});
