// Cross-checks the reader against Wireshark's dissectors on every real capture fixture: SNI,
// HTTP Host, DNS questions and answers, and per-connection payload bytes each way, joined by
// Community ID (which tshark computes too). tshark is required: without it this test fails
// (src/testing/peers.ts).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readAll } from '../../../test/fixtures/pcap/read-all.js';
import { needPeers } from '../../testing/peers.js';

const ready = needPeers('tshark');
const FIXTURES = 'test/fixtures/pcap';
const captures = readdirSync(FIXTURES).filter((name) => /\.pcap(ng)?$/.test(name));

const FIELDS = [
  'frame.number',
  'communityid',
  'ip.src',
  'ipv6.src',
  'tcp.srcport',
  'udp.srcport',
  'tcp.len',
  'udp.length',
  'tcp.flags.syn',
  'tcp.flags.ack',
  'tls.handshake.extensions_server_name',
  'http.host',
  'dns.flags.response',
  'dns.qry.name',
  'dns.a',
  'dns.aaaa',
] as const;
type Field = (typeof FIELDS)[number];

function tshark(file: string): Array<Record<Field, string>> {
  let output: string;
  try {
    output = execFileSync(
      'tshark',
      [
        '-r',
        file,
        '--enable-protocol',
        'communityid',
        '-o',
        'tcp.desegment_tcp_streams:TRUE',
        '-T',
        'fields',
        '-E',
        'separator=/t',
        '-E',
        'occurrence=a',
        '-E',
        'aggregator=,',
        ...FIELDS.flatMap((field) => ['-e', field]),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
  } catch (error) {
    throw new Error(
      `tshark is required for this test (Debian package "tshark"): ${(error as Error).message}`,
    );
  }
  return output
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const values = line.split('\t');
      return Object.fromEntries(FIELDS.map((field, index) => [field, values[index] ?? ''])) as Record<
        Field,
        string
      >;
    });
}

/** tshark prints booleans as 1/0 (4.0) or True/False (later versions). */
const isSet = (value: string) => value === '1' || value === 'True';

interface Conversation {
  firstFrame: number;
  client: string;
  clientPort: string;
  up: number;
  down: number;
  sni: string | null;
  httpHost: string | null;
}

test('the fixtures folder holds the real captures', () => {
  expect(captures.sort()).toEqual([
    'any-sll-nanos.pcap',
    'any-sll2.pcap',
    'lo-ethernet.pcap',
    'lo-ethernet.pcapng',
    'lo-rawip.pcap',
  ]);
});

describe.skipIf(!ready).each(captures)('%s agrees with tshark', (name) => {
  test('SNI, Host, DNS and bytes per connection', async () => {
    const file = join(FIXTURES, name);
    const frames = tshark(file);
    expect(frames.length).toBeGreaterThan(0);
    const conversations = new Map<string, Conversation>();
    const queries: Array<{ frame: number; name: string }> = [];
    const answers = new Map<string, string>();
    for (const frame of frames) {
      if (frame['dns.qry.name'] !== '') {
        if (isSet(frame['dns.flags.response'])) {
          for (const address of [...frame['dns.a'].split(','), ...frame['dns.aaaa'].split(',')]) {
            if (address !== '') answers.set(address, frame['dns.qry.name']);
          }
        } else {
          queries.push({ frame: Number(frame['frame.number']), name: frame['dns.qry.name'] });
        }
        continue;
      }
      const source = frame['ip.src'] || frame['ipv6.src'];
      const port = frame['tcp.srcport'] || frame['udp.srcport'];
      const tcp = frame['tcp.srcport'] !== '';
      const length = tcp ? Number(frame['tcp.len']) : Number(frame['udp.length']) - 8;
      let conversation = conversations.get(frame.communityid);
      if (!conversation) {
        // Client: the SYN's sender, or the receiver of a SYN-ACK, or the first sender.
        const synAck = isSet(frame['tcp.flags.syn']) && isSet(frame['tcp.flags.ack']);
        expect(synAck).toBe(false); // every fixture connection starts with its SYN
        conversation = {
          firstFrame: Number(frame['frame.number']),
          client: source,
          clientPort: port,
          up: 0,
          down: 0,
          sni: null,
          httpHost: null,
        };
        conversations.set(frame.communityid, conversation);
      }
      if (source === conversation.client && port === conversation.clientPort) conversation.up += length;
      else conversation.down += length;
      if (frame['tls.handshake.extensions_server_name'] !== '')
        conversation.sni = frame['tls.handshake.extensions_server_name'];
      if (frame['http.host'] !== '') conversation.httpHost ??= frame['http.host'];
    }

    const { records, problems, dns } = await readAll(file);
    expect(problems).toEqual([]);
    const dnsRecords = records.filter((record) => record.protocol === 'dns');
    expect(dnsRecords.map((record) => ({ frame: record.origin.line, name: record.host }))).toEqual(queries);
    for (const [address, name] of answers) expect(dns.nameOf(address)).toBe(name);
    expect(dns.size).toBe(answers.size);

    const flows = records.filter((record) => record.protocol !== 'dns');
    expect(flows.length).toBe(conversations.size);
    for (const record of flows) {
      const conversation = conversations.get(record.connectionId ?? '');
      expect(conversation, `tshark has no conversation ${record.connectionId}`).toBeDefined();
      if (!conversation) continue;
      expect({
        line: record.origin.line,
        client: record.client,
        up: record.bytesUp,
        down: record.bytesDown,
        sni: record.sni,
        httpHost: record.httpHost,
      }).toEqual({
        line: conversation.firstFrame,
        client: conversation.client,
        up: conversation.up,
        down: conversation.down,
        sni: conversation.sni,
        httpHost: conversation.httpHost,
      });
    }
    // The fixtures were made to contain these; tshark must see them too (guards an empty run).
    expect([...conversations.values()].map((conversation) => conversation.sni).filter(Boolean).length).toBe(
      4,
    );
    expect(
      [...conversations.values()].some((conversation) => conversation.httpHost === 'content.powerapps.com'),
    ).toBe(true);
  });
});
