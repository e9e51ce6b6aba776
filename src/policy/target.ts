// Turns what a user or a log gives us (URL, host, host:port, IP literal, numeric host forms)
// into one canonical target. Names take the fast path; anything unusual goes through the WHATWG
// URL host parser so that `127.1`, `0x7f.1` and `[::ffff:127.0.0.1]` mean what browsers mean.
import { canonicalHostName, canonicalPlainName } from '../match/host.js';
import { formatIp, type IpAddress, isIPv4Mapped, parseIPv4, readIPv6 } from '../match/ip.js';

export interface Target {
  /** The text as given. */
  input: string;
  /** Canonical host: a lower-case ASCII name, or the IP address in its canonical text form. */
  host: string;
  /** Set when the host is an IP address (IPv4-mapped IPv6 is given as the IPv4 address). */
  address: IpAddress | undefined;
  /** Port when the input carries one (or its URL scheme implies one). */
  port: number | undefined;
}

const defaultPorts: Record<string, number> = {
  'http:': 80,
  'https:': 443,
  'ws:': 80,
  'wss:': 443,
  'ftp:': 21,
};

/**
 * Why a target with a backslash is refused. Browsers read `\` as `/` in http(s) URLs, other URL
 * parsers keep it inside the host or user part: the same text names different hosts, so
 * pathwarden decides none of them (docs/model.md, "Targets").
 */
export function backslashProblem(input: string): string {
  return `"${input}" contains a backslash: browsers read "\\" as "/" and other parsers do not, so the host is ambiguous; write the URL with "/"`;
}

/** Parses a target; returns a sentence naming the problem when it is not one. */
export function parseTarget(input: string): Target | string {
  // Most targets are plain names: one pass decides that and canonicalizes them.
  const name = canonicalPlainName(input);
  if (name !== undefined) return { input, host: name, address: undefined, port: undefined };
  return parseTargetGeneral(input);
}

/**
 * parseTarget without its plain-name shortcut: every text through the general path. The two
 * must agree on every text; tests compare them.
 */
export function parseTargetGeneral(input: string): Target | string {
  const text = input.trim();
  if (text.length === 0) return 'empty target';
  if (text.includes('\\')) return backslashProblem(input);
  // Native indexOf scans are far cheaper than a charCodeAt loop, and names (the common case)
  // have neither a slash nor a colon.
  const slash = text.indexOf('/') >= 0;
  const firstColon = text.indexOf(':');
  const colons = firstColon < 0 ? 0 : text.indexOf(':', firstColon + 1) < 0 ? 1 : 2; // 2: two or more
  const bracketed = text.charCodeAt(0) === 0x5b;
  if (slash && (!bracketed || text.includes('://'))) {
    return parseUrlTarget(input, text.includes('://') ? text : `https://${text}`);
  }
  if (bracketed) {
    const close = text.indexOf(']');
    if (close < 0) return `"${input}" has "[" without "]"`;
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return `"${input}" has text after "]" that is not a port`;
    const port = rest === '' ? undefined : parsePort(rest.slice(1));
    if (port === null) return `"${input}" has an invalid port`;
    return ipv6Target(input, text, 1, close, port);
  }
  if (colons >= 2) return ipv6Target(input, text, 0, text.length, undefined);
  let host = text;
  let port: number | undefined;
  if (colons === 1) {
    const parsed = parsePort(text.slice(firstColon + 1));
    if (parsed === null) return `"${input}" has an invalid port "${text.slice(firstColon + 1)}"`;
    port = parsed;
    host = text.slice(0, firstColon);
  }
  return hostTarget(input, host, port);
}

/** A port number, `undefined` for an empty one, `null` when invalid. */
function parsePort(text: string): number | undefined | null {
  if (text === '') return undefined;
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function parseUrlTarget(input: string, text: string): Target | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${input}" is not a valid URL`;
  }
  if (url.hostname === '') return `"${input}" has no host`;
  const port = url.port === '' ? defaultPorts[url.protocol] : Number(url.port);
  if (url.hostname.startsWith('[')) {
    return ipv6Target(input, url.hostname, 1, url.hostname.length - 1, port);
  }
  return hostTarget(input, url.hostname, port);
}

/** Parse buffer of ipv6Target: the Target gets a copy of only the bytes it keeps. */
const scratchIPv6 = new Uint8Array(16);

/** The target for the IPv6 text `text[start..end)` (no brackets). */
function ipv6Target(
  input: string,
  text: string,
  start: number,
  end: number,
  port: number | undefined,
): Target | string {
  if (!readIPv6(text, start, end, scratchIPv6)) {
    return `"${text.slice(start, end)}" is not a valid IPv6 address`;
  }
  const address = isIPv4Mapped(scratchIPv6)
    ? { version: 4 as const, bytes: scratchIPv6.slice(12) }
    : { version: 6 as const, bytes: scratchIPv6.slice() };
  return { input, host: formatIp(address), address, port };
}

function hostTarget(input: string, host: string, port: number | undefined): Target | string {
  const v4 = parseIPv4(host);
  if (v4) return { input, host, address: { version: 4, bytes: v4 }, port };
  if (endsInNumber(host)) {
    // The WHATWG host parser reads a name whose last label is numeric as an IPv4 address,
    // in all its legacy forms (127.1, 0x7f.1, 2130706433); browsers and curl do the same.
    let hostname: string;
    try {
      hostname = new URL(`http://${host}/`).hostname;
    } catch {
      return `"${host}" is neither a host name nor an IPv4 address`;
    }
    const bytes = parseIPv4(hostname);
    if (bytes) return { input, host: hostname, address: { version: 4, bytes }, port };
  }
  const name = canonicalHostName(host);
  if (name === undefined) return `"${host}" is not a valid host name`;
  return { input, host: name, address: undefined, port };
}

/** True when the last label (one trailing dot ignored) is decimal digits, or `0x` and hex digits. */
function endsInNumber(host: string): boolean {
  // Checked for every name, so it reads the label in place instead of slicing it out.
  let end = host.length;
  if (end > 0 && host.charCodeAt(end - 1) === 0x2e) end--;
  if (end === 0) return false;
  const start = host.lastIndexOf('.', end - 1) + 1;
  if (start === end) return false;
  let i = start;
  const hex =
    end - start >= 2 && host.charCodeAt(start) === 0x30 && (host.charCodeAt(start + 1) | 0x20) === 0x78;
  if (hex) i += 2;
  for (; i < end; i++) {
    const code = host.charCodeAt(i);
    if (code >= 0x30 && code <= 0x39) continue;
    if (hex && ((code >= 0x61 && code <= 0x66) || (code >= 0x41 && code <= 0x46))) continue;
    return false;
  }
  return true;
}
