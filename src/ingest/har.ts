// HAR 1.2 (HTTP Archive) as browsers export it: one flow per log.entries element. The document is
// scanned incrementally (json-scan.ts), so a large export is never held whole in memory.
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { defineFormat, headText } from './batches.js';
import { lowerAscii, normalizeAddress, parseAbsoluteUrl, parseIsoTime, splitHostPort } from './fields.js';
import type { IngestContext } from './format.js';
import { type JsonItem, JsonScanner } from './json-scan.js';
import { badField, missingField, quote } from './problems.js';

/** URL schemes that are not network requests (browsers list some of them in HAR files). */
const LOCAL_SCHEMES = /^(?:data|blob|about|chrome|chrome-extension|moz-extension|edge|file|javascript):/i;

export const harFormat = defineFormat({
  name: 'har',
  description: 'HAR 1.2 (HTTP Archive) exported by browser developer tools',
  sniff(head) {
    const text = headText(head);
    if (!text.startsWith('{')) return 0;
    if (!/"log"\s*:/.test(text)) return 0;
    if (/"entries"\s*:/.test(text)) return 0.95;
    if (/"creator"\s*:|"pages"\s*:/.test(text)) return 0.8;
    return 0.3;
  },
  async *parseBatches(input, ctx) {
    let out: FlowRecord[] = [];
    const scanner = new JsonScanner(
      ctx,
      { path: ['log', 'entries'], wholeValues: false, resync: false },
      (item) => harEntry(item, ctx, out),
    );
    for await (const _ of scanner.scan(input)) {
      if (out.length > 0) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
    if (!scanner.pathFound && scanner.topLevelValues > 0) {
      ctx.problem(1, 'not a HAR file: no log.entries array', 'log.entries');
    }
  },
});

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A HAR size: a non-negative number, or undefined for -1 (unknown) and anything else. */
function size(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
}

/** Headers + body, each -1 when unknown: their sum, the known one alone, or null. */
function messageBytes(message: Json): number | null {
  const headers = size(message.headersSize);
  const body = size(message.bodySize);
  if (headers === undefined && body === undefined) return null;
  return (headers ?? 0) + (body ?? 0);
}

function harEntry(item: JsonItem, ctx: IngestContext, out: FlowRecord[]): void {
  const line = item.line;
  const entry = item.value;
  if (!isObject(entry)) {
    ctx.problem(line, `entry ${item.index} is not an object`);
    return;
  }
  const request = entry.request;
  if (!isObject(request) || typeof request.url !== 'string' || request.url === '') {
    missingField(ctx, line, `entries[${item.index - 1}].request.url`);
    return;
  }
  const url = request.url;
  const parts = parseAbsoluteUrl(url);
  if (!parts) {
    if (LOCAL_SCHEMES.test(url)) return; // not a network request
    badField(ctx, line, `entries[${item.index - 1}].request.url`, url, 'an absolute URL');
    return;
  }
  const flow = emptyFlow({ kind: 'har', file: ctx.file, line });
  flow.host = parts.host;
  flow.port = parts.port;
  flow.protocol = parts.scheme;
  if (entry.startedDateTime !== undefined) {
    const start =
      typeof entry.startedDateTime === 'string' ? parseIsoTime(entry.startedDateTime) : Number.NaN;
    if (Number.isNaN(start)) {
      badField(
        ctx,
        line,
        `entries[${item.index - 1}].startedDateTime`,
        entry.startedDateTime,
        'an ISO 8601 time',
      );
      return;
    }
    flow.start = start;
    const time = size(entry.time);
    if (time !== undefined) flow.end = start + time;
  }
  const server = entry.serverIPAddress;
  if (typeof server === 'string' && server !== '') {
    const address = normalizeAddress(server);
    if (address === undefined) {
      ctx.problem(
        line,
        `entries[${item.index - 1}].serverIPAddress ${quote(server)} is not an IP address; the flow is kept without it`,
        'serverIPAddress',
      );
    } else {
      flow.destination = address;
    }
  }
  flow.bytesUp = messageBytes(request);
  const response = entry.response;
  if (isObject(response)) flow.bytesDown = size(response._transferSize) ?? messageBytes(response);
  if (typeof entry.connection === 'string' && entry.connection !== '') flow.connectionId = entry.connection;
  flow.httpHost = hostHeader(request.headers);
  out.push(flow);
}

/** The request's `Host` (HTTP/1) or `:authority` (HTTP/2, 3) header, without port, lower-case. */
function hostHeader(headers: unknown): string | null {
  if (!Array.isArray(headers)) return null;
  for (const header of headers) {
    if (!isObject(header) || typeof header.name !== 'string' || typeof header.value !== 'string') continue;
    const name = header.name.toLowerCase();
    if (name === 'host' || name === ':authority') {
      const hostPort = splitHostPort(header.value);
      return hostPort ? lowerAscii(hostPort.host) : null;
    }
  }
  return null;
}
