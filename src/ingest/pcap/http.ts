// The head of the first HTTP/1.x request on a connection: method, request target and Host header
// (RFC 9112 3, RFC 9110 7.2). A CONNECT request's target and an absolute-form URL also name the
// host the client asked for, as a forward proxy sees them.

export const HttpStatus = {
  /** Could be an HTTP request whose head is not complete yet. */
  incomplete: 0,
  notHttp: 1,
  request: 2,
} as const;
export type HttpStatus = (typeof HttpStatus)[keyof typeof HttpStatus];

export interface HttpRequestHead {
  status: HttpStatus;
  method: string | null;
  /** Host header value as sent (may include a port). */
  hostHeader: string | null;
  /** Host of a CONNECT target (`host:port`) or of an absolute-form target (`http://host/...`). */
  targetHost: string | null;
  /** Offset just after the blank line that ends the head (only when the head is complete). */
  headEnd: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
/** Longest request line accepted before deciding the bytes are not HTTP. */
const MAX_REQUEST_LINE = 8192;

const INCOMPLETE: HttpRequestHead = Object.freeze({
  status: HttpStatus.incomplete,
  method: null,
  hostHeader: null,
  targetHost: null,
  headEnd: -1,
});
const NOT_HTTP: HttpRequestHead = Object.freeze({ ...INCOMPLETE, status: HttpStatus.notHttp });

/**
 * Parses the request head in `data[start, end)`. With `final` (no more bytes will come) a head
 * without its closing blank line still yields what its complete lines say.
 */
export function parseHttpRequestHead(
  data: Buffer,
  start: number,
  end: number,
  final: boolean,
): HttpRequestHead {
  // Method: an upper-case token followed by one space.
  let at = start;
  while (at < end && at - start < 20) {
    const byte = data[at] as number;
    if (byte < 0x41 || byte > 0x5a) break;
    at++;
  }
  if (at === end) return final || at - start >= 20 ? NOT_HTTP : INCOMPLETE;
  if (at - start < 3 || data[at] !== SPACE) return NOT_HTTP;
  const method = data.toString('latin1', start, at);
  const lineEnd = data.indexOf(LF, at);
  const requestLineEnd = lineEnd < 0 || lineEnd >= end ? -1 : lineEnd;
  if (requestLineEnd < 0) {
    if (end - start > MAX_REQUEST_LINE || final) return NOT_HTTP;
    return INCOMPLETE;
  }
  const requestLine = data.toString('latin1', at + 1, trimCr(data, at, requestLineEnd));
  const version = requestLine.lastIndexOf(' HTTP/');
  if (version < 0) return NOT_HTTP;
  const target = requestLine.slice(0, version);
  const targetHost = method === 'CONNECT' ? hostOfAuthority(target) : hostOfAbsoluteUrl(target);
  let hostHeader: string | null = null;
  let lineStart = requestLineEnd + 1;
  for (;;) {
    const next = data.indexOf(LF, lineStart);
    if (next < 0 || next >= end) {
      if (!final) return INCOMPLETE;
      return { status: HttpStatus.request, method, hostHeader, targetHost, headEnd: -1 };
    }
    const contentEnd = trimCr(data, lineStart, next);
    if (contentEnd === lineStart) {
      return { status: HttpStatus.request, method, hostHeader, targetHost, headEnd: next + 1 };
    }
    if (hostHeader === null && contentEnd - lineStart > 5 && isHostHeader(data, lineStart)) {
      let valueStart = lineStart + 5;
      let valueEnd = contentEnd;
      while (valueStart < valueEnd && isBlank(data[valueStart] as number)) valueStart++;
      while (valueEnd > valueStart && isBlank(data[valueEnd - 1] as number)) valueEnd--;
      hostHeader = printableAscii(data, valueStart, valueEnd);
    }
    lineStart = next + 1;
  }
}

function trimCr(data: Buffer, start: number, lineFeed: number): number {
  return lineFeed > start && data[lineFeed - 1] === CR ? lineFeed - 1 : lineFeed;
}

function isBlank(byte: number): boolean {
  return byte === SPACE || byte === 0x09;
}

/** `Host:` in any letter case at `at`. */
function isHostHeader(data: Buffer, at: number): boolean {
  return (
    ((data[at] as number) | 0x20) === 0x68 &&
    ((data[at + 1] as number) | 0x20) === 0x6f &&
    ((data[at + 2] as number) | 0x20) === 0x73 &&
    ((data[at + 3] as number) | 0x20) === 0x74 &&
    data[at + 4] === 0x3a
  );
}

/** Host part of `host:port`, `[v6]:port` or `host`. */
export function hostOfAuthority(authority: string): string | null {
  if (authority.length === 0 || /[\s@/]/.test(authority)) return null;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    return close > 1 ? authority.slice(1, close) : null;
  }
  const colon = authority.lastIndexOf(':');
  const host = colon >= 0 && authority.indexOf(':') === colon ? authority.slice(0, colon) : authority;
  return host.length > 0 ? host : null;
}

function hostOfAbsoluteUrl(target: string): string | null {
  const match = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)/.exec(target);
  if (!match) return null;
  const authority = match[1] as string;
  const at = authority.lastIndexOf('@');
  return hostOfAuthority(at >= 0 ? authority.slice(at + 1) : authority);
}

/** The bytes as a string when they are all printable ASCII (a DNS name), else null. */
function printableAscii(data: Buffer, start: number, end: number): string | null {
  if (end <= start) return null;
  for (let i = start; i < end; i++) {
    const byte = data[i] as number;
    if (byte <= 0x20 || byte >= 0x7f) return null;
  }
  return data.toString('latin1', start, end);
}
