// Demo Zeek logs (TSV, `#fields` headers as Zeek's ASCII writer emits them) from a sensor on the
// egress link: conn.log, ssl.log (server names, joined to conn by uid) and dns.log (answers that
// name the conn records without an ssl record). The known leak: a TLS connection to a North Europe
// analysis host that left by the default (Internet) path.

import type { Random } from '../../util/random.js';
import type { DemoFile } from './demo-file.js';
import { TextFile } from './demo-file.js';
import {
  addresses,
  type DemoHost,
  demoStart,
  type Expected,
  exception,
  leak,
  ok,
  resolver,
  serviceTagAddress,
  unknown,
  unverified,
} from './network.js';

const open = '2026-11-23-08-00-00';
const close = '2026-11-23-12-00-00';

/** Columns of a Zeek conn.log (the set the demo and the audit benchmark write). */
export const zeekConnFields = [
  'ts',
  'uid',
  'id.orig_h',
  'id.orig_p',
  'id.resp_h',
  'id.resp_p',
  'proto',
  'service',
  'duration',
  'orig_bytes',
  'resp_bytes',
  'conn_state',
  'local_orig',
  'local_resp',
  'missed_bytes',
  'history',
  'orig_pkts',
  'orig_ip_bytes',
  'resp_pkts',
  'resp_ip_bytes',
  'tunnel_parents',
];

export const zeekConnTypes = [
  'time',
  'string',
  'addr',
  'port',
  'addr',
  'port',
  'enum',
  'string',
  'interval',
  'count',
  'count',
  'string',
  'bool',
  'bool',
  'count',
  'string',
  'count',
  'count',
  'count',
  'count',
  'set[string]',
];

/** The `#` header lines of a Zeek TSV log. */
export function zeekHeader(
  path: string,
  fields: readonly string[],
  types: readonly string[],
  opened = open,
): string[] {
  return [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    `#path\t${path}`,
    `#open\t${opened}`,
    `#fields\t${fields.join('\t')}`,
    `#types\t${types.join('\t')}`,
  ];
}

const seconds = (ms: number) => (ms / 1000).toFixed(6);

interface Connection {
  uid: string;
  time: number;
  client: string;
  clientPort: number;
  server: string;
  /** Server name from the ssl log; null when the sensor saw no ClientHello for it. */
  sni: string | null;
  up: number;
  down: number;
  expect: Expected;
}

export function zeekLogs(random: Random): DemoFile[] {
  const uid = (n: number) => `C${(0x5a17 * (n + 3)).toString(36)}pw${n}Q${(n * 7919).toString(36)}`;
  const connection = (
    n: number,
    minute: number,
    host: DemoHost | null,
    server: string,
    expect: Expected,
  ): Connection => ({
    uid: uid(n),
    time: demoStart + minute * 60_000 + random.int(0, 59_999),
    client: `10.1.1.${random.int(10, 40)}`,
    clientPort: random.int(49152, 65000),
    server,
    sni: host,
    up: random.int(900, 60_000),
    down: random.int(4_000, 3_000_000),
    expect,
  });
  const north = 'wabi-north-europe-d-primary-redirect.analysis.windows.net';
  const connections: Connection[] = [
    connection(1, 5, 'api.powerbi.com', addresses['api.powerbi.com'], ok),
    connection(2, 17, north, addresses[north], leak(north, 'default', 'service.backend-api')),
    connection(3, 29, 'app.powerbi.com', addresses['app.powerbi.com'], exception),
    // No ssl record: named by dns.log's answer, on a prefix the circuit advertises.
    connection(4, 41, null, addresses['westeurope.pbidedicated.windows.net'], ok),
    // No ssl record: named by dns.log's answer; no catalog rule knows the name.
    connection(5, 63, null, addresses['telemetry.vendor.example'], unknown),
    connection(6, 88, 'content.powerapps.com', addresses['content.powerapps.com'], exception),
    // Neither ssl record nor DNS answer: the PowerBI service-tag prefix decides.
    connection(7, 102, null, serviceTagAddress, ok),
    connection(8, 131, 'api.powerbi.com', addresses['api.powerbi.com'], ok),
    connection(9, 160, 'api.powerbi.com', addresses['api.powerbi.com'], ok),
    connection(10, 190, 'api.powerbi.com', addresses['api.powerbi.com'], ok),
    connection(11, 222, 'api.powerbi.com', addresses['api.powerbi.com'], ok),
  ].sort((a, b) => a.time - b.time);

  const conn = new TextFile();
  for (const line of zeekHeader('conn', zeekConnFields, zeekConnTypes)) conn.add(line);
  for (const c of connections) {
    const duration = (random.int(200, 90_000) / 1000).toFixed(6);
    const origPkts = Math.ceil(c.up / 1200) + 3;
    const respPkts = Math.ceil(c.down / 1400) + 2;
    conn.add(
      [
        seconds(c.time),
        c.uid,
        c.client,
        c.clientPort,
        c.server,
        443,
        'tcp',
        c.sni === null ? '-' : 'ssl',
        duration,
        c.up,
        c.down,
        'SF',
        'T',
        'F',
        0,
        'ShADadFf',
        origPkts,
        c.up + origPkts * 52,
        respPkts,
        c.down + respPkts * 52,
        '(empty)',
      ].join('\t'),
      c.expect,
    );
  }
  conn.add(`#close\t${close}`);

  const ssl = new TextFile();
  for (const line of zeekHeader(
    'ssl',
    [
      'ts',
      'uid',
      'id.orig_h',
      'id.orig_p',
      'id.resp_h',
      'id.resp_p',
      'version',
      'cipher',
      'curve',
      'server_name',
      'resumed',
      'last_alert',
      'next_protocol',
      'established',
      'ssl_history',
      'cert_chain_fps',
      'client_cert_chain_fps',
      'sni_matches_cert',
    ],
    [
      'time',
      'string',
      'addr',
      'port',
      'addr',
      'port',
      'string',
      'string',
      'string',
      'string',
      'bool',
      'string',
      'string',
      'bool',
      'string',
      'vector[string]',
      'vector[string]',
      'bool',
    ],
  ))
    ssl.add(line);
  const sslRecords = connections
    .filter((c) => c.sni !== null)
    .map((c) => ({
      time: c.time + 40,
      uid: c.uid,
      client: c.client,
      clientPort: c.clientPort,
      server: c.server,
      sni: c.sni as string,
      expect: null as Expected | null,
    }));
  // A TLS session whose conn record is not in this audit (the sensor's conn.log rotated): it
  // stays a flow of its own.
  sslRecords.push({
    time: demoStart + 200 * 60_000 + 812,
    uid: uid(99),
    client: '10.1.1.33',
    clientPort: 51515,
    server: addresses['visuals.azureedge.net'],
    sni: 'visuals.azureedge.net',
    expect: exception,
  });
  sslRecords.sort((a, b) => a.time - b.time);
  for (const r of sslRecords) {
    const fields = [
      seconds(r.time),
      r.uid,
      r.client,
      r.clientPort,
      r.server,
      443,
      'TLSv13',
      'TLS_AES_256_GCM_SHA384',
      'x25519',
      r.sni,
      'F',
      '-',
      'h2',
      'T',
      'CsiI',
      '(empty)',
      '(empty)',
      '-',
    ];
    if (r.expect) ssl.add(fields.join('\t'), r.expect);
    else ssl.add(fields.join('\t'));
  }
  ssl.add(`#close\t${close}`);

  const dns = new TextFile();
  for (const line of zeekHeader(
    'dns',
    [
      'ts',
      'uid',
      'id.orig_h',
      'id.orig_p',
      'id.resp_h',
      'id.resp_p',
      'proto',
      'trans_id',
      'rtt',
      'query',
      'qclass',
      'qclass_name',
      'qtype',
      'qtype_name',
      'rcode',
      'rcode_name',
      'AA',
      'TC',
      'RD',
      'RA',
      'Z',
      'answers',
      'TTLs',
      'rejected',
    ],
    [
      'time',
      'string',
      'addr',
      'port',
      'addr',
      'port',
      'enum',
      'count',
      'interval',
      'string',
      'count',
      'string',
      'count',
      'string',
      'count',
      'string',
      'bool',
      'bool',
      'bool',
      'bool',
      'count',
      'vector[string]',
      'vector[interval]',
      'bool',
    ],
  ))
    dns.add(line);
  const lookups: [number, DemoHost | typeof north, Expected][] = [
    [1, 'api.powerbi.com', unverified],
    [16, north, unverified],
    [40, 'westeurope.pbidedicated.windows.net', unverified],
    [62, 'telemetry.vendor.example', unknown],
  ];
  lookups.forEach(([minute, name, expect], i) => {
    const time = demoStart + minute * 60_000 + random.int(0, 59_999);
    dns.add(
      [
        seconds(time),
        uid(200 + i),
        `10.1.1.${random.int(10, 40)}`,
        random.int(49152, 65000),
        resolver,
        53,
        'udp',
        random.int(1, 65535),
        '0.001234',
        name,
        1,
        'C_INTERNET',
        1,
        'A',
        0,
        'NOERROR',
        'F',
        'F',
        'T',
        'T',
        0,
        addresses[name],
        '300.000000',
        'F',
      ].join('\t'),
      expect,
    );
  });
  dns.add(`#close\t${close}`);

  const describe = (log: string) => `Zeek ${log} (TSV with #fields header)`;
  return [
    {
      path: 'zeek/conn.log',
      content: conn.toBuffer(),
      format: 'zeek',
      description: `${describe('conn.log')}: gets server names from ssl.log by uid`,
      expected: conn.expected,
    },
    {
      path: 'zeek/dns.log',
      content: dns.toBuffer(),
      format: 'zeek',
      description: `${describe('dns.log')}: its answers name conn records without an ssl record`,
      expected: dns.expected,
    },
    {
      path: 'zeek/ssl.log',
      content: ssl.toBuffer(),
      format: 'zeek',
      description: `${describe('ssl.log')}: joined to conn.log; one session without a conn record stays a flow`,
      expected: ssl.expected,
    },
  ];
}
