// Tunnelled traffic: VXLAN, GENEVE, GRE and ERSPAN II / III captures built byte by byte. The inner
// connections are the flows (with the outer pair as evidence), and tshark agrees on what is inside.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  type CapturedPacket,
  clientHello,
  erspanII,
  erspanIII,
  ethernet,
  geneve,
  gre,
  ipv4,
  ipv6,
  pcapFile,
  TcpConnection,
  udp,
  vxlan,
} from '../../../test/fixtures/pcap/capture-writer.js';
import { readAll } from '../../../test/fixtures/pcap/read-all.js';

const T0 = 1_700_000_000_000;
const dir = mkdtempSync(join(tmpdir(), 'pathwarden-tunnel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One inner TLS connection: handshake, ClientHello, a reply, teardown (IP packets). */
function innerConnection(
  client: string,
  server: string,
  sni: string,
): { packets: Buffer[]; fromClient: boolean[] } {
  const connection = new TcpConnection(client, 50_000, server, 443);
  const [syn, synAck, ack] = connection.handshake() as [Buffer, Buffer, Buffer];
  const hello = connection.send(true, clientHello(sni));
  const reply = connection.send(false, Buffer.alloc(300, 1));
  const [fin1, fin2, last] = connection.close() as [Buffer, Buffer, Buffer];
  return {
    packets: [syn, synAck, ack, hello, reply, fin1, fin2, last],
    fromClient: [true, false, true, true, false, true, false, true],
  };
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ethernetOf = (ip: Buffer) => ethernet((ip[0] as number) >> 4 === 6 ? ETH_IPV6 : ETH_IPV4, ip);

/** Each encapsulation: how an inner IP packet is wrapped (outer frame, direction-aware). */
const encapsulations: Record<string, (inner: Buffer, up: boolean) => Buffer> = {
  vxlan: (inner, up) =>
    ethernetOf(
      ipv4(
        up ? '192.0.2.1' : '192.0.2.2',
        up ? '192.0.2.2' : '192.0.2.1',
        17,
        udp(40_001, 4789, vxlan(5001, ethernetOf(inner))),
      ),
    ),
  geneve: (inner, up) =>
    ethernetOf(
      ipv4(
        up ? '192.0.2.3' : '192.0.2.4',
        up ? '192.0.2.4' : '192.0.2.3',
        17,
        udp(40_002, 6081, geneve(77, 0x6558, ethernetOf(inner), 2)),
      ),
    ),
  'geneve-ip': (inner, up) =>
    ethernetOf(
      ipv6(
        up ? '2001:db8::3' : '2001:db8::4',
        up ? '2001:db8::4' : '2001:db8::3',
        17,
        udp(40_003, 6081, geneve(78, ETH_IPV4, inner)),
      ),
    ),
  gre: (inner, up) =>
    ethernetOf(
      ipv4(
        up ? '198.51.100.1' : '198.51.100.2',
        up ? '198.51.100.2' : '198.51.100.1',
        47,
        gre(ETH_IPV4, inner),
      ),
    ),
  'gre-teb-key': (inner, up) =>
    ethernetOf(
      ipv4(
        up ? '198.51.100.3' : '198.51.100.4',
        up ? '198.51.100.4' : '198.51.100.3',
        47,
        gre(0x6558, ethernetOf(inner), { key: 42, checksum: true }),
      ),
    ),
  'erspan-ii': (inner) =>
    ethernetOf(
      ipv4('203.0.113.1', '203.0.113.9', 47, gre(0x88be, erspanII(100, ethernetOf(inner)), { sequence: 1 })),
    ),
  'erspan-iii': (inner) =>
    ethernetOf(
      ipv4(
        '203.0.113.2',
        '203.0.113.9',
        47,
        gre(0x22eb, erspanIII(200, ethernetOf(inner), true), { sequence: 1 }),
      ),
    ),
};

const expected: Record<string, { client: string; server: string; sni: string; evidence: string }> = {
  vxlan: {
    client: '10.1.0.1',
    server: '13.73.248.1',
    sni: 'app.powerbi.com',
    evidence: 'vxlan 192.0.2.1>192.0.2.2 vni 5001',
  },
  geneve: {
    client: '10.1.0.2',
    server: '13.73.248.2',
    sni: 'api.powerbi.com',
    evidence: 'geneve 192.0.2.3>192.0.2.4 vni 77',
  },
  'geneve-ip': {
    client: '10.1.0.3',
    server: '13.73.248.3',
    sni: 'wabi-west-europe-redirect.analysis.windows.net',
    evidence: 'geneve 2001:db8::3>2001:db8::4 vni 78',
  },
  gre: {
    client: '10.1.0.4',
    server: '13.73.248.4',
    sni: 'content.powerapps.com',
    evidence: 'gre 198.51.100.1>198.51.100.2',
  },
  'gre-teb-key': {
    client: '10.1.0.5',
    server: '13.73.248.5',
    sni: 'dc.services.visualstudio.com',
    evidence: 'gre 198.51.100.3>198.51.100.4 key 42',
  },
  'erspan-ii': {
    client: '10.1.0.6',
    server: '13.73.248.6',
    sni: 'login.microsoftonline.com',
    evidence: 'erspan 203.0.113.1>203.0.113.9 session 100',
  },
  'erspan-iii': {
    client: '10.1.0.7',
    server: '13.73.248.7',
    sni: 'visuals.azureedge.net',
    evidence: 'erspan 203.0.113.2>203.0.113.9 session 200',
  },
};

function capture(): Buffer {
  const packets: CapturedPacket[] = [];
  for (const [name, wrap] of Object.entries(encapsulations)) {
    const want = expected[name];
    if (!want) throw new Error(name);
    const inner = innerConnection(want.client, want.server, want.sni);
    inner.packets.forEach((packet, index) => {
      packets.push({ data: wrap(packet, inner.fromClient[index] as boolean), timeMs: T0 + packets.length });
    });
  }
  // Port 4789 without the VXLAN I flag: an ordinary UDP conversation.
  packets.push({
    data: ethernetOf(ipv4('10.9.9.9', '10.9.9.10', 17, udp(1234, 4789, Buffer.alloc(20)))),
    timeMs: T0 + 1000,
  });
  return pcapFile({ linkType: 1 }, packets);
}

describe('tunnels (issue 10, item 10)', () => {
  const bytes = capture();

  test('before: one outer UDP / GRE flow each; now the inner TLS connections, the tunnel as evidence', async () => {
    const { records, problems, summary } = await readAll(bytes);
    expect(problems).toEqual([]);
    const tunnelled = records.filter((record) => record.actualPathEvidence !== null);
    expect(
      tunnelled.map((record) => ({
        client: record.client,
        server: record.destination,
        sni: record.sni,
        evidence: record.actualPathEvidence,
      })),
    ).toEqual(Object.values(expected));
    for (const record of tunnelled) {
      expect(record).toMatchObject({ port: 443, protocol: 'tls', bytesDown: 300 });
      expect(record.bytesUp).toBeGreaterThan(40);
    }
    const plain = records.filter((record) => record.actualPathEvidence === null);
    expect(plain.map((record) => [record.protocol, record.destination, record.port])).toEqual([
      ['udp', '10.9.9.10', 4789],
    ]);
    expect(summary.counters.tunnelled).toBe(Object.keys(encapsulations).length * 8);
  });

  test('a cut inner header is a problem, not a crash; GRE version 1 (PPTP) is not decapsulated', async () => {
    const cut = vxlan(1, Buffer.alloc(6));
    const pptp = Buffer.from([0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0]);
    const { records, problems } = await readAll(
      pcapFile({ linkType: 1 }, [
        { data: ethernetOf(ipv4('192.0.2.1', '192.0.2.2', 17, udp(1, 4789, cut))), timeMs: T0 },
        { data: ethernetOf(ipv4('192.0.2.1', '192.0.2.2', 47, pptp)), timeMs: T0 + 1 },
      ]),
    );
    expect(records).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^1: .*Ethernet header/);
  });

  test('tshark sees the same inner connections and server names', () => {
    const file = join(dir, 'tunnels.pcap');
    writeFileSync(file, bytes);
    let output: string;
    try {
      output = execFileSync(
        'tshark',
        [
          '-r',
          file,
          '-Y',
          'tls.handshake.type == 1',
          '-T',
          'fields',
          '-E',
          'occurrence=l',
          '-e',
          'ip.src',
          '-e',
          'tls.handshake.extensions_server_name',
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
    } catch (error) {
      throw new Error(
        `tshark is required for this test (Debian package "tshark"): ${(error as Error).message}`,
      );
    }
    const seen = output
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    expect(seen).toEqual(Object.values(expected).map((want) => [want.client, want.sni]));
  });
});
