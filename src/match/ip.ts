// IPv4 / IPv6 addresses and CIDR prefixes as byte arrays, parsed strictly. Pure, no I/O.

export interface IpAddress {
  version: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

export interface IpPrefix extends IpAddress {
  length: number;
}

/** Strict dotted-quad IPv4 (no leading zeros, no shorthand); `undefined` otherwise. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const word = ipv4Word(text);
  if (word < 0) return undefined;
  const bytes = new Uint8Array(4);
  writeIPv4(word, bytes);
  return bytes;
}

/** The 4 bytes of `bytes` from `at` as an unsigned 32-bit word (network order). */
export function wordAt(bytes: Uint8Array, at: number): number {
  return (
    (((bytes[at] as number) << 24) |
      ((bytes[at + 1] as number) << 16) |
      ((bytes[at + 2] as number) << 8) |
      (bytes[at + 3] as number)) >>>
    0
  );
}

/** The bytes of an IPv4 address given as a 32-bit word, written into `bytes` (network order). */
export function writeIPv4(word: number, bytes: Uint8Array): void {
  bytes[0] = word >>> 24;
  bytes[1] = (word >>> 16) & 0xff;
  bytes[2] = (word >>> 8) & 0xff;
  bytes[3] = word & 0xff;
}

/**
 * The address of a strict dotted-quad IPv4 text as a 32-bit unsigned word, or -1: what parseIPv4
 * reads, without allocating, for callers that do not keep the bytes.
 */
export function ipv4Word(text: string): number {
  return ipv4WordAt(text, 0, text.length);
}

/** ipv4Word of `text[start..end)`, read in place. */
function ipv4WordAt(text: string, start: number, end: number): number {
  // Most texts asked about are names: reject them on the first character.
  const first = text.charCodeAt(start);
  if (!(first >= 0x30 && first <= 0x39) || end - start > 15) return -1;
  let word = 0;
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const code = i < end ? text.charCodeAt(i) : 0x2e;
    if (code === 0x2e) {
      if (digits === 0 || part > 3) return -1;
      word = word * 256 + value;
      part++;
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return -1; // leading zero: ambiguous octal form
      value = value * 10 + (code - 0x30);
      if (value > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  return part === 4 ? word : -1;
}

/** Value of a hex digit, -1 for any other character. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  return -1;
}

/** IPv6 text form (RFC 4291, with `::` and a trailing dotted quad); no zone id, no brackets. */
export function parseIPv6(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(16);
  return readIPv6(text, 0, text.length, bytes) ? bytes : undefined;
}

/**
 * parseIPv6 of `text[start..end)`, written into `bytes` (16 of them; all are written when the
 * text is an address). Reads the text in place: no slice, no allocation, so hot paths can parse
 * into a scratch array and copy only what they keep.
 */
export function readIPv6(text: string, start: number, end: number, bytes: Uint8Array): boolean {
  // One pass, groups written straight into the result; `::` is expanded at the end by moving
  // the groups that follow it to the tail.
  const length = end - start;
  if (length < 2 || length > 45) return false;
  let count = 0; // groups written
  let gap = -1; // group index where `::` stands
  let i = start;
  if (text.charCodeAt(i) === 0x3a) {
    if (text.charCodeAt(i + 1) !== 0x3a) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    const groupStart = i;
    let value = 0;
    let digit = hexDigit(text.charCodeAt(i));
    while (digit >= 0 && i - groupStart < 5) {
      value = value * 16 + digit;
      i++;
      digit = i < end ? hexDigit(text.charCodeAt(i)) : -1;
    }
    if (i < end && text.charCodeAt(i) === 0x2e) {
      // A dotted quad is allowed only as the last two groups.
      const word = count > 6 ? -1 : ipv4WordAt(text, groupStart, end);
      if (word < 0) return false;
      bytes[count * 2] = word >>> 24;
      bytes[count * 2 + 1] = (word >>> 16) & 0xff;
      bytes[count * 2 + 2] = (word >>> 8) & 0xff;
      bytes[count * 2 + 3] = word & 0xff;
      count += 2;
      break;
    }
    if (i === groupStart || i - groupStart > 4 || count === 8) return false;
    bytes[count * 2] = value >> 8;
    bytes[count * 2 + 1] = value & 0xff;
    count++;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false; // a single trailing colon
    }
  }
  if (gap < 0) return count === 8;
  if (count > 7) return false; // `::` must stand for at least one group
  const moved = (count - gap) * 2;
  bytes.copyWithin(16 - moved, gap * 2, count * 2);
  bytes.fill(0, gap * 2, 16 - moved);
  return true;
}

export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const bytes = parseIPv6(text);
    return bytes ? { version: 6, bytes } : undefined;
  }
  const bytes = parseIPv4(text);
  return bytes ? { version: 4, bytes } : undefined;
}

/** `::ffff:a.b.c.d` (IPv4-mapped) as the IPv4 address it stands for; other addresses unchanged. */
export function unmapIPv4(address: IpAddress): IpAddress {
  if (address.version !== 6 || !isIPv4Mapped(address.bytes)) return address;
  return { version: 4, bytes: address.bytes.slice(12) };
}

/** True when 16 address bytes are `::ffff:a.b.c.d` (an IPv4-mapped IPv6 address). */
export function isIPv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Parses `addr/len` (or a bare address as a host prefix); host bits must be zero. */
export function parsePrefix(text: string): IpPrefix | string {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIp(addressText);
  if (!address) return `"${addressText}" is not an IPv4 or IPv6 address`;
  const max = address.version === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) {
      return `prefix length "${lengthText}" is not between 0 and ${max}`;
    }
    length = Number(lengthText);
  }
  if (hasHostBits(address.bytes, length)) {
    return `"${text}" has host bits set (did you mean ${formatPrefix({ ...address, length })}?)`;
  }
  return { version: address.version, bytes: address.bytes, length };
}

/**
 * True when any bit after the first `length` is set. Byte by byte: the policy parses a catalog's
 * hundreds of prefixes on its first address, mostly before the JIT has compiled this (a loop per
 * bit took most of the 60-90 ms that first address cost).
 */
function hasHostBits(bytes: Uint8Array, length: number): boolean {
  const whole = length >> 3;
  if (length & 7 && ((bytes[whole] as number) & (0xff >> (length & 7))) !== 0) return true;
  for (let i = whole + (length & 7 ? 1 : 0); i < bytes.length; i++) if (bytes[i] !== 0) return true;
  return false;
}

export function formatIp(address: IpAddress): string {
  const b = address.bytes;
  if (address.version === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  // RFC 5952: compress the longest run of two or more zero groups (the first of equal runs).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if ((b[i * 2] as number) !== 0 || (b[i * 2 + 1] as number) !== 0) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < 8 && (b[j * 2] as number) === 0 && (b[j * 2 + 1] as number) === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLength - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLength) text += ':';
    text += hexGroup(b[i * 2] as number, b[i * 2 + 1] as number);
  }
  return text;
}

/** Lower-case hex of 0-255 without leading zeros, and with two digits: built once. */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, value) => value.toString(16));
const HEX2: readonly string[] = HEX.map((digits) => digits.padStart(2, '0'));

/** One group as RFC 5952 writes it (lower case, no leading zeros), from its two bytes. */
function hexGroup(high: number, low: number): string {
  return high === 0 ? (HEX[low] as string) : (HEX[high] as string) + (HEX2[low] as string);
}

export function formatPrefix(prefix: IpPrefix): string {
  const masked = new Uint8Array(prefix.bytes);
  const whole = prefix.length >> 3;
  if (prefix.length & 7) masked[whole] = (masked[whole] as number) & (0xff00 >> (prefix.length & 7));
  masked.fill(0, whole + (prefix.length & 7 ? 1 : 0));
  return `${formatIp({ version: prefix.version, bytes: masked })}/${prefix.length}`;
}

export function prefixContains(prefix: IpPrefix, address: IpAddress): boolean {
  if (prefix.version !== address.version) return false;
  for (let bit = 0; bit < prefix.length; bit++) {
    const mask = 1 << (7 - (bit & 7));
    if (((prefix.bytes[bit >> 3] as number) & mask) !== ((address.bytes[bit >> 3] as number) & mask)) {
      return false;
    }
  }
  return true;
}

/**
 * Prefixes as plain numbers, for the compiled built-in catalog: per prefix a head (its length, plus
 * 256 for IPv6), then its 1 or 4 address words (32 bits each, most significant first).
 */
export function encodePrefixes(prefixes: readonly IpPrefix[]): number[] {
  const out: number[] = [];
  for (const prefix of prefixes) {
    out.push(prefix.version === 4 ? prefix.length : 256 + prefix.length);
    const b = prefix.bytes;
    for (let i = 0; i < b.length; i += 4) out.push(wordAt(b, i));
  }
  return out;
}

/** The prefixes of encodePrefixes' numbers, or `undefined` when they are not `count` well-formed ones. */
function decodePrefixes(encoded: readonly number[], count: number): IpPrefix[] | undefined {
  const out: IpPrefix[] = [];
  let at = 0;
  while (at < encoded.length) {
    const head = encoded[at++] as number;
    const version = head >= 256 ? 6 : 4;
    const length = head & 0xff;
    const words = version === 4 ? 1 : 4;
    if (length > words * 32 || at + words > encoded.length) return undefined;
    const bytes = new Uint8Array(words * 4);
    for (let i = 0; i < bytes.length; i += 4) {
      const word = encoded[at++] as number;
      bytes[i] = word >>> 24;
      bytes[i + 1] = (word >>> 16) & 0xff;
      bytes[i + 2] = (word >>> 8) & 0xff;
      bytes[i + 3] = word & 0xff;
    }
    out.push({ version, bytes, length });
  }
  return out.length === count ? out : undefined;
}

/** Pre-parsed prefix lists by their catalog array (see rememberParsedPrefixes). */
const parsedByTexts = new WeakMap<readonly string[], readonly number[]>();

/**
 * Records the encoded form of a list of prefix texts that are known valid and canonical (the
 * compiled built-in catalog's, validated at build time), so that the policy does not parse them.
 */
export function rememberParsedPrefixes(texts: readonly string[], encoded: readonly number[]): void {
  parsedByTexts.set(texts, encoded);
}

/**
 * The prefixes of `texts` when rememberParsedPrefixes recorded them, each equal to
 * `parsePrefix(text)` and formatting back to its text; `undefined` otherwise.
 */
export function rememberedPrefixes(texts: readonly string[]): IpPrefix[] | undefined {
  const encoded = parsedByTexts.get(texts);
  return encoded === undefined ? undefined : decodePrefixes(encoded, texts.length);
}
