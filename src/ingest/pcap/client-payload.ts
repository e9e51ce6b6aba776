// Decides what a TCP connection carries from the first bytes its client sent: a TLS ClientHello
// (server name), an HTTP request (Host header; CONNECT target and the ClientHello tunnelled after
// it), or something else.
import {
  type ClientHelloResult,
  looksLikeTlsRecord,
  readClientHello,
  readClientHelloHandshake,
} from '../../protocol/tls-client-hello.js';
import { HttpStatus, parseHttpRequestHead } from './http.js';

export const HelloStatus = {
  /** Looks like the start of a ClientHello, but more bytes are needed. */
  incomplete: 0,
  /** Not TLS. */
  notTls: 1,
  /** TLS records, but not starting with a readable ClientHello (a capture that began mid-connection). */
  tlsOther: 2,
  /** A ClientHello; `serverName` is its host_name, or null when it has none. */
  clientHello: 3,
} as const;
export type HelloStatus = (typeof HelloStatus)[keyof typeof HelloStatus];

export interface ClientHelloScan {
  status: HelloStatus;
  serverName: string | null;
}

const INCOMPLETE: ClientHelloScan = Object.freeze({ status: HelloStatus.incomplete, serverName: null });
const NOT_TLS: ClientHelloScan = Object.freeze({ status: HelloStatus.notTls, serverName: null });
const TLS_OTHER: ClientHelloScan = Object.freeze({ status: HelloStatus.tlsOther, serverName: null });

/**
 * What the client bytes `data[start, end)` say in TLS terms, read by the shared ClientHello reader
 * (src/protocol) in its early mode: the name is taken as soon as it is in. `incomplete` while more
 * bytes could still complete a ClientHello; the caller decides when no more will come.
 */
export function scanClientHello(data: Buffer, start: number, end: number): ClientHelloScan {
  const bytes = data.subarray(start, end);
  if (bytes.length === 0) return INCOMPLETE;
  if (!looksLikeTlsRecord(bytes)) return NOT_TLS;
  return toScan(readClientHello(bytes, { early: true }));
}

/**
 * The same for a ClientHello handshake message that came without TLS records (QUIC carries it in
 * CRYPTO frames: src/protocol/quic-initial.ts).
 */
export function scanHandshakeClientHello(handshake: Buffer): ClientHelloScan {
  return toScan(readClientHelloHandshake(handshake, { early: true }));
}

function toScan(hello: ClientHelloResult): ClientHelloScan {
  switch (hello.kind) {
    case 'partial':
      return INCOMPLETE;
    case 'hello':
      return { status: HelloStatus.clientHello, serverName: hello.sni };
    default:
      // Other record types first, or a hello that cannot be read: TLS, without a name.
      return TLS_OTHER;
  }
}

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
