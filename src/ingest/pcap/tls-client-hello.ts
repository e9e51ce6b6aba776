// Reads the server name (SNI) from the first bytes a TLS client sends: record layer, handshake
// header, ClientHello body, extensions (RFC 8446 4.1.2, RFC 6066 3). The handshake may be spread
// over several records and the bytes may stop anywhere; garbage is recognised, never trusted.

export const HelloStatus = {
  /** Looks like the start of a ClientHello, but more bytes are needed. */
  incomplete: 0,
  /** Not TLS. */
  notTls: 1,
  /** TLS records, but not starting with a ClientHello (a capture that began mid-connection). */
  tlsOther: 2,
  /** A ClientHello; `serverName` is its host_name, or null when it has none. */
  clientHello: 3,
} as const;
export type HelloStatus = (typeof HelloStatus)[keyof typeof HelloStatus];

export interface ClientHelloScan {
  status: HelloStatus;
  serverName: string | null;
}

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
/** Largest record body a sender may use (2^14 plaintext + 2048 expansion, RFC 5246 6.2.3). */
const MAX_RECORD_BODY = 16384 + 2048;
/** A ClientHello body is at least version, random, three length bytes and one suite. */
const MIN_CLIENT_HELLO_BODY = 2 + 32 + 1 + 2 + 2 + 1 + 1;

const INCOMPLETE: ClientHelloScan = Object.freeze({ status: HelloStatus.incomplete, serverName: null });
const NOT_TLS: ClientHelloScan = Object.freeze({ status: HelloStatus.notTls, serverName: null });
const TLS_OTHER: ClientHelloScan = Object.freeze({ status: HelloStatus.tlsOther, serverName: null });
const NO_SERVER_NAME: ClientHelloScan = Object.freeze({ status: HelloStatus.clientHello, serverName: null });

/** True when `type` and the version bytes at `at` look like a TLS record header. */
function isRecordHeader(data: Buffer, at: number, end: number): boolean {
  const type = data[at] as number;
  if (type < 20 || type > 24) return false;
  if (end - at < 3) return true;
  return data[at + 1] === 3 && (data[at + 2] as number) <= 4;
}

/**
 * Scans `data[start, end)`, the first bytes of a client's stream, for a ClientHello. Returns
 * `incomplete` while a ClientHello could still be completed by more bytes; the caller decides
 * when no more will come.
 */
export function scanClientHello(data: Buffer, start: number, end: number): ClientHelloScan {
  if (end <= start) return INCOMPLETE;
  if (!isRecordHeader(data, start, end)) return NOT_TLS;
  if (data[start] !== CONTENT_HANDSHAKE) return TLS_OTHER;
  // Common case: the whole ClientHello sits in the first record; read it in place.
  if (end - start >= 9 && data[start + 1] === 3 && (data[start + 2] as number) <= 4) {
    const recordLength = data.readUInt16BE(start + 3);
    const bodyLength = data.readUIntBE(start + 6, 3);
    if (
      data[start + 5] === HANDSHAKE_CLIENT_HELLO &&
      4 + bodyLength <= recordLength &&
      bodyLength >= MIN_CLIENT_HELLO_BODY
    ) {
      const bodyStart = start + 9;
      return parseClientHelloBody(
        data,
        bodyStart,
        Math.min(end, bodyStart + bodyLength),
        bodyStart + bodyLength,
      );
    }
  }
  // Otherwise gather the handshake bytes of consecutive handshake records (a ClientHello may be
  // fragmented over several records, and each record over several TCP segments).
  const handshake = gatherHandshake(data, start, end);
  if (handshake === undefined) return TLS_OTHER;
  if (handshake.length < 1) return INCOMPLETE;
  if (handshake[0] !== HANDSHAKE_CLIENT_HELLO) return TLS_OTHER;
  if (handshake.length < 4) return INCOMPLETE;
  const bodyLength = handshake.readUIntBE(1, 3);
  if (bodyLength < MIN_CLIENT_HELLO_BODY) return TLS_OTHER;
  return parseClientHelloBody(handshake, 4, Math.min(handshake.length, 4 + bodyLength), 4 + bodyLength);
}

/**
 * Concatenates the bodies of the leading handshake records (as far as they are present).
 * Undefined when the record framing is broken.
 */
function gatherHandshake(data: Buffer, start: number, end: number): Buffer | undefined {
  const parts: Buffer[] = [];
  let total = 0;
  let at = start;
  let needed = -1;
  while (at < end) {
    if (data[at] !== CONTENT_HANDSHAKE) {
      // Another record type before the ClientHello is complete: not a well-formed start.
      return needed >= 0 && total >= needed ? Buffer.concat(parts, total) : undefined;
    }
    if (end - at < 5) break;
    if (data[at + 1] !== 3 || (data[at + 2] as number) > 4) return undefined;
    const length = data.readUInt16BE(at + 3);
    if (length === 0 || length > MAX_RECORD_BODY) return undefined;
    const bodyEnd = Math.min(end, at + 5 + length);
    parts.push(data.subarray(at + 5, bodyEnd));
    total += bodyEnd - (at + 5);
    at += 5 + length;
    if (needed < 0 && total >= 4) {
      const first = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
      needed = 4 + first.readUIntBE(1, 3);
    }
    if (needed >= 0 && total >= needed) break;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
}

/**
 * Walks a ClientHello body in `hello[at, available)`; `declaredEnd` is where the body ends per
 * its length (beyond `available` while bytes are missing).
 */
function parseClientHelloBody(
  hello: Buffer,
  start: number,
  available: number,
  declaredEnd: number,
): ClientHelloScan {
  const complete = available >= declaredEnd;
  // Running out of bytes inside a complete message means its lengths are inconsistent.
  const shortOf = (needed: number): ClientHelloScan | undefined => {
    if (needed <= available) return undefined;
    return complete ? NO_SERVER_NAME : INCOMPLETE;
  };
  let at = start;
  let short = shortOf(at + 2);
  if (short) return short;
  if (hello[at] !== 3) return TLS_OTHER;
  at += 2 + 32;
  short = shortOf(at + 1);
  if (short) return short;
  at += 1 + (hello[at] as number); // session id
  short = shortOf(at + 2);
  if (short) return short;
  at += 2 + hello.readUInt16BE(at); // cipher suites
  short = shortOf(at + 1);
  if (short) return short;
  at += 1 + (hello[at] as number); // compression methods
  if (at >= declaredEnd) return NO_SERVER_NAME; // no extensions (SSL 3.0 style)
  short = shortOf(at + 2);
  if (short) return short;
  const extensionsEnd = Math.min(declaredEnd, at + 2 + hello.readUInt16BE(at));
  at += 2;
  while (at + 4 <= extensionsEnd) {
    short = shortOf(at + 4);
    if (short) return short;
    const type = hello.readUInt16BE(at);
    const length = hello.readUInt16BE(at + 2);
    at += 4;
    if (type === EXTENSION_SERVER_NAME) {
      short = shortOf(at + length);
      if (short) return short;
      return { status: HelloStatus.clientHello, serverName: readServerName(hello, at, at + length) };
    }
    at += length;
  }
  return at > available && !complete ? INCOMPLETE : NO_SERVER_NAME;
}

/** The first host_name of a server_name extension body, or null when there is no usable one. */
function readServerName(data: Buffer, start: number, end: number): string | null {
  if (end - start < 2) return null;
  const listEnd = Math.min(end, start + 2 + data.readUInt16BE(start));
  let at = start + 2;
  while (at + 3 <= listEnd) {
    const type = data[at] as number;
    const length = data.readUInt16BE(at + 1);
    at += 3;
    if (at + length > listEnd) return null;
    if (type === NAME_TYPE_HOST_NAME) return printableAscii(data, at, at + length);
    at += length;
  }
  return null;
}

/** The bytes as a string when they are all printable ASCII (a DNS name), else null. */
export function printableAscii(data: Buffer, start: number, end: number): string | null {
  if (end <= start) return null;
  for (let i = start; i < end; i++) {
    const byte = data[i] as number;
    if (byte <= 0x20 || byte >= 0x7f) return null;
  }
  return data.toString('latin1', start, end);
}
