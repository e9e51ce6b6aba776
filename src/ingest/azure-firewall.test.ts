import { describe, expect, test } from 'vitest';
import type { FlowRecord } from '../flow/record.js';
import { azfwFormat } from './azure-firewall.js';
import { collectFile, collectFlows } from './collect.js';
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

describe('azfw: IDPS and port-less messages (issue 10, item 6)', () => {
  // IDPS alerts are written under AzureFirewallNetworkRule (operationName AzureFirewallIDSLog); for
  // ICMP and other port-less protocols the address is followed by an empty port (`192.168.0.2:`).
  const idps = (msg: string) =>
    `${JSON.stringify({
      category: 'AzureFirewallNetworkRule',
      operationName: 'AzureFirewallIDSLog',
      time: '2025-12-03T12:42:15.010Z',
      properties: { msg },
    })}\n`;

  test('ICMP IDPS alert with empty ports: one flow, no problem', async () => {
    const { flows, problems } = await collectFlows(
      azfwFormat,
      idps(
        'ICMP request from 192.168.0.2: to 175.16.199.1:. Action: alert. Signature: 2100366. IDS: GPL ICMP_INFO PING *NIX. Priority: 3. Classification: Misc activity',
      ),
    );
    expect(problems).toEqual([]);
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({
      client: '192.168.0.2',
      destination: '175.16.199.1',
      port: null,
      protocol: 'icmp',
    });
  });

  test('TCP IDPS alert with ports, and a denied port-less one (no host: not a flow)', async () => {
    const { flows, problems } = await collectFlows(
      azfwFormat,
      idps(
        'TCP request from 10.0.0.4:55016 to 13.107.21.200:443. Action: Alert. Signature: 2008581. IDS: ET P2P BitTorrent DHT ping request. Priority: 2. Classification: Potential Corporate Privacy Violation',
      ) + idps('ICMP request from 10.0.0.4: to 8.8.8.8:. Action: Drop. Signature: 1. IDS: x. Priority: 1.'),
    );
    expect(problems).toEqual([]);
    expect(flows.map((flow) => [flow.client, flow.destination, flow.port])).toEqual([
      ['10.0.0.4', '13.107.21.200', 443],
    ]);
  });

  test('a port that is there but bad is still a problem', async () => {
    const { flows, problems } = await collectFlows(
      azfwFormat,
      idps('TCP request from 10.0.0.4:99999 to 13.107.21.200:443. Action: Alert.'),
    );
    expect(flows).toEqual([]);
    expect(problems).toHaveLength(1);
  });
});

describe('azfw: Log Analytics export of the legacy AzureDiagnostics table (issue 10, item 8)', () => {
  const rows = [
    {
      TimeGenerated: '2025-12-03T19:42:15.010Z',
      Category: 'AzureFirewallApplicationRule',
      OperationName: 'AzureFirewallApplicationRuleLog',
      msg_s:
        'HTTPS request from 10.0.2.4:56029 to app.powerbi.com:443. Action: Allow. Rule Collection: pbi. Rule: web',
      Type: 'AzureDiagnostics',
    },
    {
      TimeGenerated: '2025-12-03T19:42:16Z',
      Category: 'AzureFirewallNetworkRule',
      OperationName: 'AzureFirewallNetworkRuleLog',
      msg_s:
        'TCP request from 10.0.2.5:50001 to 13.73.248.4:443. Action: Allow. Rule Collection: rc1. Rule: pbi',
      Type: 'AzureDiagnostics',
    },
  ];
  const expected = [
    [Date.UTC(2025, 11, 3, 19, 42, 15, 10), '10.0.2.4', 'app.powerbi.com', null, 443],
    [Date.UTC(2025, 11, 3, 19, 42, 16), '10.0.2.5', null, '13.73.248.4', 443],
  ];
  const summary = (flows: FlowRecord[]) =>
    flows.map((flow) => [flow.start, flow.client, flow.host, flow.destination, flow.port]);

  test('JSON lines (Category, msg_s): before 0 records 0 problems, now 2 flows', async () => {
    const input = rows.map((row) => JSON.stringify(row)).join('\n');
    expect(azfwFormat.sniff(Buffer.from(input))).toBeGreaterThanOrEqual(0.9);
    const { flows, problems } = await collectFlows(azfwFormat, input);
    expect(problems).toEqual([]);
    expect(summary(flows)).toEqual(expected);
    expect(flows.map((flow) => flow.origin.line)).toEqual([1, 2]);
  });

  test('a JSON array (az monitor log-analytics query): each element with its own line', async () => {
    const input = JSON.stringify(rows, null, 2);
    expect(azfwFormat.sniff(Buffer.from(input))).toBeGreaterThanOrEqual(0.9);
    const { flows, problems } = await collectFlows(azfwFormat, input);
    expect(problems).toEqual([]);
    expect(summary(flows)).toEqual(expected);
    expect(flows.map((flow) => flow.origin.line)).toEqual([2, 9]);
  });

  test('the portal CSV export ("TimeGenerated [UTC]" in en-US form), quoted cells', async () => {
    const input = [
      'TenantId,SourceSystem,"TimeGenerated [UTC]",ResourceId,Category,OperationName,msg_s,Type',
      `t,Azure,"12/3/2025, 7:42:15.010 PM",/SUBSCRIPTIONS/X,AzureFirewallApplicationRule,AzureFirewallApplicationRuleLog,"${rows[0]?.msg_s}",AzureDiagnostics`,
      `t,Azure,"2025-12-03T19:42:16Z",/SUBSCRIPTIONS/X,AzureFirewallNetworkRule,AzureFirewallNetworkRuleLog,"${rows[1]?.msg_s}",AzureDiagnostics`,
      't,Azure,"12/3/2025, 7:42:17 PM",/SUBSCRIPTIONS/X,AzureFirewallNetworkRule,AzureFirewallNetworkRuleLog,"garbled",AzureDiagnostics',
      't,Azure,"13/3/2025, 7:42:17 PM",/SUBSCRIPTIONS/X,AzureFirewallNetworkRule,AzureFirewallNetworkRuleLog,"x",AzureDiagnostics',
    ].join('\r\n');
    expect(azfwFormat.sniff(Buffer.from(input))).toBeGreaterThanOrEqual(0.9);
    const { flows, problems } = await collectFlows(azfwFormat, input);
    expect(summary(flows)).toEqual(expected);
    expect(flows.map((flow) => flow.origin.line)).toEqual([2, 3]);
    expect(problems.map((problem) => [problem.line, problem.field])).toEqual([
      [4, 'msg_s'],
      [5, 'time'],
    ]);
  });

  test('parse() and parseBatches() agree on the CSV form', async () => {
    const input = `Category,TimeGenerated,msg_s\nAzureFirewallNetworkRule,2025-12-03T19:42:16Z,"${rows[1]?.msg_s}"\n`;
    expect(await collectFlows(azfwFormat, input, { oneByOne: true })).toEqual(
      await collectFlows(azfwFormat, input),
    );
  });
});

describe('azfw: a JSON-lines file whose first line is broken (found by the fuzz test)', () => {
  test('is still read as JSON from its second line on, not as CSV', async () => {
    const good = JSON.stringify({
      category: 'AzureFirewallNetworkRule',
      time: '2024-03-01T10:00:00Z',
      properties: { msg: 'TCP request from 10.0.0.1:1 to 13.73.248.4:443. Action: Allow.' },
    });
    const { flows, problems } = await collectFlows(azfwFormat, `x${good}\n${good}\n`);
    expect(flows.map((flow) => flow.origin.line)).toEqual([2]);
    expect(problems.map((problem) => problem.line)).toEqual([1]);
  });
});
