// Turns decoded packets into flow records: one per TCP connection, one per UDP conversation, one
// per DNS response (or unanswered query). Connections are emitted when they close (FIN both ways,
// RST) or when the capture ends; the table of open ones is bounded, the idlest leaving first.
// Per packet, an IPv4 lookup computes a small integer hash and walks a short chain: no strings,
// no allocation; a doubly linked list keeps connections in order of last activity.
import { emptyFlow, type FlowRecord } from '../../flow/record.js';
import { formatIp } from '../../match/ip.js';
import { addressesOf, parseDnsMessage } from '../../protocol/dns.js';
import { ClientHelloAssembler, InitialStatus, isV1Initial } from '../../protocol/quic-initial.js';
import type { DnsAnswers } from '../dns-answers.js';
import type { CaptureProblems } from './capture-problems.js';
import { type ClientPayloadInfo, inspectClientPayload, scanHandshakeClientHello } from './client-payload.js';
import { communityId } from './community-id.js';
import { type PacketView, TCP, UDP } from './packet-view.js';
import { ReassemblyBudget, StreamHead } from './tcp-reassembly.js';
import { TcpFlag } from './transport.js';
import { TunnelKind, tunnelEvidence } from './tunnel.js';

export interface FlowTableOptions {
  /** Input name for the records' origin. */
  file: string;
  dns: DnsAnswers;
  problems: CaptureProblems;
  /** Most connections / conversations open at once (default 100,000). */
  maxConnections?: number;
  /** Most leading client bytes buffered per TCP connection (default 16 KiB). */
  streamHeadLimit?: number;
  /** Most bytes buffered for all connections together (default 64 MiB). */
  reassemblyBudget?: number;
  /** Most DNS queries waiting for their response (default 10,000). */
  maxPendingDnsQueries?: number;
}

const DNS_PORT = 53;
/**
 * After a connection closed, its late packets (the last ACK, a retransmitted FIN, data in flight
 * when the RST went out) are absorbed this long (capture time) instead of starting a new record.
 */
const CLOSED_LINGER_MS = 10_000;
/** Client datagrams looked at for a QUIC ClientHello before giving up (it fits in one to a few). */
const MAX_QUIC_INITIALS = 8;

/** One TCP connection or UDP conversation. */
class Connection implements ClientPayloadInfo {
  /** IPv4 identity: sorted endpoint addresses, their ports as one number, and its hash. */
  low = 0;
  high = 0;
  ports = 0;
  hash = 0;
  /** Next connection with the same IPv4 hash. */
  nextInBucket: Connection | null = null;
  /** IPv6 identity (map key); null for IPv4. */
  key: string | null = null;
  /** Neighbours in the list ordered by last activity. */
  older: Connection | null = null;
  newer: Connection | null = null;
  start = Number.NaN;
  end = Number.NaN;
  bytesUp = 0;
  bytesDown = 0;
  finUp = false;
  finDown = false;
  /** Emitted; kept in the table a while to absorb the connection's late packets. */
  closed = false;
  clientIsnKnown = false;
  clientIsn = 0;
  /** Still working out what the client's first bytes are (TCP), or whether it speaks QUIC (UDP). */
  inspecting: boolean;
  /** UDP: the QUIC ClientHello being reassembled from the client's Initial packets. */
  quic: ClientHelloAssembler | null = null;
  quicDatagrams = 0;
  head: StreamHead | null = null;
  protocol: string;
  sni: string | null = null;
  httpHost: string | null = null;
  host: string | null = null;
  /** The tunnel the connection's first packet came in (`vxlan 192.0.2.1>192.0.2.2 vni 5001`). */
  tunnel: string | null = null;

  constructor(
    readonly transport: number,
    /** Whether the client is the endpoint that sorts first. */
    readonly clientIsLow: boolean,
    readonly client: string,
    readonly server: string,
    readonly serverPort: number,
    readonly firstPacket: number,
    readonly communityId: string,
  ) {
    this.inspecting = transport === TCP || transport === UDP;
    this.protocol = transport === TCP ? 'tcp' : 'udp';
  }
}

interface PendingQuery {
  firstPacket: number;
  time: number;
  bytes: number;
  name: string | null;
  client: string;
  server: string;
  serverPort: number;
  communityId: string;
  tunnel: string | null;
}

export class FlowTable {
  readonly #file: string;
  readonly #dns: DnsAnswers;
  readonly #problems: CaptureProblems;
  readonly #maxConnections: number;
  readonly #streamHeadLimit: number;
  readonly #maxPendingDns: number;
  readonly #budget: ReassemblyBudget;
  /** IPv4 connections by hash (chained), IPv6 ones by key. */
  readonly #byHash = new Map<number, Connection>();
  readonly #byKey = new Map<string, Connection>();
  #size = 0;
  /** Least and most recently active connection. */
  #oldest: Connection | null = null;
  #newest: Connection | null = null;
  readonly #pendingDns = new Map<string, PendingQuery>();
  #ready: FlowRecord[] = [];
  /** Set by #find for the packet being looked up. */
  #srcIsLow = false;
  #low = 0;
  #high = 0;
  #ports = 0;
  #hash = 0;
  #key: string | null = null;

  constructor(options: FlowTableOptions) {
    this.#file = options.file;
    this.#dns = options.dns;
    this.#problems = options.problems;
    this.#maxConnections = Math.max(1, options.maxConnections ?? 100_000);
    this.#streamHeadLimit = options.streamHeadLimit ?? 16 * 1024;
    this.#budget = new ReassemblyBudget(options.reassemblyBudget ?? 64 * 1024 * 1024);
    this.#maxPendingDns = Math.max(1, options.maxPendingDnsQueries ?? 10_000);
  }

  /** Records completed so far; the table forgets them. */
  take(): FlowRecord[] {
    const ready = this.#ready;
    this.#ready = [];
    return ready;
  }

  /** Accounts one TCP / UDP packet (`view` filled by the decoders). */
  packet(view: PacketView, packetNumber: number, timeMs: number): void {
    if (view.protocol === UDP && (view.srcPort === DNS_PORT || view.dstPort === DNS_PORT)) {
      if (this.#dnsMessage(view, packetNumber, timeMs)) return;
    }
    let connection = this.#find(view);
    const srcIsLow = this.#srcIsLow;
    const flags = view.tcpFlags;
    const syn = (flags & TcpFlag.syn) !== 0;
    const synOnly = syn && (flags & TcpFlag.ack) === 0;
    if (connection !== undefined && view.protocol === TCP) {
      if (connection.closed) {
        const retransmittedSyn = synOnly && connection.clientIsnKnown && connection.clientIsn === view.seq;
        // A late packet of the closed connection is absorbed; a new SYN or a long pause starts anew.
        if ((!synOnly || retransmittedSyn) && !(timeMs - connection.end > CLOSED_LINGER_MS)) {
          this.#touch(connection);
          return;
        }
        this.#remove(connection);
        connection = undefined;
      } else if (synOnly && !(connection.clientIsnKnown && connection.clientIsn === view.seq)) {
        // A SYN with a new initial sequence number: the 5-tuple is being reused.
        this.#close(connection);
        this.#remove(connection);
        connection = undefined;
      }
    }
    if (connection === undefined) connection = this.#open(view, packetNumber, timeMs, syn, synOnly);
    else this.#touch(connection);
    if (!Number.isNaN(timeMs)) {
      if (Number.isNaN(connection.start)) connection.start = timeMs;
      connection.end = timeMs;
    }
    const up = srcIsLow === connection.clientIsLow;
    const length = view.payloadLength;
    if (up) connection.bytesUp += length;
    else connection.bytesDown += length;
    if (view.protocol !== TCP) {
      if (up && connection.inspecting) this.#inspectQuic(connection, view);
      return;
    }
    if (up && connection.inspecting && view.payloadCaptured > 0) this.#inspect(connection, view, syn);
    if ((flags & TcpFlag.rst) !== 0) {
      this.#close(connection);
    } else if ((flags & TcpFlag.fin) !== 0) {
      if (up) connection.finUp = true;
      else connection.finDown = true;
      if (connection.finUp && connection.finDown) this.#close(connection);
    }
  }

  /** Emits every connection still open and every unanswered DNS query (end of capture). */
  finish(): void {
    for (let connection = this.#oldest; connection !== null; connection = connection.newer) {
      if (!connection.closed) this.#emit(connection);
      this.#release(connection);
    }
    this.#byHash.clear();
    this.#byKey.clear();
    this.#oldest = null;
    this.#newest = null;
    this.#size = 0;
    for (const query of this.#pendingDns.values()) this.#emitQuery(query, null);
    this.#pendingDns.clear();
  }

  /** Looks the packet's connection up; sets #srcIsLow and the identity fields for #open. */
  #find(view: PacketView): Connection | undefined {
    const buf = view.buf;
    const protocol = view.protocol;
    if (view.ipVersion === 4) {
      const src = buf.readUInt32BE(view.srcOffset);
      const dst = buf.readUInt32BE(view.dstOffset);
      const srcIsLow = src < dst || (src === dst && view.srcPort <= view.dstPort);
      const low = srcIsLow ? src : dst;
      const high = srcIsLow ? dst : src;
      const ports = srcIsLow ? view.srcPort * 65536 + view.dstPort : view.dstPort * 65536 + view.srcPort;
      // A 30-bit hash stays a small integer, so the map lookup allocates nothing.
      const hash =
        (Math.imul(low, 0x9e3779b1) ^
          Math.imul(high ^ protocol, 0x85ebca77) ^
          Math.imul(ports, 0xc2b2ae3d)) >>>
        2;
      this.#srcIsLow = srcIsLow;
      this.#low = low;
      this.#high = high;
      this.#ports = ports;
      this.#hash = hash;
      this.#key = null;
      let candidate: Connection | null = this.#byHash.get(hash) ?? null;
      for (; candidate !== null; candidate = candidate.nextInBucket) {
        if (
          candidate.low === low &&
          candidate.high === high &&
          candidate.ports === ports &&
          candidate.transport === protocol
        ) {
          return candidate;
        }
      }
      return undefined;
    }
    const order = buf.compare(buf, view.dstOffset, view.dstOffset + 16, view.srcOffset, view.srcOffset + 16);
    const srcIsLow = order < 0 || (order === 0 && view.srcPort <= view.dstPort);
    this.#srcIsLow = srcIsLow;
    const lowOffset = srcIsLow ? view.srcOffset : view.dstOffset;
    const highOffset = srcIsLow ? view.dstOffset : view.srcOffset;
    const ports = srcIsLow ? view.srcPort * 65536 + view.dstPort : view.dstPort * 65536 + view.srcPort;
    const key = `${protocol}/${buf.toString('hex', lowOffset, lowOffset + 16)}/${buf.toString('hex', highOffset, highOffset + 16)}/${ports}`;
    this.#key = key;
    return this.#byKey.get(key);
  }

  #open(view: PacketView, packetNumber: number, timeMs: number, syn: boolean, synOnly: boolean): Connection {
    // The client sent the SYN; without one, the first sender, unless it sent from a well-known
    // port to an ephemeral one (a capture that started mid-connection, server speaking).
    const clientIsSrc = synOnly || (!syn && !(view.srcPort < 1024 && view.dstPort >= 1024));
    const clientOffset = clientIsSrc ? view.srcOffset : view.dstOffset;
    const serverOffset = clientIsSrc ? view.dstOffset : view.srcOffset;
    const connection = new Connection(
      view.protocol,
      clientIsSrc === this.#srcIsLow,
      formatAddress(view.buf, clientOffset, view.ipVersion),
      formatAddress(view.buf, serverOffset, view.ipVersion),
      clientIsSrc ? view.dstPort : view.srcPort,
      packetNumber,
      this.#communityId(view),
    );
    connection.tunnel = this.#tunnel(view);
    if (view.protocol === TCP && syn) {
      connection.clientIsnKnown = true;
      connection.clientIsn = synOnly ? view.seq : (view.ack - 1) >>> 0;
    }
    const key = this.#key;
    if (key === null) {
      connection.low = this.#low;
      connection.high = this.#high;
      connection.ports = this.#ports;
      connection.hash = this.#hash;
      const bucket = this.#byHash.get(this.#hash);
      if (bucket !== undefined) connection.nextInBucket = bucket;
      this.#byHash.set(this.#hash, connection);
    } else {
      connection.key = key;
      this.#byKey.set(key, connection);
    }
    this.#size++;
    this.#append(connection);
    // Closed connections past their linger time leave first, then the idlest if still too many.
    for (
      let oldest = this.#oldest;
      oldest?.closed && timeMs - oldest.end > CLOSED_LINGER_MS;
      oldest = this.#oldest
    ) {
      this.#remove(oldest);
    }
    while (this.#size > this.#maxConnections && this.#oldest !== null) this.#evict(this.#oldest);
    return connection;
  }

  /** Feeds client payload to the connection's stream head and looks at what it starts with. */
  #inspect(connection: Connection, view: PacketView, syn: boolean): void {
    const dataSeq = syn ? (view.seq + 1) >>> 0 : view.seq;
    let head = connection.head;
    if (head === null) {
      const base = connection.clientIsnKnown ? (connection.clientIsn + 1) >>> 0 : dataSeq;
      // Common case: the first segment starts the stream; look at it in place, buffer nothing.
      if (base === dataSeq) {
        const end = view.payloadOffset + Math.min(view.payloadCaptured, this.#streamHeadLimit);
        const final = view.payloadCaptured >= this.#streamHeadLimit;
        if (inspectClientPayload(view.buf, view.payloadOffset, end, final, connection)) {
          connection.inspecting = false;
          return;
        }
      }
      if (this.#budget.used >= this.#budget.limit) {
        this.#problems.counters.reassemblyBudgetSpent++;
        this.#conclude(connection);
        return;
      }
      head = new StreamHead(base, this.#streamHeadLimit, this.#budget);
      connection.head = head;
    }
    const grew = head.add(dataSeq, view.buf, view.payloadOffset, view.payloadCaptured);
    if (grew || head.exhausted) {
      if (inspectClientPayload(head.data, 0, head.contiguous, head.exhausted, connection)) {
        connection.inspecting = false;
        this.#release(connection);
      }
    }
  }

  /**
   * A client datagram of a UDP conversation: QUIC version 1 Initials are opened and their CRYPTO
   * frames reassembled until the ClientHello is whole (src/protocol/quic-initial.ts); its server
   * name is read by the same parser as TLS over TCP. Anything else ends the inspection at once.
   */
  #inspectQuic(connection: Connection, view: PacketView): void {
    const start = view.payloadOffset;
    const end = start + view.payloadCaptured;
    if (connection.quic === null) {
      if (!isV1Initial(view.buf, start, end)) {
        connection.inspecting = false;
        return;
      }
      connection.quic = new ClientHelloAssembler();
    }
    const status = connection.quic.add(view.buf, start, end);
    connection.quicDatagrams++;
    // An Initial that opened with the keys of its connection ID is QUIC, whatever follows.
    if (status !== InitialStatus.notQuic) connection.protocol = 'quic';
    if (status === InitialStatus.incomplete && connection.quicDatagrams < MAX_QUIC_INITIALS) return;
    const hello = status === InitialStatus.complete ? connection.quic.clientHello() : null;
    if (hello !== null && hello.length > 0) connection.sni = scanHandshakeClientHello(hello).serverName;
    connection.quic = null;
    connection.inspecting = false;
  }

  /** Decides with what has been seen (no more client bytes will be looked at). */
  #conclude(connection: Connection): void {
    if (!connection.inspecting) return;
    connection.quic = null;
    const head = connection.head;
    if (head !== null) inspectClientPayload(head.data, 0, head.contiguous, true, connection);
    connection.inspecting = false;
    this.#release(connection);
  }

  #release(connection: Connection): void {
    if (connection.head !== null) {
      connection.head.release();
      connection.head = null;
    }
  }

  /** Emits the connection now; it stays in the table as closed to absorb its late packets. */
  #close(connection: Connection): void {
    this.#emit(connection);
    connection.closed = true;
  }

  /** Takes the connection out of the index and the activity list. */
  #remove(connection: Connection): void {
    this.#release(connection);
    if (connection.key === null) {
      const first = this.#byHash.get(connection.hash);
      if (first === connection) {
        if (connection.nextInBucket === null) this.#byHash.delete(connection.hash);
        else this.#byHash.set(connection.hash, connection.nextInBucket);
      } else {
        let previous = first ?? null;
        while (previous !== null && previous.nextInBucket !== connection) previous = previous.nextInBucket;
        if (previous !== null) previous.nextInBucket = connection.nextInBucket;
      }
      connection.nextInBucket = null;
    } else {
      this.#byKey.delete(connection.key);
    }
    this.#unlink(connection);
    this.#size--;
  }

  /** The table is full: the idlest connection is emitted now (later packets start a new one). */
  #evict(connection: Connection): void {
    if (!connection.closed) {
      this.#problems.counters.evicted++;
      this.#emit(connection);
      connection.closed = true;
    }
    this.#remove(connection);
  }

  /** Marks the connection as the most recently active. */
  #touch(connection: Connection): void {
    if (connection === this.#newest) return;
    this.#unlink(connection);
    this.#append(connection);
  }

  #append(connection: Connection): void {
    connection.older = this.#newest;
    connection.newer = null;
    if (this.#newest !== null) this.#newest.newer = connection;
    else this.#oldest = connection;
    this.#newest = connection;
  }

  #unlink(connection: Connection): void {
    if (connection.older !== null) connection.older.newer = connection.newer;
    else if (this.#oldest === connection) this.#oldest = connection.newer;
    if (connection.newer !== null) connection.newer.older = connection.older;
    else if (this.#newest === connection) this.#newest = connection.older;
    connection.older = null;
    connection.newer = null;
  }

  #emit(connection: Connection): void {
    this.#conclude(connection);
    const record = emptyFlow({ kind: 'pcap', file: this.#file, line: connection.firstPacket });
    record.start = Number.isNaN(connection.start) ? null : connection.start;
    record.end = Number.isNaN(connection.end) ? null : connection.end;
    record.client = connection.client;
    record.destination = connection.server;
    record.port = connection.serverPort;
    record.protocol = connection.protocol;
    record.sni = connection.sni;
    record.httpHost = connection.httpHost;
    record.host = connection.host;
    record.bytesUp = connection.bytesUp;
    record.bytesDown = connection.bytesDown;
    record.connectionId = connection.communityId;
    record.actualPathEvidence = connection.tunnel;
    this.#ready.push(record);
  }

  /** Evidence naming the tunnel a packet came in, or null (built once per connection). */
  #tunnel(view: PacketView): string | null {
    if (view.tunnelKind === TunnelKind.none) return null;
    return tunnelEvidence(view, (offset, version) => formatAddress(view.buf, offset, version));
  }

  /**
   * A UDP packet to or from port 53. Queries wait for their response; a response becomes a record
   * and teaches its answers. Returns false when the payload is not a DNS message (then the packet
   * is an ordinary UDP conversation).
   */
  #dnsMessage(view: PacketView, packetNumber: number, timeMs: number): boolean {
    const buf = view.buf;
    const message = parseDnsMessage(buf, view.payloadOffset, view.payloadOffset + view.payloadCaptured);
    const whole = view.payloadCaptured >= view.payloadLength;
    if (message === null) {
      if (!whole) return true; // cut by the snapshot length: a DNS packet, unreadable
      this.#problems.counters.badDns++;
      if (this.#problems.wants('dns', packetNumber)) {
        this.#problems.report(
          packetNumber,
          'UDP packet on port 53 too short for a DNS header; counted as UDP',
        );
      }
      return false;
    }
    if (message.error !== null && whole) {
      this.#problems.counters.badDns++;
      if (this.#problems.wants('dns', packetNumber)) {
        this.#problems.report(
          packetNumber,
          `malformed DNS ${message.response ? 'response' : 'query'}: ${message.error}`,
        );
      }
    }
    const src = formatAddress(buf, view.srcOffset, view.ipVersion);
    const dst = formatAddress(buf, view.dstOffset, view.ipVersion);
    if (!message.response) {
      const key = `${src}|${view.srcPort}|${dst}|${view.dstPort}|${message.id}`;
      if (this.#pendingDns.has(key)) return true; // a retransmitted query
      this.#pendingDns.set(key, {
        firstPacket: packetNumber,
        time: timeMs,
        bytes: view.payloadLength,
        name: message.questionName,
        client: src,
        server: dst,
        serverPort: view.dstPort,
        communityId: this.#communityId(view),
        tunnel: this.#tunnel(view),
      });
      if (this.#pendingDns.size > this.#maxPendingDns) {
        for (const [oldestKey, oldest] of this.#pendingDns) {
          this.#pendingDns.delete(oldestKey);
          this.#emitQuery(oldest, null);
          break;
        }
      }
      return true;
    }
    for (const [name, address] of addressesOf(message)) this.#dns.add(name, address);
    const key = `${dst}|${view.dstPort}|${src}|${view.srcPort}|${message.id}`;
    const query = this.#pendingDns.get(key);
    if (query !== undefined) {
      this.#pendingDns.delete(key);
      this.#emitQuery(query, { packetNumber, time: timeMs, bytes: view.payloadLength });
      return true;
    }
    this.#emitQuery(
      {
        firstPacket: packetNumber,
        time: timeMs,
        bytes: -1,
        name: message.questionName,
        client: dst,
        server: src,
        serverPort: view.srcPort,
        communityId: this.#communityId(view),
        tunnel: this.#tunnel(view),
      },
      { packetNumber, time: timeMs, bytes: view.payloadLength },
    );
    return true;
  }

  #communityId(view: PacketView): string {
    return communityId(
      view.buf,
      view.srcOffset,
      view.dstOffset,
      view.ipVersion === 4 ? 4 : 16,
      view.protocol,
      view.srcPort,
      view.dstPort,
    );
  }

  /** A DNS record: the query (bytes -1 when it was not captured) and its response, if any. */
  #emitQuery(
    query: PendingQuery,
    response: { packetNumber: number; time: number; bytes: number } | null,
  ): void {
    const record = emptyFlow({ kind: 'pcap', file: this.#file, line: query.firstPacket });
    const start = query.time;
    const end = response === null ? query.time : response.time;
    record.start = Number.isNaN(start) ? null : start;
    record.end = Number.isNaN(end) ? null : end;
    record.client = query.client;
    record.destination = query.server;
    record.port = query.serverPort;
    record.protocol = 'dns';
    record.host = query.name === null || query.name === '' ? null : query.name;
    record.bytesUp = query.bytes < 0 ? null : query.bytes;
    record.bytesDown = response === null ? 0 : response.bytes;
    record.connectionId = query.communityId;
    record.actualPathEvidence = query.tunnel;
    this.#ready.push(record);
  }
}

/** Scratch space for dotted quads, so each address is one flat string (no cons-string tree). */
const DOTTED_QUAD = Buffer.alloc(15);

function formatAddress(buf: Buffer, offset: number, version: number): string {
  if (version !== 4) return formatIp({ version: 6, bytes: buf.subarray(offset, offset + 16) });
  let at = 0;
  for (let i = 0; i < 4; i++) {
    const octet = buf[offset + i] as number;
    if (i > 0) DOTTED_QUAD[at++] = 0x2e;
    if (octet >= 100) DOTTED_QUAD[at++] = 0x30 + Math.floor(octet / 100);
    if (octet >= 10) DOTTED_QUAD[at++] = 0x30 + (Math.floor(octet / 10) % 10);
    DOTTED_QUAD[at++] = 0x30 + (octet % 10);
  }
  return DOTTED_QUAD.toString('latin1', 0, at);
}
