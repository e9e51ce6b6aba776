// Field mapping shared by every ingest format: numbers, timestamps, addresses, host:port and URLs
// turned into FlowRecord values. Hot-path helpers work on (string, start, end) ranges so parsers can
// read a field without slicing it first; all return NaN / undefined instead of throwing.
import { parseIp } from '../match/ip.js';

/**
 * Non-negative decimal integer in `text[start, end)`; NaN when empty, not all digits, or beyond
 * Number.MAX_SAFE_INTEGER.
 */
export function parseUint(text: string, start = 0, end = text.length): number {
  if (end <= start || end - start > 16) return Number.NaN;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value <= Number.MAX_SAFE_INTEGER ? value : Number.NaN;
}

/** TCP/UDP port 0-65535 in `text[start, end)`; NaN otherwise. */
export function parsePort(text: string, start = 0, end = text.length): number {
  const port = parseUint(text, start, end);
  return port <= 65535 ? port : Number.NaN;
}

/**
 * Non-negative decimal `123.456789` in `text[start, end)` as an integer scaled by 10^`scale`
 * (scale 3: seconds -> milliseconds, 6: seconds -> microseconds). Extra fraction digits are
 * truncated, so `1157689312.0499` is 1157689312049 ms, never rounded up into the next millisecond.
 * NaN when malformed.
 */
export function parseScaledDecimal(text: string, scale: number, start = 0, end = text.length): number {
  if (end <= start) return Number.NaN;
  let value = 0;
  let fractionDigits = -1; // -1: no dot seen yet
  let digits = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2e) {
      if (fractionDigits >= 0) return Number.NaN;
      fractionDigits = 0;
      continue;
    }
    const digit = code - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    if (fractionDigits >= 0) {
      if (fractionDigits === scale) continue; // truncate
      fractionDigits++;
    }
    value = value * 10 + digit;
    digits++;
  }
  if (digits === 0) return Number.NaN;
  for (let f = Math.max(fractionDigits, 0); f < scale; f++) value *= 10;
  return value <= Number.MAX_SAFE_INTEGER ? value : Number.NaN;
}

/** Epoch seconds with an optional fraction (`1157689312.049`) as epoch milliseconds; NaN if malformed. */
export function parseEpochSeconds(text: string, start = 0, end = text.length): number {
  return parseScaledDecimal(text, 3, start, end);
}

/** A JSON number or numeric string as a finite number; undefined otherwise. */
export function toFiniteNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const number = Number(value);
    return Number.isFinite(number) ? number : undefined;
  }
  return undefined;
}

/** A JSON value that must be a non-negative integer (number or digit string); undefined otherwise. */
export function toCount(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value === 'string') {
    const number = parseUint(value);
    return Number.isNaN(number) ? undefined : number;
  }
  return undefined;
}

/** A JSON port value (number or digit string); undefined unless 0-65535. */
export function toPort(value: unknown): number | undefined {
  const port = toCount(value);
  return port !== undefined && port <= 65535 ? port : undefined;
}

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * ISO 8601 / RFC 3339 date-time as epoch milliseconds (fraction truncated to ms). A time without a
 * zone is taken as UTC, unlike `Date.parse`, which would use the machine's local zone.
 * NaN when malformed or out of range.
 */
export function parseIsoTime(text: string): number {
  const match = ISO_TIME.exec(text);
  if (!match) return Number.NaN;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if (hour > 23 || minute > 59 || second > 60) return Number.NaN;
  const millis = fraction === '' ? 0 : Number(`${fraction}00`.slice(0, 3));
  let time = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMinutes = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (offsetHours > 23 || offsetMinutes > 59) return Number.NaN;
    time -= sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  return time;
}

const US_TIME = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),? +(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? *([AP]M)$/i;

/**
 * `12/3/2025, 7:42:15.010 PM` (month/day/year, 12-hour clock: the en-US form in which the Azure
 * portal exports Log Analytics results) as epoch milliseconds, taken as UTC. NaN when malformed.
 */
export function parseUsTime(text: string): number {
  const match = US_TIME.exec(text);
  if (!match) return Number.NaN;
  const [, mo, d, y, h, mi, s, fraction = '', half] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  let hour = Number(h);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if (hour < 1 || hour > 12 || Number(mi) > 59 || Number(s) > 60) return Number.NaN;
  if (hour === 12) hour = 0;
  if (half?.toUpperCase() === 'PM') hour += 12;
  const millis = fraction === '' ? 0 : Number(`${fraction}00`.slice(0, 3));
  return Date.UTC(year, month - 1, day, hour, Number(mi), Number(s), millis);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** A time field of a JSON log: epoch seconds (number, possibly fractional) or an ISO 8601 string. */
export function parseJsonTime(value: unknown): number {
  if (typeof value === 'number') {
    // Through integer microseconds: 1.001 * 1000 is 1000.9999999999999 in floating point.
    return Number.isFinite(value) && value >= 0 ? Math.floor(Math.round(value * 1e6) / 1000) : Number.NaN;
  }
  if (typeof value === 'string') {
    const code = value.charCodeAt(4);
    return code === 0x2d ? parseIsoTime(value) : parseEpochSeconds(value);
  }
  return Number.NaN;
}

export const monthIndex: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/**
 * A syslog (RFC 3164) timestamp `Mar  9 23:59:59`, which has no year and no zone: UTC, in the year
 * that puts it at most one day in the future of `now` (so December lines read in January land in
 * the previous year), the usual rule of syslog collectors. NaN when malformed.
 */
export function parseSyslogTime(month: string, day: string, clock: string, now = Date.now()): number {
  const monthNumber = monthIndex[month];
  const dayNumber = parseUint(day);
  if (monthNumber === undefined || !(dayNumber >= 1 && dayNumber <= 31)) return Number.NaN;
  const seconds = parseClock(clock);
  if (Number.isNaN(seconds)) return Number.NaN;
  let year = new Date(now).getUTCFullYear();
  let time = Date.UTC(year, monthNumber, dayNumber) + seconds;
  if (time > now + 86_400_000) {
    year--;
    time = Date.UTC(year, monthNumber, dayNumber) + seconds;
  }
  return new Date(time).getUTCDate() === dayNumber ? time : Number.NaN;
}

/** `HH:MM:SS[.fff]` as milliseconds since midnight; NaN when malformed. */
export function parseClock(clock: string): number {
  if (clock.length < 8 || clock.charCodeAt(2) !== 0x3a || clock.charCodeAt(5) !== 0x3a) return Number.NaN;
  const hours = parseUint(clock, 0, 2);
  const minutes = parseUint(clock, 3, 5);
  const millis = parseScaledDecimal(clock, 3, 6);
  if (!(hours <= 23 && minutes <= 59 && millis < 61_000)) return Number.NaN;
  return (hours * 60 + minutes) * 60_000 + millis;
}

/**
 * True when `text[start, end)` is a strict dotted-quad IPv4 address (as parseIPv4: no leading
 * zeros); no string is made, so parsers can check a field before slicing it.
 */
export function isIPv4At(text: string, start: number, end: number): boolean {
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const code = i < end ? text.charCodeAt(i) : 0x2e;
    if (code === 0x2e) {
      if (digits === 0 || parts === 4) return false;
      parts++;
      value = 0;
      digits = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return false;
      value = value * 10 + (code - 0x30);
      if (value > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  return parts === 4;
}

// Byte-level twins of the parsers above, for the hot paths that read an ASCII chunk's bytes
// directly (typed-array reads cost about half of string charCodeAt reads).

/** parseUint over `b[start, end)`. */
export function parseUintBytes(b: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 16) return Number.NaN;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = (b[i] as number) - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value <= Number.MAX_SAFE_INTEGER ? value : Number.NaN;
}

/** parseScaledDecimal over `b[start, end)`. */
export function parseScaledDecimalBytes(b: Uint8Array, scale: number, start: number, end: number): number {
  if (end <= start) return Number.NaN;
  let value = 0;
  let fractionDigits = -1;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const code = b[i] as number;
    if (code === 0x2e) {
      if (fractionDigits >= 0) return Number.NaN;
      fractionDigits = 0;
      continue;
    }
    const digit = code - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    if (fractionDigits >= 0) {
      if (fractionDigits === scale) continue;
      fractionDigits++;
    }
    value = value * 10 + digit;
    digits++;
  }
  if (digits === 0) return Number.NaN;
  for (let f = Math.max(fractionDigits, 0); f < scale; f++) value *= 10;
  return value <= Number.MAX_SAFE_INTEGER ? value : Number.NaN;
}

/** isIPv4At over `b[start, end)`. */
export function isIPv4Bytes(b: Uint8Array, start: number, end: number): boolean {
  return ipv4Value(b, start, end) >= 0;
}

/** The value of a dotted-quad IPv4 address in `b[start, end)` (no leading zeros), or -1. */
export function ipv4Value(b: Uint8Array, start: number, end: number): number {
  const word = ipv4Int32(b, start, end);
  return Number.isNaN(word) ? -1 : word >>> 0;
}

/**
 * ipv4Value as a signed 32-bit integer (the address's bits), or NaN when `b[start, end)` is not a
 * dotted quad. For callers that do not inline it: an int32 comes back as a small integer, where
 * an address above 2^31 as a plain number is boxed, one heap number per call (a Zeek conn line's
 * responder: docs/performance.md, "Audit on one core, session 7"). The audit's WebAssembly scanner
 * has the same function (src/audit/wasm/scan.ts, ipv4): change both.
 */
export function ipv4Int32(b: Uint8Array, start: number, end: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return Number.NaN;
      value = (value << 8) | part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      const digit = c - 0x30;
      // A digit, and not one after a leading 0.
      if (digit < 0 || digit > 9 || (digits > 0 && part === 0)) return Number.NaN;
      part = part * 10 + digit;
      if (part > 255) return Number.NaN;
      digits++;
    }
  }
  return digits === 0 || dots !== 3 ? Number.NaN : (value << 8) | part;
}

/**
 * An IPv4 or IPv6 address as the record should carry it: brackets and an IPv6 zone (`%eth0`)
 * removed, otherwise as written. `undefined` when it is not an address.
 */
export function normalizeAddress(text: string): string | undefined {
  let address = text;
  if (address.charCodeAt(0) === 0x5b /* [ */ && address.charCodeAt(address.length - 1) === 0x5d) {
    address = address.slice(1, -1);
  }
  const zone = address.indexOf('%');
  if (zone > 0 && address.includes(':')) address = address.slice(0, zone);
  return parseIp(address) ? address : undefined;
}

/** `0.0.0.0` and `::`: the sinkhole answers of blocking resolvers, never a real destination. */
export function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

export interface HostPort {
  /** Host name or address, brackets removed from an IPv6 literal. */
  host: string;
  /** Port, or null when the text has none. */
  port: number | null;
}

/**
 * Splits `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 address or a bare host. Undefined when the
 * host part is empty, a bracket is unbalanced or the port is not 0-65535.
 */
export function splitHostPort(text: string): HostPort | undefined {
  if (text.length === 0) return undefined;
  if (text.charCodeAt(0) === 0x5b) {
    const close = text.indexOf(']');
    if (close < 2) return undefined;
    const host = text.slice(1, close);
    if (close === text.length - 1) return { host, port: null };
    if (text.charCodeAt(close + 1) !== 0x3a) return undefined;
    const port = parsePort(text, close + 2);
    return Number.isNaN(port) ? undefined : { host, port };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { host: text, port: null };
  if (text.indexOf(':') !== colon) return { host: text, port: null }; // bare IPv6
  if (colon === 0) return undefined;
  const port = parsePort(text, colon + 1);
  return Number.isNaN(port) ? undefined : { host: text.slice(0, colon), port };
}

/** Default ports of URL schemes seen in proxy and browser logs. */
export const defaultPorts: Readonly<Record<string, number>> = {
  http: 80,
  https: 443,
  ws: 80,
  wss: 443,
  ftp: 21,
};

export interface UrlParts {
  /** Lower-case scheme without `:`. */
  scheme: string;
  /** Lower-case host, brackets removed from an IPv6 literal. */
  host: string;
  /** Explicit port, else the scheme's default, else null. */
  port: number | null;
}

/**
 * Scheme, host and port of an absolute URL (`scheme://[user@]host[:port][/...]`) without the cost
 * of `new URL()`: proxy logs hold millions of them, so the authority is read in one pass and
 * `http` / `https` need no scheme copy. Undefined when it is not absolute or has no host.
 */
export function parseAbsoluteUrl(url: string): UrlParts | undefined {
  let scheme: string;
  let authorityStart: number;
  if (url.startsWith('http://')) {
    scheme = 'http';
    authorityStart = 7;
  } else if (url.startsWith('https://')) {
    scheme = 'https';
    authorityStart = 8;
  } else {
    const sep = url.indexOf('://');
    if (sep <= 0 || sep > 16) return undefined;
    scheme = lowerAscii(url.slice(0, sep));
    authorityStart = sep + 3;
  }
  // One pass over the authority: where it ends, the last `@` and `:`, a `[`, upper-case letters.
  let end = url.length;
  let at = -1;
  let colon = -1;
  let bracket = false;
  let upper = false;
  for (let i = authorityStart; i < url.length; i++) {
    const code = url.charCodeAt(i);
    if (code === 0x2f /* / */ || code === 0x3f /* ? */ || code === 0x23 /* # */) {
      end = i;
      break;
    }
    if (code === 0x3a) colon = i;
    else if (code === 0x5c /* \\ */) {
      // Browsers end the authority here, other parsers do not: an ambiguous host is no host.
      return undefined;
    } else if (code === 0x40) {
      at = i;
      colon = -1;
      upper = false;
      bracket = false;
    } else if (code === 0x5b) bracket = true;
    else if (code >= 0x41 && code <= 0x5a) upper = true;
  }
  const hostStart = at < 0 ? authorityStart : at + 1;
  let host: string;
  let port: number | null;
  if (bracket || (colon >= 0 && url.lastIndexOf(':', colon - 1) >= hostStart)) {
    // IPv6 literal (or malformed): the careful path.
    const hostPort = splitHostPort(url.slice(hostStart, end));
    if (!hostPort) return undefined;
    host = hostPort.host;
    port = hostPort.port;
  } else if (colon >= 0) {
    host = url.slice(hostStart, colon);
    port = colon + 1 === end ? null : parsePort(url, colon + 1, end);
    if (Number.isNaN(port)) return undefined;
  } else {
    host = url.slice(hostStart, end);
    port = null;
  }
  if (host.length === 0) return undefined;
  return {
    scheme,
    host: upper ? host.toLowerCase() : host,
    port: port ?? defaultPorts[scheme] ?? null,
  };
}

/** Lower-cases ASCII letters only when there are any (no new string for already lower-case text). */
export function lowerAscii(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x41 && code <= 0x5a) return text.toLowerCase();
  }
  return text;
}

/** IANA protocol numbers as the names flow records use. */
export function protocolName(number: number): string {
  switch (number) {
    case 1:
      return 'icmp';
    case 6:
      return 'tcp';
    case 17:
      return 'udp';
    case 58:
      return 'icmpv6';
    case 47:
      return 'gre';
    case 50:
      return 'esp';
    default:
      return String(number);
  }
}

/**
 * `10/Oct/2000:13:55:36 -0700` as epoch milliseconds; NaN when malformed. A fraction of a second
 * after the seconds (`13:55:36.010`, as frontier-squid and `%tl` formats with `%03u`-style
 * milliseconds write it) is read and truncated to milliseconds.
 */
export function parseClfTime(text: string): number {
  let millis = 0;
  let clock = text;
  if (text.charCodeAt(20) === 0x2e /* . */) {
    const space = text.indexOf(' ', 21);
    if (space < 22 || space > 30) return Number.NaN;
    const fraction = parseUint(text, 21, space);
    if (Number.isNaN(fraction)) return Number.NaN;
    const digits = space - 21;
    millis = digits <= 3 ? fraction * 10 ** (3 - digits) : Math.floor(fraction / 10 ** (digits - 3));
    clock = text.slice(0, 20) + text.slice(space);
  }
  if (clock.length !== 26 || clock.charCodeAt(2) !== 0x2f || clock.charCodeAt(6) !== 0x2f) return Number.NaN;
  const day = parseUint(clock, 0, 2);
  const month = monthIndex[clock.slice(3, 6)];
  const year = parseUint(clock, 7, 11);
  const hour = parseUint(clock, 12, 14);
  const minute = parseUint(clock, 15, 17);
  const second = parseUint(clock, 18, 20);
  const sign = clock[21] === '-' ? -1 : clock[21] === '+' ? 1 : 0;
  const offsetHours = parseUint(clock, 22, 24);
  const offsetMinutes = parseUint(clock, 24, 26);
  if (
    month === undefined ||
    sign === 0 ||
    !(day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60)
  )
    return Number.NaN;
  if (!(offsetHours <= 23 && offsetMinutes <= 59)) return Number.NaN;
  const local = Date.UTC(year, month, day, hour, minute, second, millis);
  return local - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
}
