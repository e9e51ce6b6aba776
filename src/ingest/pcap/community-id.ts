// Community ID v1 flow hashes (https://github.com/corelight/community-id-spec), the connection
// id Zeek, Suricata and Wireshark can log too, so a pcap flow can be joined to their records.
// The SHA-1 of the (at most 42-byte, one-block) input is computed here: a call into node:crypto
// costs more than the hash itself, and this runs once per connection.

/** Hash input, reused: seed, two addresses, protocol, padding, two ports; then SHA-1 padding. */
const BLOCK = new Uint8Array(64);
const WORDS = new Int32Array(80);
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * `1:<base64 sha1>` of seed, both addresses, protocol, padding and both ports, with the endpoint
 * pair ordered so both directions give the same id. Addresses are 4 or 16 bytes at the offsets.
 */
export function communityId(
  buf: Buffer,
  srcOffset: number,
  dstOffset: number,
  addressLength: number,
  protocol: number,
  srcPort: number,
  dstPort: number,
  seed = 0,
): string {
  const order = buf.compare(buf, dstOffset, dstOffset + addressLength, srcOffset, srcOffset + addressLength);
  const srcFirst = order < 0 || (order === 0 && srcPort <= dstPort);
  const first = srcFirst ? srcOffset : dstOffset;
  const second = srcFirst ? dstOffset : srcOffset;
  const firstPort = srcFirst ? srcPort : dstPort;
  const secondPort = srcFirst ? dstPort : srcPort;
  const block = BLOCK;
  block.fill(0);
  block[0] = seed >> 8;
  block[1] = seed & 0xff;
  let at = 2;
  for (let i = 0; i < addressLength; i++) block[at++] = buf[first + i] as number;
  for (let i = 0; i < addressLength; i++) block[at++] = buf[second + i] as number;
  block[at++] = protocol;
  block[at++] = 0;
  block[at++] = firstPort >> 8;
  block[at++] = firstPort & 0xff;
  block[at++] = secondPort >> 8;
  block[at++] = secondPort & 0xff;
  return sha1Id(at);
}

/** `1:` and the base64 SHA-1 (FIPS 180-4) of the first `length` (< 56) bytes of BLOCK. */
function sha1Id(length: number): string {
  const block = BLOCK;
  block[length] = 0x80;
  const bits = length * 8;
  block[62] = bits >> 8;
  block[63] = bits & 0xff;
  const w = WORDS;
  for (let i = 0; i < 16; i++) {
    w[i] =
      ((block[i * 4] as number) << 24) |
      ((block[i * 4 + 1] as number) << 16) |
      ((block[i * 4 + 2] as number) << 8) |
      (block[i * 4 + 3] as number);
  }
  for (let i = 16; i < 80; i++) {
    const x = (w[i - 3] as number) ^ (w[i - 8] as number) ^ (w[i - 14] as number) ^ (w[i - 16] as number);
    w[i] = (x << 1) | (x >>> 31);
  }
  let a = 0x67452301;
  let b = 0xefcdab89 | 0;
  let c = 0x98badcfe | 0;
  let d = 0x10325476;
  let e = 0xc3d2e1f0 | 0;
  for (let i = 0; i < 80; i++) {
    let f: number;
    let k: number;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc | 0;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6 | 0;
    }
    const t = (((a << 5) | (a >>> 27)) + f + e + k + (w[i] as number)) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = t;
  }
  return base64Words(
    (a + 0x67452301) | 0,
    (b + (0xefcdab89 | 0)) | 0,
    (c + (0x98badcfe | 0)) | 0,
    (d + 0x10325476) | 0,
    (e + (0xc3d2e1f0 | 0)) | 0,
  );
}

/** Character codes of the id being built: `1:`, 27 base64 characters, `=`. */
const ID_CODES: number[] = new Array<number>(30).fill(0);

/**
 * `1:` and the base64 of five 32-bit words (20 bytes -> 27 characters and one `=`), built as one
 * flat string: appending character by character would leave a chain of cons-strings behind.
 */
function base64Words(h0: number, h1: number, h2: number, h3: number, h4: number): string {
  const codes = ID_CODES;
  codes[0] = 0x31; // 1
  codes[1] = 0x3a; // :
  let at = 2;
  let carry = 0;
  let carried = 0;
  for (const word of [h0, h1, h2, h3, h4]) {
    for (let shift = 24; shift >= 0; shift -= 8) {
      carry = (carry << 8) | ((word >>> shift) & 0xff);
      carried += 8;
      while (carried >= 6) {
        carried -= 6;
        codes[at++] = BASE64.charCodeAt((carry >>> carried) & 0x3f);
      }
      carry &= (1 << carried) - 1;
    }
  }
  // 160 bits = 26 characters of 6 bits + 4 bits left: one more character, then one `=`.
  codes[at++] = BASE64.charCodeAt((carry << (6 - carried)) & 0x3f);
  codes[at] = 0x3d;
  return String.fromCharCode(...codes);
}
