// A minimal classic-pcap writer for the demo data set and the benchmark: Ethernet / IPv4 frames
// carrying TCP connections (handshake, a TLS ClientHello with or without SNI, optionally split over
// two segments, server bytes, FIN both ways) and DNS over UDP. Checksums are computed, so the files
// also open cleanly in Wireshark / tshark. Formats: libpcap (tcpdump.org/manpages/pcap-savefile.5),
// RFC 791 (IPv4), RFC 793 (TCP), RFC 768 (UDP), RFC 1035 (DNS), RFC 8446 §4.1.2 and RFC 6066 §3 (SNI).

const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;
const PROTO_TCP = 6;
const PROTO_UDP = 17;

const FIN = 0x01;
const SYN = 0x02;
const PSH = 0x08;
const ACK = 0x10;

export interface Endpoint {
  ip: string;
  port: number;
}

/** Accumulates packets; `toBuffer()` gives the pcap file. */
export class PcapWriter {
  readonly #packets: Buffer[] = [];
  #count = 0;
  #ipId = 1;

  constructor() {
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeInt32LE(0, 8);
    header.writeUInt32LE(0, 12);
    header.writeUInt32LE(65535, 16);
    header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    this.#packets.push(header);
  }

  /** Packets written so far; the next packet's 1-based number is `count + 1`. */
  get count(): number {
    return this.#count;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#packets);
  }

  /** Drops the packets written so far (keeps the file header) and returns them; for streaming. */
  drain(): Buffer {
    const out = Buffer.concat(this.#packets);
    this.#packets.length = 0;
    return out;
  }

  /** One Ethernet frame with an IPv4 packet; returns its 1-based packet number. */
  ipv4(timeMs: number, src: string, dst: string, protocol: number, transport: Buffer): number {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + transport.length, 2);
    ip.writeUInt16BE(this.#ipId++ & 0xffff, 4);
    ip.writeUInt16BE(0x4000, 6); // don't fragment
    ip[8] = 64;
    ip[9] = protocol;
    writeIPv4(ip, 12, src);
    writeIPv4(ip, 16, dst);
    ip.writeUInt16BE(checksum(ip), 10);
    const ethernet = Buffer.alloc(14);
    Buffer.from([0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]).copy(ethernet, 0);
    Buffer.from([0x00, 0x15, 0x5d, 0x0a, 0x0b, 0x0c]).copy(ethernet, 6);
    ethernet.writeUInt16BE(ETHERTYPE_IPV4, 12);
    const frame = Buffer.concat([ethernet, ip, transport]);
    const record = Buffer.alloc(16);
    const seconds = Math.floor(timeMs / 1000);
    record.writeUInt32LE(seconds, 0);
    record.writeUInt32LE(Math.round((timeMs - seconds * 1000) * 1000), 4);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    this.#packets.push(record, frame);
    this.#count++;
    return this.#count;
  }

  tcp(
    timeMs: number,
    from: Endpoint,
    to: Endpoint,
    seq: number,
    ack: number,
    flags: number,
    payload: Uint8Array = Buffer.alloc(0),
  ): number {
    const header = Buffer.alloc(20);
    header.writeUInt16BE(from.port, 0);
    header.writeUInt16BE(to.port, 2);
    header.writeUInt32BE(seq >>> 0, 4);
    header.writeUInt32BE(ack >>> 0, 8);
    header[12] = 5 << 4;
    header[13] = flags;
    header.writeUInt16BE(65535, 14);
    const segment = Buffer.concat([header, payload]);
    segment.writeUInt16BE(transportChecksum(from.ip, to.ip, PROTO_TCP, segment), 16);
    return this.ipv4(timeMs, from.ip, to.ip, PROTO_TCP, segment);
  }

  udp(timeMs: number, from: Endpoint, to: Endpoint, payload: Buffer): number {
    const header = Buffer.alloc(8);
    header.writeUInt16BE(from.port, 0);
    header.writeUInt16BE(to.port, 2);
    header.writeUInt16BE(8 + payload.length, 4);
    const datagram = Buffer.concat([header, payload]);
    datagram.writeUInt16BE(transportChecksum(from.ip, to.ip, PROTO_UDP, datagram) || 0xffff, 6);
    return this.ipv4(timeMs, from.ip, to.ip, PROTO_UDP, datagram);
  }

  /**
   * A whole TCP connection: handshake, the client's first bytes (in one segment, or split in two
   * to exercise reassembly), `serverBytes` back in segments of at most 1400 bytes, FIN both ways.
   * Returns the packet number of the SYN (what a capture reader numbers the connection by).
   */
  connection(
    startMs: number,
    client: Endpoint,
    server: Endpoint,
    clientHello: Buffer,
    serverBytes: number,
    options: { split?: boolean; filler?: (length: number) => Uint8Array } = {},
  ): number {
    let t = startMs;
    const step = () => {
      t += 7;
      return t;
    };
    let clientSeq = 1_000_000 + client.port * 7;
    let serverSeq = 5_000_000 + server.port * 13;
    const syn = this.tcp(t, client, server, clientSeq, 0, SYN);
    this.tcp(step(), server, client, serverSeq, clientSeq + 1, SYN | ACK);
    clientSeq++;
    serverSeq++;
    this.tcp(step(), client, server, clientSeq, serverSeq, ACK);
    const parts = options.split ? [clientHello.subarray(0, 40), clientHello.subarray(40)] : [clientHello];
    for (const part of parts) {
      this.tcp(step(), client, server, clientSeq, serverSeq, PSH | ACK, part);
      clientSeq += part.length;
    }
    const filler = options.filler ?? ((length: number) => Buffer.alloc(length, 0x17));
    for (let sent = 0; sent < serverBytes; ) {
      const length = Math.min(1400, serverBytes - sent);
      this.tcp(step(), server, client, serverSeq, clientSeq, PSH | ACK, filler(length));
      serverSeq += length;
      sent += length;
    }
    this.tcp(step(), client, server, clientSeq, serverSeq, FIN | ACK);
    clientSeq++;
    this.tcp(step(), server, client, serverSeq, clientSeq, FIN | ACK);
    serverSeq++;
    this.tcp(step(), client, server, clientSeq, serverSeq, ACK);
    return syn;
  }
}

/** A TLS 1.3-style ClientHello record; `sni` null leaves the server_name extension out. */
export function tlsClientHello(sni: string | null, seed: number): Buffer {
  const random = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) random[i] = (seed * 31 + i * 17) & 0xff;
  const sessionId = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) sessionId[i] = (seed * 7 + i * 13) & 0xff;
  const suites = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030];
  const extensions: Buffer[] = [];
  if (sni !== null) {
    const name = Buffer.from(sni, 'ascii');
    const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
    extensions.push(extension(0x0000, Buffer.concat([u16(entry.length), entry])));
  }
  extensions.push(extension(0x000a, Buffer.from([0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]))); // x25519, secp256r1
  extensions.push(extension(0x000b, Buffer.from([0x01, 0x00])));
  extensions.push(extension(0x000d, Buffer.from([0x00, 0x04, 0x04, 0x03, 0x08, 0x04])));
  extensions.push(
    extension(0x0010, Buffer.from([0x00, 0x0c, 0x02, 0x68, 0x32, 0x08, ...Buffer.from('http/1.1')])),
  );
  extensions.push(extension(0x002b, Buffer.from([0x02, 0x03, 0x04])));
  const keyShare = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) keyShare[i] = (seed * 3 + i * 29) & 0xff;
  extensions.push(extension(0x0033, Buffer.concat([u16(36), u16(0x001d), u16(32), keyShare])));
  const extensionBytes = Buffer.concat(extensions);
  const body = Buffer.concat([
    u16(0x0303),
    random,
    Buffer.from([sessionId.length]),
    sessionId,
    u16(suites.length * 2),
    Buffer.concat(suites.map(u16)),
    Buffer.from([1, 0]),
    u16(extensionBytes.length),
    extensionBytes,
  ]);
  const handshake = Buffer.concat([
    Buffer.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]),
    body,
  ]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

/** A DNS query (answers empty) or response for an A record. */
export function dnsMessage(id: number, name: string, answers: readonly string[], response: boolean): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(response ? 0x8180 : 0x0100, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(response ? answers.length : 0, 6);
  const labels = name
    .split('.')
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  const question = Buffer.concat([...labels, Buffer.from([0]), u16(1), u16(1)]);
  const records = response
    ? answers.map((address) => {
        const rdata = Buffer.alloc(4);
        writeIPv4(rdata, 0, address);
        // Name: pointer to the question name at offset 12.
        return Buffer.concat([u16(0xc00c), u16(1), u16(1), u32(300), u16(4), rdata]);
      })
    : [];
  return Buffer.concat([header, question, ...records]);
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value & 0xffff, 0);
  return buffer;
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0, 0);
  return buffer;
}

function writeIPv4(buffer: Buffer, offset: number, address: string): void {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !(part >= 0 && part <= 255))) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  parts.forEach((part, i) => {
    buffer[offset + i] = part;
  });
}

/** The Internet checksum (RFC 1071) of `data`, starting from `initial`. */
function checksum(data: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += data.readUInt16BE(i);
  if (data.length % 2 === 1) sum += (data[data.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function transportChecksum(src: string, dst: string, protocol: number, segment: Buffer): number {
  const pseudo = Buffer.alloc(12);
  writeIPv4(pseudo, 0, src);
  writeIPv4(pseudo, 4, dst);
  pseudo[9] = protocol;
  pseudo.writeUInt16BE(segment.length, 10);
  return checksum(Buffer.concat([pseudo, segment]));
}

export const tcpFlags = { FIN, SYN, PSH, ACK } as const;
