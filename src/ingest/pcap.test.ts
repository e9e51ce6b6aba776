// The pcap ingest format end to end: real loopback captures (exact records), and synthetic
// captures built byte by byte for the cases a loopback capture cannot show.
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import {
  ACK,
  addressBytes,
  type CapturedPacket,
  clientHello,
  dnsMessage,
  dnsName,
  ethernet,
  httpRequest,
  ipv4,
  ipv6,
  linuxSll,
  loopback,
  pcapFile,
  pcapngFile,
  pointer,
  RST,
  SYN,
  TcpConnection,
  tcp,
  udp,
} from '../../test/fixtures/pcap/capture-writer.js';
import { brief, readAll } from '../../test/fixtures/pcap/read-all.js';
import type { FlowRecord } from '../flow/record.js';
import { flowBatches } from './batches.js';
import { DnsAnswers } from './dns-answers.js';
import { pcapFormat } from './pcap.js';

const FIXTURES = 'test/fixtures/pcap';
const T0 = 1_700_000_000_000;

/** Ethernet frames around IP packets, 1 ms apart. */
function frames(packets: Buffer[], start = T0): CapturedPacket[] {
  return packets.map((packet, index) => ({
    data: ethernet((packet[0] as number) >> 4 === 6 ? 0x86dd : 0x0800, packet),
    timeMs: start + index,
  }));
}

function ethernetCapture(packets: Buffer[]): Buffer {
  return pcapFile({ linkType: 1 }, frames(packets));
}

const record = (fields: Record<string, unknown>) => ({
  host: null,
  sni: null,
  httpHost: null,
  ...fields,
});

/** What every real fixture holds (the same loopback session captured five ways). */
const FIXTURE_RECORDS = [
  record({
    line: 1,
    protocol: 'dns',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 53,
    host: 'api.powerbi.com',
    bytesUp: 33,
    bytesDown: 49,
  }),
  record({
    line: 3,
    protocol: 'dns',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 53,
    host: 'api.powerbi.com',
    bytesUp: 33,
    bytesDown: 61,
  }),
  record({
    line: 5,
    protocol: 'dns',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 53,
    host: 'content.powerapps.com',
    bytesUp: 39,
    bytesDown: 90,
  }),
  record({
    line: 7,
    protocol: 'dns',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 53,
    host: 'unknown.example',
    bytesUp: 33,
    bytesDown: 33,
  }),
  record({
    line: 9,
    protocol: 'tls',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 443,
    sni: 'app.powerbi.com',
    bytesUp: 731,
    bytesDown: 1607,
  }),
  record({
    line: 24,
    protocol: 'tls',
    client: '::1',
    destination: '::1',
    port: 443,
    sni: 'api.powerbi.com',
    bytesUp: 739,
    bytesDown: 1615,
  }),
  // The relay's upstream connection: the ClientHello arrived in six segments of at most 100 bytes.
  record({
    line: 42,
    protocol: 'tls',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 443,
    sni: 'wabi-west-europe-d-primary-redirect.analysis.windows.net',
    bytesUp: 752,
    bytesDown: 1650,
  }),
  record({
    line: 39,
    protocol: 'tls',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 8443,
    sni: 'wabi-west-europe-d-primary-redirect.analysis.windows.net',
    bytesUp: 776,
    bytesDown: 1650,
  }),
  record({
    line: 81,
    protocol: 'http',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 80,
    httpHost: 'content.powerapps.com',
    bytesUp: 100,
    bytesDown: 145,
  }),
  record({
    line: 91,
    protocol: 'udp',
    client: '127.0.0.1',
    destination: '127.0.0.10',
    port: 443,
    bytesUp: 1540,
    bytesDown: 1555,
  }),
];

test('the summary is published on a diagnostics channel', async () => {
  const summaries: unknown[] = [];
  const listener = (message: unknown) => summaries.push(message);
  diagnosticsChannel.subscribe('pathwarden:ingest:pcap:summary', listener);
  try {
    await readAll(`${FIXTURES}/lo-ethernet.pcap`, { viaFormat: true });
  } finally {
    diagnosticsChannel.unsubscribe('pathwarden:ingest:pcap:summary', listener);
  }
  expect(summaries).toEqual([
    expect.objectContaining({
      file: `${FIXTURES}/lo-ethernet.pcap`,
      format: 'pcap',
      bytes: 21147,
      records: 10,
    }),
  ]);
});

describe('sniff', () => {
  test.each([
    ['a1b2c3d4', 'little-endian microseconds'],
    ['d4c3b2a1', 'big-endian microseconds'],
    ['4d3cb2a1', 'little-endian nanoseconds'],
    ['a1b23c4d', 'big-endian nanoseconds'],
    ['0a0d0d0a', 'pcapng'],
  ])('%s (%s) is certain', (magic) => {
    expect(pcapFormat.sniff(Buffer.concat([Buffer.from(magic, 'hex'), Buffer.alloc(20)]))).toBe(1);
  });

  test('the real fixtures are recognised, text and short input are not', () => {
    for (const name of ['lo-ethernet.pcap', 'lo-ethernet.pcapng', 'any-sll-nanos.pcap']) {
      expect(pcapFormat.sniff(readFileSync(`${FIXTURES}/${name}`).subarray(0, 64))).toBe(1);
    }
    expect(pcapFormat.sniff(Buffer.from('{"log":{"version":"1.2"}}'))).toBe(0);
    expect(pcapFormat.sniff(Buffer.from([0xa1, 0xb2]))).toBe(0);
    expect(pcapFormat.name).toBe('pcap');
  });
});

describe('real loopback captures', () => {
  test.each([
    ['lo-ethernet.pcap', 'pcap'],
    ['lo-ethernet.pcapng', 'pcapng'],
    ['any-sll-nanos.pcap', 'pcap'],
    ['any-sll2.pcap', 'pcap'],
    ['lo-rawip.pcap', 'pcap'],
  ])('%s gives the session exactly', async (name, format) => {
    const result = await readAll(`${FIXTURES}/${name}`);
    expect(result.problems).toEqual([]);
    expect(result.records.map(brief)).toEqual(FIXTURE_RECORDS);
    expect(result.summary.format).toBe(format);
    expect(result.summary.counters.packets).toBe(96);
    expect(result.summary.records).toBe(10);
    expect(result.dns.nameOf('13.73.248.4')).toBe('api.powerbi.com');
    expect(result.dns.nameOf('2603:1020:201:10::4')).toBe('api.powerbi.com');
    // Reached through a CNAME: attributed to the name the client asked for.
    expect(result.dns.nameOf('192.0.2.80')).toBe('content.powerapps.com');
    expect(result.dns.size).toBe(3);
    for (const flow of result.records) {
      expect(flow.origin).toEqual({ kind: 'pcap', file: `${FIXTURES}/${name}`, line: flow.origin.line });
      expect(flow.connectionId).toMatch(/^1:[A-Za-z0-9+/]{27}=$/);
      expect(flow.start).not.toBeNull();
      expect(flow.end as number).toBeGreaterThanOrEqual(flow.start as number);
    }
  });

  test('timestamps: microseconds (pcap), nanoseconds (pcap), if_tsresol default (pcapng)', async () => {
    const micro = await readAll(`${FIXTURES}/lo-ethernet.pcap`);
    expect(micro.records[0]?.start).toBeCloseTo(1795704800950.735, 3);
    expect(micro.records[0]?.end).toBeCloseTo(1795704800951.617, 3);
    const pcapng = await readAll(`${FIXTURES}/lo-ethernet.pcapng`);
    expect(pcapng.records[0]?.start).toBeCloseTo(1795704800950.7356, 4);
    const nanos = await readAll(`${FIXTURES}/any-sll-nanos.pcap`);
    expect(nanos.records[0]?.start).toBeCloseTo(1795704800950.7356, 4);
  });

  test('counters: editcap kept the original lengths of the raw-IP copy; dumpcap wrote a statistics block', async () => {
    const raw = await readAll(`${FIXTURES}/lo-rawip.pcap`);
    // editcap -C 14 chopped the Ethernet header but left each original length 14 bytes longer:
    // every packet looks cut by the snapshot length, yet nothing is lost.
    expect(raw.summary.counters.snapCut).toBe(96);
    const pcapng = await readAll(`${FIXTURES}/lo-ethernet.pcapng`);
    expect(pcapng.summary.counters.otherBlocks).toBe(1);
  });

  test('the result does not depend on how the stream is chunked', async () => {
    const whole = await readAll(`${FIXTURES}/lo-ethernet.pcapng`);
    const bytes = readFileSync(`${FIXTURES}/lo-ethernet.pcapng`);
    for (const chunkSize of [1, 3, 13, 4096]) {
      const chunked = await readAll(bytes, { chunkSize });
      expect(chunked.problems).toEqual([]);
      expect(chunked.records.map(brief)).toEqual(whole.records.map(brief));
    }
  });

  test('through the IngestFormat interface, one by one and in batches', async () => {
    const result = await readAll(`${FIXTURES}/any-sll2.pcap`, { viaFormat: true });
    expect(result.records.map(brief)).toEqual(FIXTURE_RECORDS);
    const batches: FlowRecord[][] = [];
    const ctx = { file: 'x', dns: new DnsAnswers(), problem: () => {} };
    const input = Readable.from([readFileSync(`${FIXTURES}/any-sll2.pcap`)]);
    for await (const batch of flowBatches(pcapFormat, input, ctx)) batches.push(batch);
    expect(batches.flat().map(brief)).toEqual(FIXTURE_RECORDS);
    expect(pcapFormat.parseBatches).toBeDefined();
  });
});

describe('TCP reassembly of the ClientHello', () => {
  test('split over three segments, delivered out of order, with a retransmit', async () => {
    const connection = new TcpConnection('10.1.0.5', 50000, '13.73.248.4', 443);
    const hello = clientHello('app.powerbi.com', { padding: 300 });
    // 50 + 30 bytes: the server_name extension straddles the second and third segment.
    const handshake = connection.handshake();
    const [first, second, third] = connection.sendSplit(true, hello, [50, 30]) as [Buffer, Buffer, Buffer];
    const response = connection.send(false, Buffer.alloc(1000, 1));
    const capture = ethernetCapture([
      ...handshake,
      third,
      first,
      first,
      second,
      response,
      ...connection.close(),
    ]);
    const { records, problems } = await readAll(capture);
    expect(problems).toEqual([]);
    expect(records.map(brief)).toEqual([
      record({
        line: 1,
        protocol: 'tls',
        client: '10.1.0.5',
        destination: '13.73.248.4',
        port: 443,
        sni: 'app.powerbi.com',
        // Retransmitted payload is counted: it crossed the wire.
        bytesUp: hello.length + 50,
        bytesDown: 1000,
      }),
    ]);
  });

  test('a ClientHello fragmented over two TLS records and two segments', async () => {
    const connection = new TcpConnection('10.1.0.5', 50001, '13.73.248.4', 443);
    const hello = clientHello('api.powerbi.com', { recordSplit: 40 });
    const capture = ethernetCapture([
      ...connection.handshake(),
      ...connection.sendSplit(true, hello, [45]),
      ...connection.close(),
    ]);
    const { records } = await readAll(capture);
    expect(records[0]?.sni).toBe('api.powerbi.com');
  });

  test('a ClientHello without SNI, and a capture whose SYN was not seen', async () => {
    const noSni = new TcpConnection('10.1.0.5', 50002, '13.73.248.4', 443);
    noSni.handshake();
    // Mid-connection: the server speaks first in the capture; client = the ephemeral port.
    const midstream = new TcpConnection('10.1.0.6', 50003, '52.1.2.3', 443);
    midstream.handshake();
    const capture = ethernetCapture([
      noSni.send(true, clientHello(null)),
      midstream.send(false, Buffer.alloc(100, 0x17)),
      midstream.send(true, Buffer.from([0x17, 0x03, 0x03, 0x00, 0x10, ...Buffer.alloc(16)])),
    ]);
    const { records } = await readAll(capture);
    expect(records.map(brief)).toEqual([
      record({
        line: 1,
        protocol: 'tls',
        client: '10.1.0.5',
        destination: '13.73.248.4',
        port: 443,
        bytesUp: clientHello(null).length,
        bytesDown: 0,
      }),
      record({
        line: 2,
        protocol: 'tls',
        client: '10.1.0.6',
        destination: '52.1.2.3',
        port: 443,
        bytesUp: 21,
        bytesDown: 100,
      }),
    ]);
  });

  test('an HTTP request head split over segments; a CONNECT tunnel with the ClientHello after it', async () => {
    const plain = new TcpConnection('10.1.0.7', 50004, '20.0.0.1', 80);
    const request = httpRequest('content.powerapps.com', '/app.js');
    const proxied = new TcpConnection('10.1.0.8', 50005, '10.0.0.1', 3128);
    const connect = Buffer.from('CONNECT app.powerbi.com:443 HTTP/1.1\r\nHost: app.powerbi.com:443\r\n\r\n');
    const capture = ethernetCapture([
      ...plain.handshake(),
      ...plain.sendSplit(true, request, [20, 10]),
      ...proxied.handshake(),
      proxied.send(true, connect),
      proxied.send(false, Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n')),
      proxied.send(true, clientHello('app.powerbi.com')),
      ...plain.close(),
      ...proxied.close(),
    ]);
    const { records } = await readAll(capture);
    expect(records.map(brief)).toEqual([
      record({
        line: 1,
        protocol: 'http',
        client: '10.1.0.7',
        destination: '20.0.0.1',
        port: 80,
        httpHost: 'content.powerapps.com',
        bytesUp: request.length,
        bytesDown: 0,
      }),
      record({
        line: 7,
        protocol: 'tls',
        client: '10.1.0.8',
        destination: '10.0.0.1',
        port: 3128,
        host: 'app.powerbi.com',
        sni: 'app.powerbi.com',
        httpHost: 'app.powerbi.com:443',
        bytesUp: connect.length + clientHello('app.powerbi.com').length,
        bytesDown: 39,
      }),
    ]);
  });
});

describe('connection life cycle', () => {
  test('RST closes; a new SYN on the same 5-tuple starts a new record; late ACKs are absorbed', async () => {
    const first = new TcpConnection('10.2.0.1', 40000, '13.73.248.4', 443, 100);
    const again = new TcpConnection('10.2.0.1', 40000, '13.73.248.4', 443, 90000);
    const closed = new TcpConnection('10.2.0.2', 40001, '13.73.248.4', 443);
    const capture = ethernetCapture([
      ...first.handshake(),
      first.send(true, Buffer.alloc(10)),
      first.reset(false),
      first.reset(false), // a second RST: absorbed
      ...again.handshake(),
      again.send(true, Buffer.alloc(20)),
      ...closed.handshake(),
      ...closed.close(), // FIN, FIN, then the last ACK after both FINs: no phantom record
    ]);
    const { records } = await readAll(capture);
    expect(records.map((flow) => [flow.origin.line, flow.client, flow.bytesUp])).toEqual([
      [1, '10.2.0.1', 10],
      [11, '10.2.0.2', 0],
      [7, '10.2.0.1', 20],
    ]);
  });

  test('a SYN that was answered with RST is one record, even when the SYN is retransmitted', async () => {
    const capture = ethernetCapture([
      ipv4('10.2.0.3', '10.9.9.9', 6, tcp(40002, 443, 7, 0, SYN)),
      ipv4('10.9.9.9', '10.2.0.3', 6, tcp(443, 40002, 0, 8, RST | ACK)),
      ipv4('10.2.0.3', '10.9.9.9', 6, tcp(40002, 443, 7, 0, SYN)),
      ipv4('10.9.9.9', '10.2.0.3', 6, tcp(443, 40002, 0, 8, RST | ACK)),
    ]);
    const { records } = await readAll(capture);
    expect(records.map(brief)).toEqual([
      record({
        line: 1,
        protocol: 'tcp',
        client: '10.2.0.3',
        destination: '10.9.9.9',
        port: 443,
        bytesUp: 0,
        bytesDown: 0,
      }),
    ]);
  });

  test('the table of open connections is bounded: the idlest are emitted first', async () => {
    const conversation = (n: number) =>
      ipv4(`10.3.0.${n}`, '10.9.0.1', 17, udp(5000 + n, 443, Buffer.alloc(10)));
    // 10.3.0.1 stays busy between the others: it must survive the evictions of 2, 3 and 4.
    const packets = [1, 2, 3, 1, 4, 1, 5, 1, 9].map(conversation);
    const { records, summary } = await readAll(ethernetCapture(packets), { maxConnections: 3 });
    // Evicted as each became the idlest; the rest at the end, idlest first.
    expect(records.map((flow) => flow.client)).toEqual([
      '10.3.0.2',
      '10.3.0.3',
      '10.3.0.4',
      '10.3.0.5',
      '10.3.0.1',
      '10.3.0.9',
    ]);
    expect(summary.counters.evicted).toBe(3);
    const busy = records.find((flow) => flow.client === '10.3.0.1');
    expect(busy?.bytesUp).toBe(40);
  });

  test('UDP: one record per conversation; port 443 (QUIC) stays udp', async () => {
    const capture = ethernetCapture([
      ipv4('10.4.0.1', '13.107.1.1', 17, udp(50500, 443, Buffer.alloc(1200))),
      ipv4('13.107.1.1', '10.4.0.1', 17, udp(443, 50500, Buffer.alloc(800))),
      ipv4('13.107.1.1', '10.4.0.2', 17, udp(443, 50501, Buffer.alloc(50))), // server first
    ]);
    const { records } = await readAll(capture);
    expect(records.map(brief)).toEqual([
      record({
        line: 1,
        protocol: 'udp',
        client: '10.4.0.1',
        destination: '13.107.1.1',
        port: 443,
        bytesUp: 1200,
        bytesDown: 800,
      }),
      record({
        line: 3,
        protocol: 'udp',
        client: '10.4.0.2',
        destination: '13.107.1.1',
        port: 443,
        bytesUp: 0,
        bytesDown: 50,
      }),
    ]);
  });
});

describe('link layers and IP', () => {
  test('IPv6 with extension headers (hop-by-hop, destination options, atomic fragment)', async () => {
    const client = '2001:db8::5';
    const server = '2603:1020:201:10::4';
    const hello = clientHello('api.powerbi.com');
    const extensions = [{ type: 0 }, { type: 60 }, { type: 44 }];
    const capture = ethernetCapture([
      ipv6(client, server, 6, tcp(50010, 443, 1, 0, SYN), extensions),
      ipv6(server, client, 6, tcp(443, 50010, 9, 2, SYN | ACK), extensions),
      ipv6(client, server, 6, tcp(50010, 443, 2, 10, ACK, hello), extensions),
    ]);
    const { records, problems } = await readAll(capture);
    expect(problems).toEqual([]);
    expect(records.map(brief)).toEqual([
      record({
        line: 1,
        protocol: 'tls',
        client,
        destination: server,
        port: 443,
        sni: 'api.powerbi.com',
        bytesUp: hello.length,
        bytesDown: 0,
      }),
    ]);
  });

  test('802.1Q VLAN and 802.1ad QinQ tags; IPv4 options', async () => {
    const tagged = ipv4('10.5.0.1', '10.9.0.1', 17, udp(1000, 443, Buffer.alloc(7)));
    const doubleTagged = ipv4('10.5.0.2', '10.9.0.1', 17, udp(1001, 443, Buffer.alloc(8)), {
      options: Buffer.from([0x94, 0x04, 0x00, 0x00]), // router alert
    });
    const capture = pcapFile({ linkType: 1 }, [
      { data: ethernet(0x0800, tagged, [100]), timeMs: T0 },
      { data: ethernet(0x0800, doubleTagged, [200, 100]), timeMs: T0 + 1 },
    ]);
    const { records } = await readAll(capture);
    expect(records.map((flow) => [flow.client, flow.bytesUp])).toEqual([
      ['10.5.0.1', 7],
      ['10.5.0.2', 8],
    ]);
  });

  test('null / loopback headers in either byte order, IPv6 families of BSD and Darwin', async () => {
    const v4 = ipv4('10.6.0.1', '10.9.0.1', 17, udp(2000, 443, Buffer.alloc(5)));
    const v6 = ipv6('2001:db8::6', '2001:db8::9', 17, udp(2001, 443, Buffer.alloc(6)));
    const nullLe = pcapFile({ linkType: 0 }, [
      { data: loopback(2, v4, true), timeMs: T0 },
      { data: loopback(30, v6, true), timeMs: T0 + 1 },
    ]);
    const nullBe = pcapFile({ linkType: 0 }, [{ data: loopback(24, v6, false), timeMs: T0 }]);
    const loop = pcapFile({ linkType: 108 }, [
      { data: loopback(2, v4, false), timeMs: T0 },
      { data: loopback(7, v4, false), timeMs: T0 + 1 }, // an unknown family
    ]);
    expect((await readAll(nullLe)).records.map((flow) => flow.client)).toEqual(['10.6.0.1', '2001:db8::6']);
    expect((await readAll(nullBe)).records.map((flow) => flow.client)).toEqual(['2001:db8::6']);
    const loopResult = await readAll(loop);
    expect(loopResult.records.map((flow) => flow.client)).toEqual(['10.6.0.1']);
    expect(loopResult.problems).toEqual([
      '2: loopback address family 7 is not decoded (it may carry IP traffic): such packets are skipped; this is the first',
    ]);
  });

  test('ARP and LLDP are skipped silently; MPLS is reported once; an unknown link type once', async () => {
    const udpPacket = ipv4('10.7.0.1', '10.9.0.1', 17, udp(3000, 443, Buffer.alloc(4)));
    const capture = pcapFile({ linkType: 1 }, [
      { data: ethernet(0x0806, Buffer.alloc(28)), timeMs: T0 },
      { data: ethernet(0x88cc, Buffer.alloc(30)), timeMs: T0 + 1 },
      { data: ethernet(0x8847, Buffer.alloc(40)), timeMs: T0 + 2 },
      { data: ethernet(0x8847, Buffer.alloc(40)), timeMs: T0 + 3 },
      { data: ethernet(0x0800, udpPacket), timeMs: T0 + 4 },
    ]);
    const result = await readAll(capture);
    expect(result.records.length).toBe(1);
    expect(result.summary.counters).toMatchObject({ notIp: 2, unsupportedEthertype: 2 });
    expect(result.problems).toEqual([
      '3: ethertype 0x8847 is not decoded (it may carry IP traffic): such packets are skipped; this is the first',
    ]);
    const wifi = await readAll(
      pcapFile({ linkType: 105 }, [
        { data: Buffer.alloc(60), timeMs: T0 },
        { data: Buffer.alloc(60), timeMs: T0 },
      ]),
    );
    expect(wifi.records).toEqual([]);
    expect(wifi.summary.counters.unsupportedLinkType).toBe(2);
    expect(wifi.problems).toEqual([
      '1: link type 105 is not supported (Ethernet, Linux cooked SLL / SLL2, raw IP and null / loopback are): its packets are skipped; this is the first',
    ]);
  });

  test('IPv4 fragments: the first counts the whole UDP datagram, later ones are noted once', async () => {
    const payload = Buffer.alloc(3000, 7);
    const datagram = udp(4000, 443, payload);
    const capture = ethernetCapture([
      ipv4('10.8.0.1', '10.9.0.1', 17, datagram.subarray(0, 1480), { id: 77, moreFragments: true }),
      ipv4('10.8.0.1', '10.9.0.1', 17, datagram.subarray(1480, 2960), {
        id: 77,
        moreFragments: true,
        fragmentOffset: 185,
      }),
      ipv4('10.8.0.1', '10.9.0.1', 17, datagram.subarray(2960), { id: 77, fragmentOffset: 370 }),
    ]);
    const result = await readAll(capture);
    expect(result.records.map((flow) => flow.bytesUp)).toEqual([3000]);
    expect(result.summary.counters.laterFragment).toBe(2);
    expect(result.problems).toEqual([
      '2: IP fragments after the first are not reassembled and their bytes are not counted (UDP datagrams are counted whole from their first fragment); this is the first such packet',
    ]);
  });

  test('Linux cooked capture carrying a VLAN tag; netlink frames are skipped', async () => {
    const packet = ipv4('10.9.1.1', '10.9.0.1', 17, udp(3001, 443, Buffer.alloc(3)));
    const tag = Buffer.from([0x00, 0x64, 0x08, 0x00]);
    const capture = pcapFile({ linkType: 113 }, [
      { data: linuxSll(0x8100, Buffer.concat([tag, packet])), timeMs: T0 },
      { data: linuxSll(0x0000, Buffer.alloc(20), 824), timeMs: T0 + 1 },
    ]);
    const result = await readAll(capture);
    expect(result.records.map((flow) => flow.client)).toEqual(['10.9.1.1']);
    expect(result.summary.counters.notIp).toBe(1);
    expect(result.problems).toEqual([]);
  });
});

describe('DNS', () => {
  // Question at offset 12 (17 bytes name + 4), answers from offset 33.
  const question = dnsName('api.powerbi.com');
  const cnameData = Buffer.concat([Buffer.from([4]), Buffer.from('edge'), pointer(16)]); // edge.powerbi.com
  const compressed = dnsMessage({
    id: 0x1234,
    response: true,
    question,
    answers: [
      { name: pointer(12), type: 5, data: cnameData },
      { name: pointer(45), type: 1, data: addressBytes('13.73.248.4') },
      { name: pointer(45), type: 28, data: addressBytes('2603:1020:201:10::4') },
    ],
  });

  test('compression pointers and a CNAME chain: answers go to the name asked for', async () => {
    const query = dnsMessage({ id: 0x1234, response: false, question });
    const capture = ethernetCapture([
      ipv4('10.10.0.1', '10.10.0.53', 17, udp(33333, 53, query)),
      ipv4('10.10.0.53', '10.10.0.1', 17, udp(53, 33333, compressed)),
    ]);
    const { records, dns, problems } = await readAll(capture);
    expect(problems).toEqual([]);
    expect(records.map(brief)).toEqual([
      record({
        line: 1,
        protocol: 'dns',
        client: '10.10.0.1',
        destination: '10.10.0.53',
        port: 53,
        host: 'api.powerbi.com',
        bytesUp: query.length,
        bytesDown: compressed.length,
      }),
    ]);
    expect(dns.nameOf('13.73.248.4')).toBe('api.powerbi.com');
    expect(dns.nameOf('2603:1020:201:10::4')).toBe('api.powerbi.com');
  });

  test('a compression pointer loop is reported, not followed forever', async () => {
    const looping = dnsMessage({
      id: 9,
      response: true,
      question,
      answers: [{ name: pointer(33), type: 1, data: addressBytes('10.0.0.1') }], // points at itself
    });
    const started = Date.now();
    const { records, dns, problems } = await readAll(
      ethernetCapture([ipv4('10.10.0.53', '10.10.0.1', 17, udp(53, 33334, looping))]),
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(problems).toEqual(['1: malformed DNS response: answer: compression pointer loop']);
    expect(records.map((flow) => [flow.protocol, flow.host, flow.bytesUp])).toEqual([
      ['dns', 'api.powerbi.com', null],
    ]);
    expect(dns.size).toBe(0);
  });

  test('an unanswered query becomes a record at the end; a truncated response still teaches its answers', async () => {
    const query = dnsMessage({ id: 1, response: false, question: dnsName('dc.services.visualstudio.com') });
    const response = dnsMessage({
      id: 2,
      response: true,
      question: dnsName('api.powerbi.com'),
      answers: [
        { name: pointer(12), type: 1, data: addressBytes('13.73.248.4') },
        { name: pointer(12), type: 1, data: addressBytes('13.73.248.5') },
      ],
    });
    const frame = ethernet(0x0800, ipv4('10.10.0.53', '10.10.0.1', 17, udp(53, 40000, response)));
    const capture = pcapFile({ linkType: 1 }, [
      { data: ethernet(0x0800, ipv4('10.10.0.1', '8.8.8.8', 17, udp(40001, 53, query))), timeMs: T0 },
      // Captured up to the end of the first answer (snapshot length): the second is lost.
      { data: frame.subarray(0, frame.length - 16), originalLength: frame.length, timeMs: T0 + 1 },
    ]);
    const { records, dns, problems } = await readAll(capture);
    expect(problems).toEqual([]);
    expect(
      records.map((flow) => [
        flow.origin.line,
        flow.client,
        flow.destination,
        flow.host,
        flow.bytesUp,
        flow.bytesDown,
      ]),
    ).toEqual([
      [2, '10.10.0.1', '10.10.0.53', 'api.powerbi.com', null, response.length],
      [1, '10.10.0.1', '8.8.8.8', 'dc.services.visualstudio.com', query.length, 0],
    ]);
    expect(dns.nameOf('13.73.248.4')).toBe('api.powerbi.com');
    expect(dns.nameOf('13.73.248.5')).toBeUndefined();
  });
});

describe('damaged captures', () => {
  const connection = new TcpConnection('10.11.0.1', 41000, '13.73.248.4', 443);
  const sessionPackets = [
    ...connection.handshake(),
    connection.send(true, clientHello('app.powerbi.com')),
    connection.send(false, Buffer.alloc(500)),
  ];
  const session = ethernetCapture(sessionPackets);

  test('truncated packets: headers cut off are reported; a payload cut by the snapshot length is not', async () => {
    const data = ethernet(
      0x0800,
      ipv4('10.11.0.2', '10.9.0.1', 6, tcp(41001, 443, 1, 0, ACK | 0x08, Buffer.alloc(1000))),
    );
    const capture = pcapFile({ linkType: 1, snapLength: 96 }, [
      { data: data.subarray(0, 30), originalLength: data.length, timeMs: T0 }, // IPv4 header cut
      { data: data.subarray(0, 96), originalLength: data.length, timeMs: T0 + 1 }, // payload cut
      { data: data.subarray(0, 40), timeMs: T0 + 2 }, // a short frame, not cut by the capture
    ]);
    const result = await readAll(capture);
    expect(result.problems).toEqual([
      '1: packet captured only in part (30 of 1054 bytes): its IPv4 header is cut off; skipped',
      '3: malformed packet: IPv4 total length beyond the end of the frame; skipped',
    ]);
    expect(result.records.map((flow) => [flow.origin.line, flow.bytesUp])).toEqual([[2, 1000]]);
    expect(result.summary.counters).toMatchObject({ truncated: 1, malformed: 1, snapCut: 2 });
  });

  test('problems of one kind are listed 20 times, then summed up once', async () => {
    const short = ethernet(0x0800, Buffer.alloc(10));
    const capture = pcapFile(
      { linkType: 1 },
      Array.from({ length: 25 }, (_, index) => ({ data: short, originalLength: 200, timeMs: T0 + index })),
    );
    const result = await readAll(capture);
    expect(result.problems.length).toBe(21);
    expect(result.problems[19]).toBe(
      '20: packet captured only in part (24 of 200 bytes): its IPv4 header is cut off; skipped',
    );
    expect(result.problems[20]).toBe(
      '21: 5 more packet(s) with problems of kind "truncated" were skipped (not listed one by one; the first of them is this packet)',
    );
    expect(result.summary.counters.truncated).toBe(25);
  });

  test('a cut file is reported once and the packets before the cut are kept', async () => {
    const result = await readAll(session.subarray(0, session.length - 100));
    expect(result.problems).toEqual([
      `5: capture ends inside packet 5 (${16 + 14 + 20 + 20 + 500 - 100} of ${16 + 14 + 20 + 20 + 500} bytes of the record at byte ${session.length - (16 + 14 + 20 + 20 + 500)}): the file was cut; the packets before it are kept`,
    ]);
    expect(result.records.map(brief)).toEqual([
      record({
        line: 1,
        protocol: 'tls',
        client: '10.11.0.1',
        destination: '13.73.248.4',
        port: 443,
        sni: 'app.powerbi.com',
        bytesUp: clientHello('app.powerbi.com').length,
        bytesDown: 0,
      }),
    ]);
  });

  test('garbage after a valid header stops reading with one problem', async () => {
    const garbage = Buffer.from('this is not a packet record header, just text that follows'.repeat(3));
    const result = await readAll(Buffer.concat([session, garbage]));
    expect(result.problems).toEqual([
      `6: corrupt packet record header at byte ${session.length} (captured length ${garbage.readUInt32LE(8)} is beyond 262144): the rest of the capture is skipped`,
    ]);
    expect(result.records.length).toBe(1);
    expect(result.records[0]?.sni).toBe('app.powerbi.com');
  });

  test('not a capture, an empty input, a stream that fails midway', async () => {
    expect((await readAll(Buffer.from('GET / HTTP/1.1\r\n'))).problems).toEqual([
      '1: not a pcap or pcapng capture: unknown magic number',
    ]);
    expect((await readAll(Buffer.alloc(0))).problems).toEqual([]);
    expect((await readAll(Buffer.from([0xd4, 0xc3]))).problems).toEqual([
      '1: capture too short: 2 byte(s), not even a magic number',
    ]);
    expect((await readAll(session.subarray(0, 30))).problems).toEqual([
      '1: capture ends inside packet 1 (6 of 16 bytes of the record at byte 24): the file was cut; the packets before it are kept',
    ]);
    const failing = new Readable({
      read() {
        this.push(session.subarray(0, session.length - 10));
        this.destroy(new Error('unexpected end of file'));
      },
    });
    const problems: string[] = [];
    const records = [];
    for await (const flow of pcapFormat.parse(failing, {
      file: 'cut.pcap.gz',
      dns: new DnsAnswers(),
      problem: (line, message) => problems.push(`${line}: ${message}`),
    })) {
      records.push(flow);
    }
    expect(problems).toEqual([
      '5: reading the capture failed (unexpected end of file); the flows read before are kept',
    ]);
    expect(records.map((flow) => flow.sni)).toEqual(['app.powerbi.com']);
  });

  test('random damage never throws or hangs', async () => {
    const bases = [
      readFileSync(`${FIXTURES}/lo-ethernet.pcap`),
      readFileSync(`${FIXTURES}/lo-ethernet.pcapng`),
      readFileSync(`${FIXTURES}/any-sll2.pcap`),
    ];
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let round = 0; round < 150; round++) {
      const base = bases[round % bases.length] as Buffer;
      const damaged = Buffer.from(base);
      const flips = 1 + Math.floor(random() * 20);
      for (let i = 0; i < flips; i++)
        damaged[24 + Math.floor(random() * (damaged.length - 24))] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? damaged.subarray(0, Math.floor(random() * damaged.length)) : damaged;
      const result = await readAll(cut, { chunkSize: 1 + Math.floor(random() * 5000) });
      expect(Array.isArray(result.records)).toBe(true);
    }
  });
});

describe('file format variants', () => {
  const connection = new TcpConnection('10.12.0.1', 42000, '13.73.248.4', 443);
  const packets = frames(
    [...connection.handshake(), connection.send(true, clientHello('app.powerbi.com')), ...connection.close()],
    T0 + 0.125,
  );
  const expected = [
    record({
      line: 1,
      protocol: 'tls',
      client: '10.12.0.1',
      destination: '13.73.248.4',
      port: 443,
      sni: 'app.powerbi.com',
      bytesUp: clientHello('app.powerbi.com').length,
      bytesDown: 0,
    }),
  ];

  test.each([
    ['little-endian microseconds', { bigEndian: false, nanoseconds: false }],
    ['big-endian microseconds', { bigEndian: true, nanoseconds: false }],
    ['little-endian nanoseconds', { bigEndian: false, nanoseconds: true }],
    ['big-endian nanoseconds', { bigEndian: true, nanoseconds: true }],
  ])('classic pcap, %s', async (_name, variant) => {
    const { records, problems } = await readAll(pcapFile({ linkType: 1, ...variant }, packets));
    expect(problems).toEqual([]);
    expect(records.map(brief)).toEqual(expected);
    // 0.125 ms is exact in a double; read as the wrong resolution it would be 125 ms or 0.000125 ms.
    expect(records[0]?.start).toBeCloseTo(T0 + 0.125, 3);
    expect(records[0]?.end).toBeCloseTo(T0 + 5.125, 3);
  });

  test('pcapng: two interfaces with different link types and resolutions, unknown blocks, a second big-endian section', async () => {
    const udpRaw = ipv4('10.12.0.2', '10.9.0.1', 17, udp(5555, 443, Buffer.alloc(11)));
    const udpNull = ipv4('10.12.0.3', '10.9.0.1', 17, udp(5556, 443, Buffer.alloc(12)));
    const udpSimple = ipv4('10.12.0.4', '10.9.0.1', 17, udp(5557, 443, Buffer.alloc(13)));
    const capture = pcapngFile([
      { kind: 'section' },
      { kind: 'interface', spec: { linkType: 1 } },
      { kind: 'raw', type: 0x00000bad, body: Buffer.from('custom block, must be skipped') },
      { kind: 'interface', spec: { linkType: 101, tsresol: 9 } },
      ...packets.slice(0, 3).map((packet) => ({ kind: 'packet' as const, packet })),
      { kind: 'packet', packet: { data: udpRaw, timeMs: T0 + 10.000001, interfaceId: 1 } },
      { kind: 'raw', type: 0x12345678, body: Buffer.alloc(12) },
      ...packets.slice(3).map((packet) => ({ kind: 'packet' as const, packet })),
      { kind: 'simple', packet: { data: ethernet(0x0800, udpSimple), timeMs: 0 } },
      { kind: 'section', bigEndian: true },
      { kind: 'interface', spec: { linkType: 0, tsresol: 0x80 | 20 } },
      { kind: 'packet', packet: { data: loopback(2, udpNull, false), timeMs: T0 + 20 } },
    ]);
    const { records, problems, summary } = await readAll(capture);
    expect(problems).toEqual([]);
    expect(records.map(brief)).toEqual([
      ...expected,
      record({
        line: 4,
        protocol: 'udp',
        client: '10.12.0.2',
        destination: '10.9.0.1',
        port: 443,
        bytesUp: 11,
        bytesDown: 0,
      }),
      record({
        line: 9,
        protocol: 'udp',
        client: '10.12.0.4',
        destination: '10.9.0.1',
        port: 443,
        bytesUp: 13,
        bytesDown: 0,
      }),
      record({
        line: 10,
        protocol: 'udp',
        client: '10.12.0.3',
        destination: '10.9.0.1',
        port: 443,
        bytesUp: 12,
        bytesDown: 0,
      }),
    ]);
    expect(records[1]?.start).toBeCloseTo(T0 + 10.000001, 3);
    // A Simple Packet Block has no timestamp.
    expect(records[2]?.start).toBeNull();
    // 2^-20 s resolution, written by rounding: within a microsecond.
    expect(Math.abs((records[3]?.start as number) - (T0 + 20))).toBeLessThan(0.001);
    expect(summary.counters.otherBlocks).toBe(2);
  });

  test('pcapng: a packet on an interface the section does not describe is reported', async () => {
    const capture = pcapngFile([
      { kind: 'section' },
      { kind: 'interface', spec: { linkType: 1 } },
      { kind: 'packet', packet: { ...(packets[0] as CapturedPacket), interfaceId: 3 } },
    ]);
    expect((await readAll(capture)).problems).toEqual([
      '1: packet refers to interface 3, which the section does not describe; packet skipped',
    ]);
  });
});
