// Decides what a TCP connection carries from the first bytes its client sent: a TLS ClientHello
// (server name), an HTTP request (Host header; CONNECT target and the ClientHello tunnelled after
// it), or something else.
import { HttpStatus, parseHttpRequestHead } from './http.js';
import { type ClientHelloScan, HelloStatus, scanClientHello } from './tls-client-hello.js';

/** What the first client bytes said; the connection record takes these fields over. */
export interface ClientPayloadInfo {
  /** `tcp`, `tls` or `http`. */
  protocol: string;
  sni: string | null;
  httpHost: string | null;
  /** Host named in the request itself (CONNECT target, absolute-form URL). */
  host: string | null;
}

/**
 * Inspects `data[start, end)`. Returns true when the answer is final (fields set on `info`), false
 * when more bytes could change it. With `final`, no more bytes will come: always returns true.
 */
export function inspectClientPayload(
  data: Buffer,
  start: number,
  end: number,
  final: boolean,
  info: ClientPayloadInfo,
): boolean {
  if (end <= start) return final;
  const first = data[start] as number;
  if (first >= 20 && first <= 24) return inspectTls(data, start, end, final, info);
  if (first >= 0x41 && first <= 0x5a) {
    const head = parseHttpRequestHead(data, start, end, final);
    if (head.status === HttpStatus.incomplete) return false;
    if (head.status === HttpStatus.notHttp) {
      info.protocol = 'tcp';
      return true;
    }
    info.protocol = 'http';
    info.httpHost = head.hostHeader;
    info.host = head.targetHost;
    if (head.method === 'CONNECT' && head.headEnd >= 0) {
      // A proxy tunnel: the client's ClientHello follows the CONNECT request.
      if (head.headEnd >= end) return final;
      const tunnelled: ClientPayloadInfo = { protocol: 'tcp', sni: null, httpHost: null, host: null };
      if (!inspectTls(data, head.headEnd, end, final, tunnelled)) return false;
      if (tunnelled.protocol === 'tls') {
        info.protocol = 'tls';
        info.sni = tunnelled.sni;
      }
    }
    return true;
  }
  info.protocol = 'tcp';
  return true;
}

/** Largest TLS record body (RFC 8446 5.1): a longer handshake message spans records. */
const MAX_RECORD = 16384;

/**
 * Reads a ClientHello handshake message that came without TLS records (QUIC carries it in CRYPTO
 * frames: src/protocol/quic-initial.ts) by wrapping it in handshake records, so the one
 * ClientHello parser reads TLS and QUIC alike.
 */
export function scanHandshakeClientHello(handshake: Buffer): ClientHelloScan {
  const records: Buffer[] = [];
  for (let at = 0; at < handshake.length; at += MAX_RECORD) {
    const body = handshake.subarray(at, Math.min(at + MAX_RECORD, handshake.length));
    const header = Buffer.from([22, 3, 1, 0, 0]);
    header.writeUInt16BE(body.length, 3);
    records.push(header, body);
  }
  const stream = Buffer.concat(records);
  return scanClientHello(stream, 0, stream.length);
}

function inspectTls(
  data: Buffer,
  start: number,
  end: number,
  final: boolean,
  info: ClientPayloadInfo,
): boolean {
  const scan = scanClientHello(data, start, end);
  switch (scan.status) {
    case HelloStatus.incomplete:
      if (!final) return false;
      info.protocol = 'tls';
      return true;
    case HelloStatus.notTls:
      info.protocol = 'tcp';
      return true;
    default:
      info.protocol = 'tls';
      info.sni = scan.serverName;
      return true;
  }
}
