// Strict parsing of HTTP/1.x message heads (RFC 9112) for the proxy: request heads from clients,
// response heads from origins and upstream proxies. There is no lenient mode: anything a lenient
// parser would "repair" (bare LF, obs-fold, spaces before the colon, duplicate or conflicting
// framing headers) is rejected, because two parsers repairing it differently is how requests are
// smuggled. The caller hands over one complete head (up to and including the empty line).
import { GatewayError } from './errors.js';

export interface HeaderField {
  /** As received (forwarded with its original case). */
  name: string;
  /** Lower-case, for lookups. */
  lower: string;
  value: string;
}

/** What both directions need to frame a message body and to manage the connection. */
export interface MessageHead {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  fields: HeaderField[];
  contentLength: number | null;
  chunked: boolean;
  /** `Connection` (and legacy `Proxy-Connection`) tokens, lower-case. */
  connectionTokens: string[];
  /** Bytes of the head, including the final empty line. */
  length: number;
}

export interface RequestHead extends MessageHead {
  method: string;
  target: string;
  host: string | null;
  proxyAuthorization: string | null;
}

export interface ResponseHead extends MessageHead {
  status: number;
  /** The status line as received, without CRLF. */
  statusLine: string;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Where the head in `buffer` ends (index just past the empty line), -1 when it is not complete yet.
 * `scanned` is how many bytes an earlier call already looked at (so a head trickling in one byte
 * at a time costs linear, not quadratic, time). Throws on a bare LF line end, which a strict parser
 * would otherwise wait on until the headers timeout.
 */
export function findHeadEnd(buffer: Buffer, scanned = 0, code: 'request' | 'response' = 'request'): number {
  const end = buffer.indexOf(CRLFCRLF, scanned > 3 ? scanned - 3 : 0);
  const scanTo = end < 0 ? buffer.length : end;
  for (let i = buffer.indexOf(10, scanned); i >= 0 && i < scanTo; i = buffer.indexOf(10, i + 1)) {
    if (i === 0 || buffer[i - 1] !== 13) throw headError(code, 'a line ends in a bare LF (CRLF required)');
  }
  return end < 0 ? -1 : end + 4;
}

const tokenRe = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const requestLineRe = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
const statusLineRe = /^HTTP\/1\.([01]) (\d{3})(?: [\t\x20-\x7e\x80-\xff]*)?$/;
/** field-value: visible characters, obs-text, SP and HTAB; never CR, LF, NUL or other controls. */
const fieldValueRe = /^[\t\x20-\x7e\x80-\xff]*$/;

function headError(code: 'request' | 'response', message: string): GatewayError {
  return new GatewayError(code === 'request' ? 'PW_GW_BAD_REQUEST' : 'PW_GW_BAD_UPSTREAM_RESPONSE', message);
}

function framingError(code: 'request' | 'response', message: string): GatewayError {
  return new GatewayError(code === 'request' ? 'PW_GW_BAD_FRAMING' : 'PW_GW_BAD_UPSTREAM_RESPONSE', message);
}

/** Parses a request head (`buffer[0..end)`); throws GatewayError with the status to answer. */
export function parseRequestHead(buffer: Buffer, end: number): RequestHead {
  let start = 0;
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line
  // (some clients send an extra CRLF after a body).
  while (start < 8 && start + 1 < end && buffer[start] === 13 && buffer[start + 1] === 10) start += 2;
  const text = buffer.toString('latin1', start, end - 4);
  const lines = splitAt(text, '\r\n');
  const requestLine = lines[0] as string;
  const match = requestLineRe.exec(requestLine);
  if (!match) {
    if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/\d\.\d$/.test(requestLine)) {
      throw new GatewayError('PW_GW_BAD_REQUEST', 'the request target holds characters outside ASCII');
    }
    throw new GatewayError('PW_GW_BAD_REQUEST', 'the request line is not "METHOD target HTTP/1.x"');
  }
  if (match[3] !== '1' || (match[4] !== '0' && match[4] !== '1')) {
    throw new GatewayError('PW_GW_VERSION_UNSUPPORTED', `HTTP/${match[3]}.${match[4]} is not supported`);
  }
  const head = parseFields(lines, 'request') as RequestHead;
  head.method = match[1] as string;
  head.target = match[2] as string;
  head.minor = match[4] === '1' ? 1 : 0;
  head.length = end;
  head.host = null;
  head.proxyAuthorization = null;
  for (const field of head.fields) {
    if (field.lower === 'host') {
      if (head.host !== null) throw new GatewayError('PW_GW_BAD_REQUEST', 'more than one Host header');
      head.host = field.value;
    } else if (field.lower === 'proxy-authorization') {
      if (head.proxyAuthorization !== null) {
        throw new GatewayError('PW_GW_BAD_REQUEST', 'more than one Proxy-Authorization header');
      }
      head.proxyAuthorization = field.value;
    }
  }
  if (head.minor === 1 && head.host === null) {
    throw new GatewayError('PW_GW_BAD_REQUEST', 'an HTTP/1.1 request must have a Host header');
  }
  if (head.chunked && head.minor === 0) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is a sign of a smuggling attempt.
    throw new GatewayError('PW_GW_BAD_FRAMING', 'Transfer-Encoding in an HTTP/1.0 request');
  }
  return head;
}

/** Parses a response head; throws PW_GW_BAD_UPSTREAM_RESPONSE when it is not strictly valid. */
export function parseResponseHead(buffer: Buffer, end: number): ResponseHead {
  const text = buffer.toString('latin1', 0, end - 4);
  const lines = splitAt(text, '\r\n');
  const statusLine = lines[0] as string;
  const match = statusLineRe.exec(statusLine);
  if (!match) throw headError('response', 'the status line is not "HTTP/1.x NNN reason"');
  const head = parseFields(lines, 'response') as ResponseHead;
  head.minor = match[1] === '1' ? 1 : 0;
  head.status = Number(match[2]);
  head.statusLine = statusLine;
  head.length = end;
  return head;
}

function parseFields(lines: string[], code: 'request' | 'response'): MessageHead {
  const fields: HeaderField[] = [];
  let contentLength: number | null = null;
  let transferEncoding: string[] | null = null;
  const connectionTokens: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      throw headError(code, 'obs-fold (a header line starting with whitespace) is not accepted');
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw headError(code, 'a header line has no "name:"');
    const name = line.slice(0, colon);
    if (!tokenRe.test(name)) {
      throw headError(code, `header name "${printable(name)}" is not a token (whitespace before ":"?)`);
    }
    const value = trimOws(line.slice(colon + 1));
    if (!fieldValueRe.test(value)) throw headError(code, `header ${name} holds control characters`);
    const lower = name.toLowerCase();
    fields.push({ name, lower, value });
    switch (lower) {
      case 'content-length':
        if (contentLength !== null) throw framingError(code, 'more than one Content-Length header');
        if (!/^\d{1,15}$/.test(value))
          throw framingError(code, `Content-Length "${printable(value)}" is not a number`);
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        transferEncoding ??= [];
        for (const coding of splitAt(value, ',')) transferEncoding.push(trimOws(coding).toLowerCase());
        break;
      case 'connection':
      case 'proxy-connection':
        for (const token of splitAt(value, ',')) {
          const trimmed = trimOws(token).toLowerCase();
          if (trimmed !== '') connectionTokens.push(trimmed);
        }
        break;
      default:
        break;
    }
  }
  // RFC 9110 §7.6.1 has a proxy remove every field its Connection names; a framing field removed
  // while its body is still forwarded turns the body into a request the next hop reads unchecked.
  // Framing is never hop-by-hop, so naming it there is refused, not repaired.
  for (const token of connectionTokens) {
    if (token === 'content-length' || token === 'transfer-encoding') {
      throw framingError(code, `Connection names the framing header ${token}`);
    }
  }
  let chunked = false;
  if (transferEncoding !== null) {
    if (transferEncoding.length !== 1 || transferEncoding[0] !== 'chunked') {
      throw framingError(code, `Transfer-Encoding "${transferEncoding.join(', ')}" is not exactly "chunked"`);
    }
    if (contentLength !== null) throw framingError(code, 'both Content-Length and Transfer-Encoding');
    chunked = true;
  }
  return { minor: 1, fields, contentLength, chunked, connectionTokens, length: 0 };
}

/**
 * `text.split(separator)`, the same strings in the same order (an empty text gives `['']`, adjacent
 * separators an empty string between them), made with indexOf and slice: String.prototype.split
 * goes through V8's runtime, and the two or three splits of a request's heads were about 0.6 us of
 * parsing them (docs/performance.md, "Gateway per request, session 13"). `separator` is not empty.
 */
export function splitAt(text: string, separator: string): string[] {
  // An empty separator would never move on (split('') splits into characters; nobody here needs it).
  if (separator === '') throw new RangeError('splitAt needs a separator that is not empty');
  const parts: string[] = [];
  let from = 0;
  for (;;) {
    const at = text.indexOf(separator, from);
    if (at < 0) {
      parts.push(from === 0 ? text : text.slice(from));
      return parts;
    }
    parts.push(text.slice(from, at));
    from = at + separator.length;
  }
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Safe to echo in an error message: control characters shown as `?`, length bounded. */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  return text.slice(0, 64).replace(/[\x00-\x1f\x7f-\xff]/g, '?');
}

/** Headers that describe one hop and are never forwarded (RFC 9110 §7.6.1), plus proxy credentials. */
const hopByHop = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** True when the field must not be forwarded: a hop-by-hop header or one named in `Connection`. */
export function isHopByHop(field: HeaderField, connectionTokens: readonly string[]): boolean {
  return hopByHop.has(field.lower) || (connectionTokens.length > 0 && connectionTokens.includes(field.lower));
}

/** Whether the connection stays open after this message, from its version and Connection tokens. */
export function wantsKeepAlive(head: MessageHead): boolean {
  if (head.connectionTokens.includes('close')) return false;
  return head.minor === 1 || head.connectionTokens.includes('keep-alive');
}
