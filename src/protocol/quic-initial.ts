// Reads the TLS ClientHello a QUIC client sends in its Initial packets (RFC 9000 17.2.2, RFC 9001
// 5): derives the Initial keys from the Destination Connection ID, removes header protection,
// decrypts each packet, and reassembles the CRYPTO frames (which may be split over packets and
// arrive out of order) into the handshake message. The caller hands the bytes to a ClientHello
// parser. QUIC version 1 only; anything else is recognised as "not a v1 Initial" and left alone.
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

export const QUIC_V1 = 0x00000001;
/** RFC 9001 5.2: the salt of version 1 Initial secrets. */
const INITIAL_SALT_V1 = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');
const AEAD_TAG = 16;
const HP_SAMPLE = 16;
/** RFC 9000 17.2: a connection ID is at most 20 bytes in version 1. */
const MAX_CID = 20;
/** Largest ClientHello reassembled (post-quantum key shares make them a few KiB; 64 KiB is ample). */
export const MAX_CLIENT_HELLO = 64 * 1024;
const HANDSHAKE_CLIENT_HELLO = 1;

export interface InitialKeys {
  key: Buffer;
  iv: Buffer;
  hp: Buffer;
}

/** HKDF-Expand-Label (RFC 8446 7.1) with an empty context, for outputs of at most 32 bytes. */
export function hkdfExpandLabel(secret: Buffer, label: string, length: number): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`, 'ascii');
  const info = Buffer.alloc(2 + 1 + fullLabel.length + 1);
  info.writeUInt16BE(length, 0);
  info[2] = fullLabel.length;
  fullLabel.copy(info, 3);
  info[3 + fullLabel.length] = 0; // context length
  // HKDF-Expand (RFC 5869 2.3): one HMAC block, T(1) = HMAC(PRK, info | 0x01), is enough here.
  return createHmac('sha256', secret)
    .update(Buffer.concat([info, Buffer.from([1])]))
    .digest()
    .subarray(0, length);
}

/** The client's Initial key, IV and header-protection key for a Destination Connection ID (RFC 9001 5.2). */
export function clientInitialKeys(dcid: Buffer): InitialKeys {
  const initialSecret = createHmac('sha256', INITIAL_SALT_V1).update(dcid).digest(); // HKDF-Extract
  const clientSecret = hkdfExpandLabel(initialSecret, 'client in', 32);
  return {
    key: hkdfExpandLabel(clientSecret, 'quic key', 16),
    iv: hkdfExpandLabel(clientSecret, 'quic iv', 12),
    hp: hkdfExpandLabel(clientSecret, 'quic hp', 16),
  };
}

/** A QUIC variable-length integer (RFC 9000 16) at `at`; value -1 when it runs past `end`. */
function readVarint(buf: Buffer, at: number, end: number): { value: number; next: number } {
  if (at >= end) return { value: -1, next: at };
  const first = buf[at] as number;
  const length = 1 << (first >> 6);
  if (at + length > end) return { value: -1, next: at };
  let value = first & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + (buf[at + i] as number);
  // Values above 2^53 cannot be offsets or lengths of anything in one datagram.
  return { value: value > Number.MAX_SAFE_INTEGER ? -1 : value, next: at + length };
}

/** Whether `buf[start]` starts a QUIC long-header packet of version 1 whose type is Initial. */
export function isV1Initial(buf: Buffer, start: number, end: number): boolean {
  if (end - start < 7) return false;
  const first = buf[start] as number;
  // Long header form (0x80), fixed bit (0x40), packet type 0 (Initial in version 1).
  return (first & 0xf0) === 0xc0 && buf.readUInt32BE(start + 1) === QUIC_V1;
}

/** One decrypted client Initial packet. */
export interface OpenedInitial {
  dcid: Buffer;
  packetNumber: number;
  /** The decrypted frames. */
  payload: Buffer;
}

/** Why a packet could not be opened (constant strings). */
export type OpenFailure = 'not a version 1 Initial' | 'truncated' | 'malformed' | 'authentication failed';

/**
 * Opens the client Initial packet at `buf[start, end)` (a datagram may hold more packets after
 * it: `next` is where the next one starts). Keys are derived from the packet's own DCID unless
 * `given` (those of the client's first Initial: once the server answered, the client's Initials
 * carry the server's connection ID but keep the first keys, RFC 9001 5.2).
 */
export function openClientInitial(
  buf: Buffer,
  start: number,
  end: number,
  given?: InitialKeys,
): { packet: OpenedInitial; keys: InitialKeys; next: number } | { failure: OpenFailure } {
  if (!isV1Initial(buf, start, end)) return { failure: 'not a version 1 Initial' };
  let at = start + 5;
  const dcidLength = buf[at++] as number;
  if (dcidLength > MAX_CID) return { failure: 'malformed' };
  if (at + dcidLength + 1 > end) return { failure: 'truncated' };
  const dcid = Buffer.from(buf.subarray(at, at + dcidLength));
  at += dcidLength;
  const scidLength = buf[at++] as number;
  if (scidLength > MAX_CID) return { failure: 'malformed' };
  at += scidLength;
  const token = readVarint(buf, at, end);
  if (token.value < 0) return { failure: 'truncated' };
  at = token.next + token.value;
  const length = readVarint(buf, at, end);
  if (length.value < 0 || at > end) return { failure: 'truncated' };
  const pnOffset = length.next;
  const packetEnd = pnOffset + length.value;
  if (packetEnd > end) return { failure: 'truncated' };
  if (length.value < 4 + HP_SAMPLE || length.value < 1 + AEAD_TAG) return { failure: 'malformed' };
  const keys = given ?? clientInitialKeys(dcid);
  // Header protection (RFC 9001 5.4): the sample starts 4 bytes after the packet number's start.
  const sample = buf.subarray(pnOffset + 4, pnOffset + 4 + HP_SAMPLE);
  const ecb = createCipheriv('aes-128-ecb', keys.hp, null);
  const mask = ecb.update(sample);
  const header = Buffer.from(buf.subarray(start, pnOffset + 4));
  header[0] = (header[0] as number) ^ ((mask[0] as number) & 0x0f);
  const pnLength = ((header[0] as number) & 0x03) + 1;
  let packetNumber = 0;
  for (let i = 0; i < pnLength; i++) {
    const index = pnOffset - start + i;
    header[index] = (header[index] as number) ^ (mask[1 + i] as number);
    packetNumber = packetNumber * 256 + (header[index] as number);
  }
  const aad = header.subarray(0, pnOffset - start + pnLength);
  const nonce = Buffer.from(keys.iv);
  for (let i = 0; i < 8; i++) {
    // The packet number, left-padded to the IV's length, XORed into its last bytes.
    const byte = Math.floor(packetNumber / 256 ** i) % 256;
    nonce[nonce.length - 1 - i] = (nonce[nonce.length - 1 - i] as number) ^ byte;
  }
  const cipherStart = pnOffset + pnLength;
  const tagStart = packetEnd - AEAD_TAG;
  if (tagStart < cipherStart) return { failure: 'malformed' };
  try {
    const gcm = createDecipheriv('aes-128-gcm', keys.key, nonce);
    gcm.setAAD(aad);
    gcm.setAuthTag(buf.subarray(tagStart, packetEnd));
    const payload = Buffer.concat([gcm.update(buf.subarray(cipherStart, tagStart)), gcm.final()]);
    return { packet: { dcid, packetNumber, payload }, keys, next: packetEnd };
  } catch {
    return { failure: 'authentication failed' };
  }
}

/** A CRYPTO frame's data and where it belongs in the handshake stream. */
export interface CryptoFragment {
  offset: number;
  data: Buffer;
}

/**
 * The CRYPTO frames of a decrypted Initial payload (PADDING, PING and ACK are stepped over).
 * Null when a frame is malformed or of a type an Initial packet may not carry (RFC 9000 12.4).
 */
export function cryptoFrames(payload: Buffer): CryptoFragment[] | null {
  const fragments: CryptoFragment[] = [];
  const end = payload.length;
  let at = 0;
  while (at < end) {
    const type = payload[at] as number;
    if (type === 0x00 || type === 0x01) {
      at++; // PADDING, PING
      continue;
    }
    if (type === 0x02 || type === 0x03) {
      // ACK: largest, delay, range count, first range, ranges (gap, length), ECN counts (0x03).
      let field = readVarint(payload, at + 1, end);
      for (let i = 0; i < 2 && field.value >= 0; i++) field = readVarint(payload, field.next, end);
      const ranges = field.value;
      field = readVarint(payload, field.next, end);
      for (let i = 0; i < ranges * 2 && field.value >= 0; i++) field = readVarint(payload, field.next, end);
      for (let i = 0; type === 0x03 && i < 3 && field.value >= 0; i++)
        field = readVarint(payload, field.next, end);
      if (field.value < 0 || ranges < 0) return null;
      at = field.next;
      continue;
    }
    if (type === 0x06) {
      const offset = readVarint(payload, at + 1, end);
      const length = readVarint(payload, offset.next, end);
      if (offset.value < 0 || length.value < 0 || length.next + length.value > end) return null;
      fragments.push({
        offset: offset.value,
        data: payload.subarray(length.next, length.next + length.value),
      });
      at = length.next + length.value;
      continue;
    }
    if (type === 0x1c) return fragments; // CONNECTION_CLOSE: nothing after it matters
    return null;
  }
  return fragments;
}

export const InitialStatus = {
  /** More client Initials are needed for the whole ClientHello. */
  incomplete: 0,
  /** The datagram does not start with a version 1 Initial that opens: not (readable) QUIC. */
  notQuic: 1,
  /** The ClientHello is complete: `clientHello()` returns it. */
  complete: 2,
} as const;
export type InitialStatus = (typeof InitialStatus)[keyof typeof InitialStatus];

/**
 * Reassembles the ClientHello of one QUIC connection from the client's datagrams, in the order
 * they were captured. Memory is bounded by MAX_CLIENT_HELLO.
 */
export class ClientHelloAssembler {
  #keys: InitialKeys | null = null;
  readonly #fragments: CryptoFragment[] = [];
  #buffered = 0;
  #hello: Buffer | null = null;

  /** Feeds one client datagram `buf[start, end)`. */
  add(buf: Buffer, start: number, end: number): InitialStatus {
    if (this.#hello !== null) return InitialStatus.complete;
    let at = start;
    let opened = 0;
    while (at < end && isV1Initial(buf, at, end)) {
      let result = openClientInitial(buf, at, end, this.#keys ?? undefined);
      // After a Retry the client derives new keys from the DCID the Retry gave it.
      if ('failure' in result && result.failure === 'authentication failed' && this.#keys !== null)
        result = openClientInitial(buf, at, end);
      if ('failure' in result) break;
      this.#keys = result.keys;
      opened++;
      at = result.next;
      const frames = cryptoFrames(result.packet.payload);
      if (frames === null) break;
      for (const fragment of frames) {
        if (fragment.data.length === 0 || fragment.offset >= MAX_CLIENT_HELLO) continue;
        this.#buffered += fragment.data.length;
        if (this.#buffered > MAX_CLIENT_HELLO * 2) return InitialStatus.notQuic;
        this.#fragments.push({ offset: fragment.offset, data: Buffer.from(fragment.data) });
      }
    }
    if (opened === 0 && this.#fragments.length === 0) return InitialStatus.notQuic;
    return this.#assemble() ? InitialStatus.complete : InitialStatus.incomplete;
  }

  /** The ClientHello handshake message (type, 3-byte length, body) once complete. */
  clientHello(): Buffer | null {
    return this.#hello;
  }

  /** Whether the fragments cover the handshake message from offset 0 to its end. */
  #assemble(): boolean {
    this.#fragments.sort((a, b) => a.offset - b.offset);
    let contiguous = 0;
    for (const fragment of this.#fragments) {
      if (fragment.offset > contiguous) break;
      contiguous = Math.max(contiguous, fragment.offset + fragment.data.length);
    }
    if (contiguous < 4) return false;
    const stream = Buffer.alloc(Math.min(contiguous, MAX_CLIENT_HELLO + 4));
    for (const fragment of this.#fragments) {
      if (fragment.offset >= stream.length) break;
      fragment.data.copy(
        stream,
        fragment.offset,
        0,
        Math.min(fragment.data.length, stream.length - fragment.offset),
      );
    }
    if (stream[0] !== HANDSHAKE_CLIENT_HELLO) {
      this.#hello = Buffer.alloc(0); // not a ClientHello: done, with nothing to read
      return true;
    }
    const total = 4 + stream.readUIntBE(1, 3);
    if (total > MAX_CLIENT_HELLO + 4) {
      this.#hello = Buffer.alloc(0);
      return true;
    }
    if (stream.length < total) return false;
    this.#hello = stream.subarray(0, total);
    this.#fragments.length = 0;
    return true;
  }
}
