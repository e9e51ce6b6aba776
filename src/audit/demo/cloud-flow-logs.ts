// Demo cloud flow logs, one JSON record per line as log shippers store them: Azure NSG flow logs
// (version 2 tuples), Azure VNet flow logs (flowLogVersion 4), Azure Firewall application-rule
// logs (legacy `msg` and structured AZFWApplicationRule) and an AWS VPC flow log (default format,
// version 2, with its header line). Flow logs carry addresses only: the source address says which
// egress a flow used, and DNS answers from the DNS logs name the destination. Known leaks: the
// PowerBI service-tag address 13.73.248.4 and api.powerbi.com reached from the Internet source
// address, and a pbidedicated host reached the same way.

import type { Random } from '../../util/random.js';
import type { DemoFile } from './demo-file.js';
import { TextFile } from './demo-file.js';
import {
  addresses,
  circuitSource,
  demoStart,
  type Expected,
  exception,
  internetSource,
  leak,
  ok,
  serviceTagAddress,
  unknown,
  unverified,
} from './network.js';

const subscription = '00000000-0000-0000-0000-000000000000';
const mac = '000D3A2B4C5D';

interface Tuple {
  minute: number;
  source: string;
  destination: string;
  expect: Expected;
}

function timeOf(random: Random, minute: number): number {
  return demoStart + minute * 60_000 + random.int(0, 59_000);
}

export function nsgFlowLog(random: Random): DemoFile {
  const file = new TextFile();
  const records: Tuple[][] = [
    [
      { minute: 12, source: circuitSource, destination: serviceTagAddress, expect: ok },
      {
        minute: 13,
        source: internetSource,
        destination: addresses['dc.services.visualstudio.com'],
        expect: exception,
      },
    ],
    [
      {
        minute: 74,
        source: internetSource,
        destination: serviceTagAddress,
        expect: leak(serviceTagAddress, `source ${internetSource}`, 'service.powerbi-servicetag'),
      },
    ],
    [{ minute: 133, source: internetSource, destination: addresses['cdn.example.net'], expect: unknown }],
  ];
  for (const tuples of records) {
    const times = tuples.map((tuple) => timeOf(random, tuple.minute));
    const flowTuples = tuples.map((tuple, i) => {
      const seconds = Math.floor((times[i] as number) / 1000);
      const packetsOut = random.int(8, 400);
      const packetsIn = random.int(8, 900);
      return `${seconds},${tuple.source},${tuple.destination},${random.int(49152, 65000)},443,T,O,A,E,${packetsOut},${packetsOut * random.int(80, 900)},${packetsIn},${packetsIn * random.int(200, 1400)}`;
    });
    const record = {
      time: new Date(Math.max(...times) + 60_000).toISOString(),
      systemId: '5f1e6a2b-9c3d-4e8f-a1b2-c3d4e5f60718',
      macAddress: mac,
      category: 'NetworkSecurityGroupFlowEvent',
      resourceId: `/SUBSCRIPTIONS/${subscription}/RESOURCEGROUPS/PBI-EGRESS-RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/EGRESS-NSG`,
      operationName: 'NetworkSecurityGroupFlowEvents',
      properties: {
        Version: 2,
        flows: [{ rule: 'UserRule_AllowHttpsOutbound', flows: [{ mac, flowTuples }] }],
      },
    };
    file.add(JSON.stringify(record), ...tuples.map((tuple) => tuple.expect));
  }
  return {
    path: 'azure/nsg-flows.log',
    content: file.toBuffer(),
    format: 'nsg',
    description: 'Azure NSG flow log version 2, one record per line, end-of-flow (E) tuples with bytes',
    expected: file.expected,
  };
}

export function vnetFlowLog(random: Random): DemoFile {
  const file = new TextFile();
  const pbidedicated = 'westeurope-redirect.pbidedicated.windows.net';
  const records: Tuple[][] = [
    [
      {
        minute: 33,
        source: circuitSource,
        destination: addresses['wabi-west-europe-redirect.analysis.windows.net'],
        expect: ok,
      },
      {
        minute: 34,
        source: internetSource,
        destination: addresses['dev.virtualearth.net'],
        expect: exception,
      },
    ],
    [
      {
        minute: 181,
        source: internetSource,
        destination: addresses[pbidedicated],
        expect: leak(pbidedicated, `source ${internetSource}`, 'service.backend-api'),
      },
    ],
  ];
  for (const tuples of records) {
    const times = tuples.map((tuple) => timeOf(random, tuple.minute));
    const flowTuples = tuples.map((tuple, i) => {
      const packetsOut = random.int(8, 400);
      const packetsIn = random.int(8, 900);
      return `${times[i]},${tuple.source},${tuple.destination},${random.int(49152, 65000)},443,6,O,E,NX,${packetsOut},${packetsOut * random.int(80, 900)},${packetsIn},${packetsIn * random.int(200, 1400)}`;
    });
    const record = {
      time: new Date(Math.max(...times) + 60_000).toISOString(),
      flowLogVersion: 4,
      flowLogGUID: '6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d',
      macAddress: mac,
      category: 'FlowLogFlowEvent',
      flowLogResourceID: `/SUBSCRIPTIONS/${subscription}/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/PBI-EGRESS-VNET`,
      targetResourceID: `/subscriptions/${subscription}/resourceGroups/pbi-egress-rg/providers/Microsoft.Network/virtualNetworks/pbi-egress-vnet`,
      operationName: 'FlowLogFlowEvent',
      flowRecords: {
        flows: [
          {
            aclID: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
            flowGroups: [{ rule: 'DefaultRule_AllowInternetOutBound', flowTuples }],
          },
        ],
      },
    };
    file.add(JSON.stringify(record), ...tuples.map((tuple) => tuple.expect));
  }
  return {
    path: 'azure/vnet-flows.log',
    content: file.toBuffer(),
    format: 'vnet',
    description: 'Azure VNet flow log (flowLogVersion 4), one record per line',
    expected: file.expected,
  };
}

export function firewallLog(random: Random): DemoFile {
  const file = new TextFile();
  const resourceId = `/SUBSCRIPTIONS/${subscription}/RESOURCEGROUPS/PBI-EGRESS-RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/PBI-EGRESS-FW`;
  const legacy = (minute: number, client: string, host: string, expect: Expected) => {
    const record = {
      category: 'AzureFirewallApplicationRule',
      operationName: 'AzureFirewallApplicationRuleLog',
      properties: {
        msg: `HTTPS request from ${client}:${random.int(49152, 65000)} to ${host}:443. Action: Allow. Policy: pbi-egress-policy. Rule Collection Group: DefaultApplicationRuleCollectionGroup. Rule Collection: allow-powerbi. Rule: powerbi-web`,
      },
      resourceId,
      time: new Date(timeOf(random, minute)).toISOString().replace('Z', '0000Z'),
    };
    file.add(JSON.stringify(record), expect);
  };
  legacy(21, '10.1.0.4', 'api.powerbi.com', unverified);
  legacy(47, '10.1.0.5', 'www.example.com', unknown);
  const structured = {
    time: new Date(timeOf(random, 96)).toISOString().replace('Z', '0000Z'),
    resourceId,
    category: 'AZFWApplicationRule',
    operationName: 'AZFWApplicationRule',
    properties: {
      Protocol: 'HTTPS',
      SourceIp: '10.1.0.6',
      SourcePort: random.int(49152, 65000),
      DestinationPort: 443,
      Fqdn: 'content.powerapps.com',
      TargetUrl: '',
      Action: 'Allow',
      Policy: 'pbi-egress-policy',
      RuleCollectionGroup: 'DefaultApplicationRuleCollectionGroup',
      RuleCollection: 'allow-powerbi',
      Rule: 'powerbi-cdn',
      ActionReason: '',
      IsTlsInspected: false,
      WebCategory: 'ComputersAndTechnology',
      IsExplicitProxyRequest: false,
    },
  };
  file.add(JSON.stringify(structured), unverified);
  return {
    path: 'azure/firewall-app.log',
    content: file.toBuffer(),
    format: 'azfw',
    description:
      'Azure Firewall application-rule log: legacy msg lines and a structured AZFWApplicationRule line',
    expected: file.expected,
  };
}

export function vpcFlowLog(random: Random): DemoFile {
  const file = new TextFile();
  file.add(
    'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status',
  );
  const rows: Tuple[] = [
    { minute: 18, source: circuitSource, destination: addresses['api.powerbi.com'], expect: ok },
    { minute: 52, source: circuitSource, destination: addresses['login.microsoftonline.com'], expect: ok },
    {
      minute: 119,
      source: internetSource,
      destination: addresses['api.powerbi.com'],
      expect: leak('api.powerbi.com', `source ${internetSource}`, 'service.backend-api'),
    },
    {
      minute: 201,
      source: internetSource,
      destination: addresses['content.powerapps.com'],
      expect: exception,
    },
  ];
  for (const row of rows) {
    const start = Math.floor(timeOf(random, row.minute) / 1000);
    const packets = random.int(10, 2_000);
    file.add(
      `2 123456789012 eni-0a1b2c3d4e5f60718 ${row.source} ${row.destination} ${random.int(49152, 65000)} 443 6 ${packets} ${packets * random.int(100, 1400)} ${start} ${start + 60} ACCEPT OK`,
      row.expect,
    );
  }
  return {
    path: 'aws/vpc-flows.log',
    content: file.toBuffer(),
    format: 'vpc',
    description: 'AWS VPC flow log, default format version 2 with header line (outbound records)',
    expected: file.expected,
  };
}
