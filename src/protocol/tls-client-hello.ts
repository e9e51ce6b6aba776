// The one reader of a TLS ClientHello (RFC 8446 §4.1.2) and its server_name extension (RFC 6066 §3),
// shared by the gateway's CONNECT tunnels, the capture reader and (through the handshake entry point)
// QUIC Initial packets, whose CRYPTO frames carry the handshake without TLS records. It parses only,
// never decrypts; bytes may stop anywhere (`partial`), and lengths that lie are `malformed`, never
// read past. Host names come back canonical (lower case, no trailing dot), never IP literals.
import { canonicalHostName } from '../match/host.js';

export type ClientHelloResult =
  /** More bytes are needed. */
  | { kind: 'partial' }
  /** The stream does not start with a TLS handshake record: not TLS (or TLS mid-connection). */
  | { kind: 'not-tls' }
  /** A TLS handshake record (or handshake message) that is not a well-formed ClientHello. */
  | { kind: 'malformed'; reason: string }
  /** `sni` is the canonical server name, or null when the hello carries none. */
  | { kind: 'hello'; sni: string | null };

export interface ClientHelloOptions {
  /**
   * Answer as soon as the server_name extension is in, before the rest of the hello arrives (a
   * capture reader that only wants the name). Without it the whole message must be there and is
   * checked to its end (the gateway, which refuses what it cannot fully read).
   */
  early?: boolean;
}

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
/** A ClientHello with post-quantum key shares is about 1.8 KB; anything near this is abuse. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;
const MAX_RECORD_BYTES = 16384 + 256;

const PARTIAL: ClientHelloResult = Object.freeze({ kind: 'partial' });
const NOT_TLS: ClientHelloResult = Object.freeze({ kind: 'not-tls' });

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function malformed(reason: string): ClientHelloResult {
  return { kind: 'malformed', reason };
}

/**
 * True when the bytes could start a TLS record of any type: content type 20..24 and, once seen,
 * version 3.0 to 3.4. Tells "some TLS" from "not TLS at all" where the ClientHello reader says only
 * whether a ClientHello starts here.
 */
export function looksLikeTlsRecord(data: Uint8Array): boolean {
  if (data.length === 0) return false;
  const type = data[0] as number;
  if (type < 20 || type > 24) return false;
  if (data.length < 3) return true;
  return data[1] === 3 && (data[2] as number) <= 4;
}

/**
 * Reads a ClientHello from the first bytes of a TLS stream (all of them, from the start): record
 * headers, the handshake message reassembled over as many records and reads as it spans.
 */
export function readClientHello(bytes: Uint8Array, options: ClientHelloOptions = {}): ClientHelloResult {
  const data = asBuffer(bytes);
  if (data.length === 0) return PARTIAL;
  if (data[0] !== RECORD_HANDSHAKE) return NOT_TLS;
  const fragments: Buffer[] = [];
  let fragmentBytes = 0;
  let offset = 0;
  while (offset + 5 <= data.length) {
    if (data[offset] !== RECORD_HANDSHAKE) return malformed('a non-handshake record inside the ClientHello');
    if (data[offset + 1] !== 3) return malformed('record version is not 3.x');
    const recordLength = data.readUInt16BE(offset + 3);
    if (recordLength === 0 || recordLength > MAX_RECORD_BYTES) return malformed('bad record length');
    const available = Math.min(recordLength, data.length - offset - 5);
    fragments.push(data.subarray(offset + 5, offset + 5 + available));
    fragmentBytes += available;
    if (fragmentBytes >= 4) {
      const handshake = fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments);
      const result = readClientHelloHandshake(handshake, options);
      if (result.kind !== 'partial') return result;
    }
    if (available < recordLength) break;
    offset += 5 + recordLength;
  }
  if (data.length > MAX_CLIENT_HELLO_BYTES + 1024) return malformed('ClientHello is too large');
  if (data.length >= 6 && data[5] !== HANDSHAKE_CLIENT_HELLO) {
    return malformed('the first handshake message is not a ClientHello');
  }
  return PARTIAL;
}

/**
 * Reads a ClientHello from handshake-layer bytes (msg_type, 24-bit length, body), as TLS records
 * carry them after reassembly and QUIC CRYPTO frames carry them without records. Bytes after the
 * message are ignored.
 */
export function readClientHelloHandshake(
  bytes: Uint8Array,
  options: ClientHelloOptions = {},
): ClientHelloResult {
  const message = asBuffer(bytes);
  if (message.length >= 1 && message[0] !== HANDSHAKE_CLIENT_HELLO) {
    return malformed('the first handshake message is not a ClientHello');
  }
  if (message.length < 4) return PARTIAL;
  const length = message.readUIntBE(1, 3);
  if (length > MAX_CLIENT_HELLO_BYTES) return malformed('ClientHello is too large');
  const complete = message.length >= length + 4;
  if (!complete && !options.early) return PARTIAL;
  return readClientHelloBody(message.subarray(4, Math.min(message.length, length + 4)), length, options);
}

/**
 * The ClientHello body: version, random, session id, suites, compression, extensions. `body` holds
 * the bytes present, `length` is what the message declares.
 */
function readClientHelloBody(body: Buffer, length: number, options: ClientHelloOptions): ClientHelloResult {
  const complete = body.length >= length;
  // Past the bytes present: more may come, unless the message is whole and its lengths lie.
  const missing = (end: number, reason: string): ClientHelloResult | null =>
    end <= body.length ? null : complete ? malformed(reason) : PARTIAL;
  let at = 2 + 32; // legacy_version, random
  let short = missing(at + 1, 'truncated ClientHello');
  if (short) return short;
  at += 1 + (body[at] as number); // legacy_session_id
  short = missing(at + 2, 'truncated cipher suites');
  if (short) return short;
  at += 2 + body.readUInt16BE(at); // cipher_suites
  short = missing(at + 1, 'truncated compression methods');
  if (short) return short;
  at += 1 + (body[at] as number); // legacy_compression_methods
  if (at === length) return { kind: 'hello', sni: null }; // no extensions at all (TLS 1.0 style)
  short = missing(at + 2, 'truncated extensions');
  if (short) return short;
  const extensionsEnd = at + 2 + body.readUInt16BE(at);
  if (extensionsEnd !== length) return malformed('extensions length does not match the message');
  at += 2;
  let sni: string | null = null;
  let seen = false;
  while (at < extensionsEnd) {
    if (at + 4 > extensionsEnd) return malformed('truncated extension header');
    short = missing(at + 4, 'truncated extension header');
    if (short) return short;
    const type = body.readUInt16BE(at);
    const start = at + 4;
    const end = start + body.readUInt16BE(at + 2);
    if (end > extensionsEnd) return malformed('extension runs past the message');
    if (type === EXTENSION_SERVER_NAME) {
      if (seen) return malformed('two server_name extensions');
      seen = true;
      short = missing(end, 'extension runs past the message');
      if (short) return short;
      const name = readServerName(body.subarray(start, end));
      if (typeof name === 'object') return name;
      if (options.early) return { kind: 'hello', sni: name };
      sni = name;
    }
    at = end;
  }
  return complete ? { kind: 'hello', sni } : PARTIAL;
}

/** server_name extension data: a list of (type, name); only host_name (0) is defined. */
function readServerName(data: Buffer): string | ClientHelloResult {
  if (data.length < 2 || data.readUInt16BE(0) !== data.length - 2) return malformed('bad server_name list');
  let at = 2;
  let host: string | null = null;
  while (at < data.length) {
    if (at + 3 > data.length) return malformed('truncated server_name entry');
    const type = data[at] as number;
    const length = data.readUInt16BE(at + 1);
    if (at + 3 + length > data.length) return malformed('server_name entry runs past the list');
    if (type === NAME_TYPE_HOST_NAME) {
      if (host !== null) return malformed('two host_name entries');
      const raw = data.toString('latin1', at + 3, at + 3 + length);
      const canonical = canonicalHostName(raw);
      // RFC 6066: a HostName is an ASCII DNS name, never an IP literal.
      if (canonical === undefined || /^[\d.]+$/.test(canonical))
        return malformed('server name is not a DNS name');
      host = canonical;
    }
    at += 3 + length;
  }
  if (host === null) return malformed('server_name extension without a host_name');
  return host;
}

/** A fatal TLS alert (RFC 8446 §6): what a client sees when the tunnel is refused after the 200. */
export function tlsAlert(description: 'access_denied' | 'internal_error' | 'decode_error'): Buffer {
  const code = { access_denied: 49, internal_error: 80, decode_error: 50 }[description];
  return Buffer.from([21, 3, 1, 0, 2, 2, code]);
}
