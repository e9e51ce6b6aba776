// Reads the server name (SNI) from the first bytes a client sends through a CONNECT tunnel: TLS
// record header -> handshake message (which may span several records and TCP reads) -> ClientHello
// -> server_name extension (RFC 8446 §4.1.2, RFC 6066 §3). Parses only; never decrypts or changes.
import { canonicalHostName } from '../match/host.js';

export type ClientHelloResult =
  /** More bytes are needed. */
  | { kind: 'partial' }
  /** The stream does not start with a TLS handshake record: not TLS, forwarded as it is. */
  | { kind: 'not-tls' }
  /** A TLS handshake record that is not a well-formed ClientHello. */
  | { kind: 'malformed'; reason: string }
  /** `sni` is the canonical server name, or null when the hello carries none. */
  | { kind: 'hello'; sni: string | null };

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const NAME_TYPE_HOST_NAME = 0;
/** A ClientHello with post-quantum key shares is about 1.8 KB; anything near this is abuse. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;
const MAX_RECORD_BYTES = 16384 + 256;

/** Looks at the bytes received so far (all of them, from the start of the tunnel). */
export function readClientHello(data: Buffer): ClientHelloResult {
  if (data.length === 0) return { kind: 'partial' };
  if (data[0] !== RECORD_HANDSHAKE) return { kind: 'not-tls' };
  // Reassemble the handshake message from consecutive handshake records.
  const fragments: Buffer[] = [];
  let fragmentBytes = 0;
  let messageLength = -1;
  let offset = 0;
  while (offset + 5 <= data.length) {
    if (data[offset] !== RECORD_HANDSHAKE) return malformed('a non-handshake record inside the ClientHello');
    if (data[offset + 1] !== 3) return malformed('record version is not 3.x');
    const recordLength = data.readUInt16BE(offset + 3);
    if (recordLength === 0 || recordLength > MAX_RECORD_BYTES) return malformed('bad record length');
    const available = Math.min(recordLength, data.length - offset - 5);
    fragments.push(data.subarray(offset + 5, offset + 5 + available));
    fragmentBytes += available;
    if (messageLength < 0 && fragmentBytes >= 4) {
      const head = fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO)
        return malformed('the first handshake message is not a ClientHello');
      messageLength = head.readUIntBE(1, 3);
      if (messageLength > MAX_CLIENT_HELLO_BYTES) return malformed('ClientHello is too large');
    }
    if (messageLength >= 0 && fragmentBytes >= messageLength + 4) {
      const message = fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments);
      return parseClientHello(message.subarray(4, messageLength + 4));
    }
    if (available < recordLength) break;
    offset += 5 + recordLength;
  }
  if (data.length > MAX_CLIENT_HELLO_BYTES + 1024) return malformed('ClientHello is too large');
  if (data.length >= 6 && data[5] !== HANDSHAKE_CLIENT_HELLO) {
    return malformed('the first handshake message is not a ClientHello');
  }
  return { kind: 'partial' };
}

function malformed(reason: string): ClientHelloResult {
  return { kind: 'malformed', reason };
}

/** The ClientHello body: version, random, session id, suites, compression, extensions. */
function parseClientHello(body: Buffer): ClientHelloResult {
  let at = 2 + 32; // legacy_version, random
  if (body.length < at + 1) return malformed('truncated ClientHello');
  at += 1 + (body[at] as number); // legacy_session_id
  if (body.length < at + 2) return malformed('truncated cipher suites');
  at += 2 + body.readUInt16BE(at); // cipher_suites
  if (body.length < at + 1) return malformed('truncated compression methods');
  at += 1 + (body[at] as number); // legacy_compression_methods
  if (at === body.length) return { kind: 'hello', sni: null }; // no extensions at all (TLS 1.0 style)
  if (body.length < at + 2) return malformed('truncated extensions');
  const extensionsEnd = at + 2 + body.readUInt16BE(at);
  if (extensionsEnd !== body.length) return malformed('extensions length does not match the message');
  at += 2;
  let sni: string | null = null;
  let seen = false;
  while (at < extensionsEnd) {
    if (at + 4 > extensionsEnd) return malformed('truncated extension header');
    const type = body.readUInt16BE(at);
    const length = body.readUInt16BE(at + 2);
    const start = at + 4;
    const end = start + length;
    if (end > extensionsEnd) return malformed('extension runs past the message');
    if (type === EXTENSION_SERVER_NAME) {
      if (seen) return malformed('two server_name extensions');
      seen = true;
      const name = parseServerName(body.subarray(start, end));
      if (typeof name === 'object') return name;
      sni = name;
    }
    at = end;
  }
  return { kind: 'hello', sni };
}

/** server_name extension data: a list of (type, name); only host_name (0) is defined. */
function parseServerName(data: Buffer): string | ClientHelloResult {
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
