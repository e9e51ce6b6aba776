// QUIC in captures: the client's Initial packets are opened and the server name of their
// ClientHello becomes the flow's SNI, as for TLS over TCP (issue 10, item 10). The capture is built
// here byte by byte and cross-checked with tshark, which decrypts Initials too.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  clientHello,
  ethernet,
  ipv4,
  ipv6,
  pcapFile,
  udp,
} from '../../../test/fixtures/pcap/capture-writer.js';
import { cryptoFrame, sealClientInitial } from '../../../test/fixtures/pcap/quic-writer.js';
import { readAll } from '../../../test/fixtures/pcap/read-all.js';

const T0 = 1_700_000_000_000;
const dir = mkdtempSync(join(tmpdir(), 'pathwarden-quic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ClientHello handshake message (the TLS record header taken off), padded to span packets. */
const handshake = (name: string) => clientHello(name, { padding: 1500 }).subarray(5);

const frame = (ip: Buffer) => ethernet((ip[0] as number) >> 4 === 6 ? 0x86dd : 0x0800, ip);

function quicCapture(): Buffer {
  const packets: Buffer[] = [];
  // 1. One connection, ClientHello in two Initials sent in the wrong order (second half first).
  const dcid = Buffer.from('c0ffee0011223344', 'hex');
  const hello = handshake('app.powerbi.com');
  const half = 900;
  const second = sealClientInitial({
    dcid,
    packetNumber: 1,
    frames: cryptoFrame(half, hello.subarray(half)),
    size: 1200,
  });
  const first = sealClientInitial({
    dcid,
    packetNumber: 0,
    frames: cryptoFrame(0, hello.subarray(0, half)),
    size: 1200,
  });
  packets.push(frame(ipv4('10.1.0.9', '13.73.248.10', 17, udp(51_000, 443, second))));
  packets.push(frame(ipv4('10.1.0.9', '13.73.248.10', 17, udp(51_000, 443, first))));
  packets.push(frame(ipv4('13.73.248.10', '10.1.0.9', 17, udp(443, 51_000, Buffer.alloc(1200, 0xcd)))));
  // 2. IPv6, the whole ClientHello in one Initial.
  const small = clientHello('api.powerbi.com').subarray(5);
  const one = sealClientInitial({
    dcid: Buffer.from('0102030405060708', 'hex'),
    packetNumber: 0,
    frames: cryptoFrame(0, small),
    size: 1200,
  });
  packets.push(frame(ipv6('2001:db8::9', '2001:db8::443', 17, udp(51_001, 443, one))));
  // 3. Not QUIC: other UDP to 443 stays a plain UDP conversation.
  packets.push(frame(ipv4('10.1.0.9', '192.0.2.80', 17, udp(51_002, 443, Buffer.from('hello, not quic')))));
  return pcapFile(
    { linkType: 1 },
    packets.map((data, index) => ({ data, timeMs: T0 + index })),
  );
}

describe('QUIC Initial packets in a capture', () => {
  const bytes = quicCapture();

  test('before: udp flows without SNI; now quic flows with the ClientHello server name', async () => {
    const { records, problems } = await readAll(bytes);
    expect(problems).toEqual([]);
    expect(
      records.map((record) => [record.protocol, record.client, record.destination, record.port, record.sni]),
    ).toEqual([
      ['quic', '10.1.0.9', '13.73.248.10', 443, 'app.powerbi.com'],
      ['quic', '2001:db8::9', '2001:db8::443', 443, 'api.powerbi.com'],
      ['udp', '10.1.0.9', '192.0.2.80', 443, null],
    ]);
    expect(records[0]).toMatchObject({ bytesUp: 2400, bytesDown: 1200 });
  });

  test('the same when the capture is read in 333-byte chunks', async () => {
    const { records } = await readAll(bytes, { chunkSize: 333 });
    expect(records.map((record) => record.sni)).toEqual(['app.powerbi.com', 'api.powerbi.com', null]);
  });

  test('tshark decrypts the same Initials to the same server names', () => {
    const file = join(dir, 'quic.pcap');
    writeFileSync(file, bytes);
    let output: string;
    try {
      output = execFileSync(
        'tshark',
        [
          '-r',
          file,
          '-Y',
          'tls.handshake.extensions_server_name',
          '-T',
          'fields',
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
    expect(output.trim().split('\n')).toEqual(['app.powerbi.com', 'api.powerbi.com']);
  });
});
