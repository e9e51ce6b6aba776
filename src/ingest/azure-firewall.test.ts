import { describe, expect, test } from 'vitest';
import { azfwFormat } from './azure-firewall.js';
import { collectFile } from './collect.js';
import { fixture, sample } from './test-files.js';

describe('azfw: real sample (elastic/integrations azure firewall_logs, legacy + structured)', async () => {
  const { flows, problems } = await collectFile(azfwFormat, sample('azure-firewall-app.log'));

  test('8 records -> 7 flows (the denied request without SNI names no host); no problems', () => {
    expect(problems).toEqual([]);
    expect(flows.map((flow) => [flow.origin.line, flow.host, flow.port])).toEqual([
      [1, 'md-qp4jv5snxgk5.z13.blob.storage.azure.net', 443],
      [2, 'guestconfiguration.azure.com', 443],
      [3, 'ocsp.msocsp.com', 80],
      [4, 'instance01.westeurope.datafactory.azure.net', 443],
      [6, 'www.google.com', 443],
      [7, 'www.microsoft.com', 123],
      [8, 'test.us.endpoint.security.microsoft.com', 443],
    ]);
    expect(flows.every((flow) => flow.origin.kind === 'azfw' && flow.end === null)).toBe(true);
  });

  test('legacy msg fields', () => {
    expect(flows[0]).toMatchObject({
      start: Date.UTC(2022, 5, 8, 20, 40, 23, 214),
      client: '10.0.2.4',
      protocol: 'https',
      destination: null,
    });
    expect(flows[2]).toMatchObject({
      client: '10.0.0.1',
      protocol: 'http',
      start: Date.UTC(2022, 5, 8, 20, 40, 39, 363),
    });
  });

  test('structured AZFWApplicationRule: Fqdn, else the TargetUrl host; DestinationPort wins', () => {
    expect(flows[5]).toMatchObject({
      start: Date.UTC(2024, 2, 20, 23, 39, 59, 849),
      client: '1.128.0.0',
      destination: '1.128.0.0',
      protocol: 'http',
    });
    expect(flows[6]).toMatchObject({
      start: Date.UTC(2025, 10, 26, 14, 16, 47, 139),
      protocol: 'https',
      destination: null,
    });
  });
});

describe('azfw: network rules, other categories, Log Analytics export (fixture)', async () => {
  const { flows, problems } = await collectFile(azfwFormat, fixture('azfw-mixed.json'));

  test('flows and skipped records', () => {
    expect(flows.map((flow) => flow.origin.line)).toEqual([2, 4, 7, 8]);
    expect(flows[0]).toMatchObject({
      client: '10.20.0.15',
      destination: '13.73.248.4',
      host: null,
      port: 443,
      protocol: 'tcp',
    });
    expect(flows[1]).toMatchObject({
      client: '10.20.0.16',
      destination: '8.8.8.8',
      port: null,
      protocol: 'icmp',
    });
    expect(flows[2]).toMatchObject({
      start: Date.UTC(2024, 2, 1, 10, 0, 5, 500),
      client: '10.20.0.17',
      destination: '20.190.160.1',
      port: 443,
      protocol: 'tcp',
    });
    // Denied, but it names a host: kept, with no destination.
    expect(flows[3]).toMatchObject({
      host: 'app.powerbi.com',
      destination: null,
      port: 443,
      protocol: 'https',
    });
  });

  test('problems: unreadable msg, no category, bad time', () => {
    expect(problems.map((problem) => problem.line)).toEqual([9, 10, 11]);
    expect(problems[1]).toMatchObject({ field: 'category' });
    expect(problems[2]).toMatchObject({ field: 'time' });
  });
});
