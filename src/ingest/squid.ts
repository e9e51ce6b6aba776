// Squid access logs: the native format (`logformat squid`) and the common / combined formats
// (Squid's `common` and `combined`, or any proxy writing Apache-style lines with absolute URLs).
// Hot path: fields are found with indexOf on the line, no regular expression or split per line.
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { defineFormat, headLines, type LineParser, lineBatches } from './batches.js';
import {
  ipv4Value,
  lowerAscii,
  normalizeAddress,
  parseAbsoluteUrl,
  parseClfTime,
  parseEpochSeconds,
  parseUint,
  splitHostPort,
} from './fields.js';
import { type FlowCounter, FlowFacts, FNV_BASIS, FNV_PRIME } from './flow-facts.js';
import type { IngestContext } from './format.js';
import {
  DEFAULT_MAX_LINE_BYTES,
  fieldEnd,
  isTooLong,
  readChunks,
  skipBom,
  skipSpaces,
} from './line-reader.js';
import { badField, OnceReporter, quote } from './problems.js';
import { type CompiledLogformat, compileSquidLogformat, SquidLogformatParser } from './squid-logformat.js';

export { parseClfTime } from './fields.js';

const NATIVE_LINE = /^\d{9,11}(?:\.\d+)? +\d+ +\S+ +[A-Z_]+\/\d{3} +\d+ +\S+ +\S+/;
const CLF_LINE =
  /^\S+ +\S+ +\S+ +\[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2}(?:\.\d{1,9})? [+-]\d{4}\] +"[A-Z]+ +(\S+)/;
const SQUID_TAIL = / [A-Z_]+:[A-Z_]+$/;

export const squidFormat = defineFormat({
  name: 'squid',
  description: 'Squid access.log: native format, or common / combined with absolute URLs',
  iteratesInput: true,
  sniff(head) {
    const lines = headLines(head);
    if (lines.length === 0) return 0;
    let native = 0;
    let clf = 0;
    let clfSquid = 0;
    for (const line of lines) {
      if (NATIVE_LINE.test(line)) native++;
      else {
        const match = CLF_LINE.exec(line);
        if (match && (match[1]?.includes('://') || /:\d+$/.test(match[1] ?? ''))) {
          clf++;
          if (SQUID_TAIL.test(line)) clfSquid++;
        }
      }
    }
    const share = (count: number) => count / lines.length;
    if (native > 0) return 0.6 + 0.35 * share(native);
    if (clfSquid > 0) return 0.6 + 0.3 * share(clfSquid);
    if (clf > 0) return 0.4 + 0.3 * share(clf);
    return 0;
  },
  parseBatches(input, ctx) {
    const logformat = ctx.options?.squidLogformat;
    if (logformat === undefined) return parseSquid(input, ctx);
    // A custom logformat (--squid-logformat): each line read by the compiled definition.
    const compiled = compiledLogformat(logformat);
    return lineBatches(
      (context) => new SquidLogformatParser(context, compiled, new SquidLineParser(context)),
    )(input, ctx);
  },
});

let lastLogformat: CompiledLogformat | null = null;

/** The compiled definition, kept for the next input (an audit reads many with one format). */
function compiledLogformat(definition: string): CompiledLogformat {
  if (lastLogformat?.definition !== definition.trim()) lastLogformat = compileSquidLogformat(definition);
  return lastLogformat;
}

/** Flows per batch: small enough that a batch dies young, large enough to amortize the await. */
const BATCH = 1024;

async function* parseSquid(input: AsyncIterable<Buffer | string>, ctx: IngestContext) {
  const scan = new SquidScan(ctx);
  for await (const chunk of readChunks(input, ctx)) {
    const bytes = chunk.bytes;
    let position = 0;
    let lineNumber = chunk.linesBefore;
    while (position < bytes.length) {
      scan.stoppedAt = bytes.length;
      lineNumber = scan.lines(bytes, position, lineNumber);
      position = scan.stoppedAt;
      if (scan.out.length >= BATCH) {
        yield scan.out;
        scan.out = [];
      }
    }
    chunk.newlines = lineNumber - chunk.linesBefore - (bytes[bytes.length - 1] === 0x0a ? 0 : 1);
  }
  if (scan.out.length > 0) yield scan.out;
}

/**
 * parseSquid's line loop, apart from the generator. V8 compiles the loop while the first chunk
 * runs, and a statement after it that had never run throws that code away when it is reached: in
 * the generator, at the first chunk's end and again at the input's (docs/performance.md, "Audit on
 * one core, session 7"). So lines() only returns after its loop, with the last line's number.
 */
class SquidScan {
  readonly parser: SquidLineParser;
  readonly counter: FlowCounter | undefined;
  readonly facts: FlowFacts | undefined;
  out: FlowRecord[] = [];
  /** Where lines() stopped when a batch filled up (the caller sets it to the chunk's end first). */
  stoppedAt = 0;

  constructor(readonly ctx: IngestContext) {
    this.parser = new SquidLineParser(ctx);
    this.counter = ctx.counter;
    this.facts = ctx.counter === undefined ? undefined : new FlowFacts();
  }

  /** Reads the lines of `bytes` from `position` to its end or until a batch is full. */
  lines(bytes: Buffer, position: number, lineNumber: number): number {
    const { ctx, parser, counter, facts, out } = this;
    const length = bytes.length;
    // A counter that reads lines itself (flow-facts.ts) takes them up to one it leaves to this loop;
    // the first line of an input (a BOM) is always read here.
    const bulk = counter?.scansLines === true;
    let fresh = true;
    while (position < length) {
      if (bulk && lineNumber > 0) {
        position = (counter as FlowCounter).squidLines?.(bytes, position, fresh) ?? position;
        fresh = false;
        lineNumber += (counter as FlowCounter).linesRead ?? 0;
        if (position >= length) break;
      }
      let newline = bytes.indexOf(0x0a, position);
      if (newline < 0) newline = length;
      lineNumber++;
      let end = newline;
      if (end > position && bytes[end - 1] === 0x0d) end--;
      if (lineNumber === 1) position = skipBom(bytes, position);
      if (
        end > position &&
        !isTooLong(ctx, end - position, lineNumber, DEFAULT_MAX_LINE_BYTES) &&
        !parseNativeFast(bytes, position, end, lineNumber, ctx.file, out, facts, counter)
      ) {
        parser.line(bytes.toString('utf8', position, end), lineNumber, out);
      }
      if (counter !== undefined && out.length > 0) {
        for (const flow of out) counter.take(flow);
        out.length = 0;
      }
      position = newline + 1;
      // With a counter every flow was taken above: only the batches of other readers fill up.
      if (out.length >= BATCH) {
        this.stoppedAt = position;
        break;
      }
    }
    return lineNumber;
  }
}

/**
 * The common case of a native line, read straight from the chunk's bytes (strings are made as
 * latin1, one char per byte, only for the record): `http`/`https` URL or `CONNECT host:port`, a well-formed hierarchy field.
 * Returns false, having done nothing, for anything else; the string-based parser then reads the
 * line and reports what is wrong with it. With `facts` (an audit's counter), the flow is first
 * offered to ctx.counter by its numbers and offsets, and only built when the counter declines.
 * The audit's WebAssembly scanner (src/audit/wasm/scan.ts, countLine) reads the same fields with
 * the same refusals, and hierarchyKind() too: a change here is a change there (its tests compare
 * the reports with and without it).
 */
function parseNativeFast(
  b: Buffer,
  start: number,
  end: number,
  lineNumber: number,
  file: string,
  out: FlowRecord[],
  facts?: FlowFacts,
  counter?: FlowCounter,
): boolean {
  let i = start;
  let c = b[i] as number;
  // time: seconds[.fraction], fraction truncated to milliseconds
  let seconds = 0;
  const timeStart = i;
  while (c >= 0x30 && c <= 0x39) {
    seconds = seconds * 10 + (c - 0x30);
    c = b[++i] as number;
  }
  if (i - timeStart < 9 || i - timeStart > 11) return false;
  let millis = 0;
  if (c === 0x2e) {
    let digits = 0;
    c = b[++i] as number;
    while (c >= 0x30 && c <= 0x39) {
      if (digits < 3) {
        millis = millis * 10 + (c - 0x30);
        digits++;
      }
      c = b[++i] as number;
    }
    for (; digits < 3; digits++) millis *= 10;
  }
  if (c !== 0x20) return false;
  const endTime = seconds * 1000 + millis;
  while (b[i] === 0x20) i++;
  // elapsed milliseconds
  let elapsed = 0;
  const elapsedStart = i;
  c = b[i] as number;
  while (c >= 0x30 && c <= 0x39) {
    elapsed = elapsed * 10 + (c - 0x30);
    c = b[++i] as number;
  }
  // Longer than the time since 1970 (or too many digits to be exact): the string parser reports it.
  if (i === elapsedStart || c !== 0x20 || i - elapsedStart > 16 || elapsed > endTime) return false;
  while (b[i] === 0x20) i++;
  // client, checked for bytes above ASCII on the way (the string parser reads it as UTF-8)
  const clientStart = i;
  let high = 0;
  c = b[i] as number;
  while (c !== 0x20 && i < end) {
    high |= c;
    c = b[++i] as number;
  }
  if (i >= end || high >= 0x80) return false;
  const clientEnd = i;
  while (b[i] === 0x20) i++;
  // code/status: not needed
  i = spaceAt(b, i, end);
  if (i >= end) return false;
  while (b[i] === 0x20) i++;
  // reply bytes
  let bytesDown = 0;
  const bytesStart = i;
  c = b[i] as number;
  while (c >= 0x30 && c <= 0x39) {
    bytesDown = bytesDown * 10 + (c - 0x30);
    c = b[++i] as number;
  }
  if (i === bytesStart || c !== 0x20 || i - bytesStart > 15) return false;
  while (b[i] === 0x20) i++;
  // method
  const methodStart = i;
  i = spaceAt(b, i, end);
  if (i >= end) return false;
  const connect = i - methodStart === 7 && isConnect(b, methodStart);
  while (b[i] === 0x20) i++;
  // URL: `host:port` (CONNECT) or `http[s]://authority/...`
  const urlStart = i;
  let authority = urlStart;
  let port = -1;
  let protocol = 'tcp';
  if (!connect) {
    if (
      b[urlStart] !== 0x68 ||
      b[urlStart + 1] !== 0x74 ||
      b[urlStart + 2] !== 0x74 ||
      b[urlStart + 3] !== 0x70
    )
      return false;
    if (b[urlStart + 4] === 0x3a && b[urlStart + 5] === 0x2f && b[urlStart + 6] === 0x2f) {
      protocol = 'http';
      port = 80;
      authority = urlStart + 7;
    } else if (
      b[urlStart + 4] === 0x73 &&
      b[urlStart + 5] === 0x3a &&
      b[urlStart + 6] === 0x2f &&
      b[urlStart + 7] === 0x2f
    ) {
      protocol = 'https';
      port = 443;
      authority = urlStart + 8;
    } else {
      return false;
    }
  }
  // The authority in one pass: the host's bytes checked (no userinfo, no IPv6 literal, no
  // backslash, no byte above ASCII: the slow path reads those, the last as UTF-8) and hashed
  // (FlowFacts.nameHash) with one table look-up per byte, then digits only after its colon.
  const classes = connect ? CONNECT_HOST_BYTES : URL_HOST_BYTES;
  let upper = false;
  let hash = FNV_BASIS;
  let j = authority;
  let stop = HOST_END;
  for (; j < end; j++) {
    c = b[j] as number;
    const kind = classes[c] as number;
    if (kind !== HOST_PLAIN) {
      if (kind !== HOST_UPPER) {
        stop = kind;
        break;
      }
      upper = true;
    }
    hash = Math.imul(hash ^ c, FNV_PRIME);
  }
  if (stop === HOST_REFUSED) return false;
  const hostStart = authority;
  const hostEnd = j;
  if (hostEnd === authority) return false;
  if (stop === HOST_COLON) {
    const colon = j;
    for (j++; j < end; j++) {
      c = b[j] as number;
      if (c >= 0x30 && c <= 0x39) continue;
      if (classes[c] === HOST_END) break;
      return false; // a second colon, or anything but digits before the URL's path
    }
    if (j === colon + 1 || j - colon > 6) return false;
    port = 0;
    for (let k = colon + 1; k < j; k++) port = port * 10 + ((b[k] as number) - 0x30);
    if (port > 65535) return false;
  } else if (connect) {
    return false; // CONNECT names its port
  }
  if (connect) protocol = port === 443 ? 'https' : 'tcp';
  const urlEnd = j < end && b[j] === 0x20 ? j : spaceAt(b, j, end);
  if (urlEnd >= end) return false;
  // rfc931 user
  i = urlEnd;
  while (b[i] === 0x20) i++;
  i = spaceAt(b, i, end);
  if (i >= end) return false;
  while (b[i] === 0x20) i++;
  // hierarchy code/peer
  const hierStart = i;
  let slash = hierStart;
  c = b[slash] as number;
  // the code too is checked for bytes above ASCII: its evidence is kept as text
  while (c !== 0x2f && c !== 0x20 && slash < end) {
    high |= c;
    c = b[++slash] as number;
  }
  if (c !== 0x2f || slash >= end) return false; // no slash in the field
  // the peer, checked for bytes above ASCII on the way, as the client was
  const peerStart = slash + 1;
  let hierEnd = peerStart;
  c = b[hierEnd] as number;
  while (c !== 0x20 && hierEnd < end) {
    high |= c;
    c = b[++hierEnd] as number;
  }
  if (high >= 0x80) return false;
  const noPeer = peerStart === hierEnd || (b[peerStart] === 0x2d && peerStart + 1 === hierEnd);
  const codeLength = slash - hierStart;
  const direct =
    (codeLength === 11 && isHierDirect(b, hierStart)) || (codeLength === 6 && isDirect(b, hierStart));
  // `HIER_DIRECT/` with nothing after the slash: the string parser keeps the field as evidence.
  if (direct && peerStart === hierEnd) return false;
  const kind = direct ? 'destination' : hierarchyKindAt(b, hierStart, slash);
  if (kind === 'unknown') return false; // the slow path reports it
  const address4 = kind === 'destination' && !noPeer ? ipv4Value(b, peerStart, hierEnd) : -1;
  if (facts !== undefined && !noPeer && (kind === 'upstream' || address4 >= 0)) {
    facts.reset(b, lineNumber);
    facts.start = endTime - elapsed;
    facts.end = endTime;
    facts.bytesDown = bytesDown;
    facts.port = port;
    facts.nameStart = hostStart;
    facts.nameEnd = hostEnd;
    facts.nameHash = hash;
    if (kind === 'upstream') {
      facts.upstreamStart = peerStart;
      facts.upstreamEnd = hierEnd;
    } else {
      facts.destinationStart = peerStart;
      facts.destinationEnd = hierEnd;
      facts.destination4 = address4;
    }
    if (counter?.count(facts)) return true;
  }
  let destination: string | null = null;
  let upstream: string | null = null;
  let evidence: string | null = null;
  if (direct) {
    // The destination address is the evidence: no need for a copy of the field.
    if (!noPeer) {
      if (address4 >= 0) destination = b.toString('latin1', peerStart, hierEnd);
      else destination = normalizeAddress(b.toString('latin1', peerStart, hierEnd)) ?? null;
      if (destination === null) evidence = b.toString('latin1', hierStart, hierEnd); // a name, not an address
    }
  } else {
    evidence = b.toString('latin1', hierStart, hierEnd);
    if (!noPeer) {
      if (kind === 'upstream') upstream = b.toString('latin1', peerStart, hierEnd);
      else if (kind === 'destination')
        destination = normalizeAddress(b.toString('latin1', peerStart, hierEnd)) ?? null;
    }
  }
  const host = b.toString('latin1', hostStart, hostEnd);
  const flow = emptyFlow({ kind: 'squid', file, line: lineNumber });
  flow.start = endTime - elapsed;
  flow.end = endTime;
  flow.client = b.toString('latin1', clientStart, clientEnd);
  flow.host = upper ? host.toLowerCase() : host;
  flow.port = port;
  flow.protocol = protocol;
  flow.bytesDown = bytesDown;
  flow.destination = destination;
  flow.upstream = upstream;
  flow.actualPathEvidence = evidence;
  out.push(flow);
  return true;
}

// What a byte of a URL's authority is to parseNativeFast: part of the host (PLAIN, or UPPER: an
// ASCII capital, lowered in the record), the host's end (END: a space, or `/`, `?` and `#` after a
// URL's authority; a CONNECT target runs to the space), the port's colon, or a byte the fast path
// leaves to the string parser (REFUSED: userinfo `@`, an IPv6 literal's `[`, a backslash, non-ASCII).
const HOST_PLAIN = 0;
const HOST_UPPER = 1;
const HOST_END = 2;
const HOST_COLON = 3;
const HOST_REFUSED = 4;

function hostByteClasses(connect: boolean): Uint8Array {
  const classes = new Uint8Array(256);
  for (let c = 0x41; c <= 0x5a; c++) classes[c] = HOST_UPPER;
  classes[0x20] = HOST_END;
  if (!connect) for (const c of [0x2f, 0x3f, 0x23]) classes[c] = HOST_END;
  classes[0x3a] = HOST_COLON;
  for (const c of [0x40, 0x5b, 0x5c]) classes[c] = HOST_REFUSED;
  for (let c = 0x80; c <= 0xff; c++) classes[c] = HOST_REFUSED;
  return classes;
}

const URL_HOST_BYTES = hostByteClasses(false);
const CONNECT_HOST_BYTES = hostByteClasses(true);

/** Index of the first space in `b[start, end)`, or `end`. */
function spaceAt(b: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && b[i] !== 0x20) i++;
  return i;
}

/** The last hierarchy codes seen, as bytes, with their kinds: most logs use two or three. */
const recentCodes: { bytes: Buffer; kind: HierarchyKind }[] = [];

// The method and hierarchy codes the scanner tells apart, compared byte by byte with constants
// (a loop over a string's char codes cost more than the rest of the method field).

/** `CONNECT` at `at`. */
function isConnect(b: Buffer, at: number): boolean {
  return (
    b[at] === 0x43 &&
    b[at + 1] === 0x4f &&
    b[at + 2] === 0x4e &&
    b[at + 3] === 0x4e &&
    b[at + 4] === 0x45 &&
    b[at + 5] === 0x43 &&
    b[at + 6] === 0x54
  );
}

/** `DIRECT` at `at`. */
function isDirect(b: Buffer, at: number): boolean {
  return (
    b[at] === 0x44 &&
    b[at + 1] === 0x49 &&
    b[at + 2] === 0x52 &&
    b[at + 3] === 0x45 &&
    b[at + 4] === 0x43 &&
    b[at + 5] === 0x54
  );
}

/** `HIER_DIRECT` at `at`. */
function isHierDirect(b: Buffer, at: number): boolean {
  return (
    b[at] === 0x48 &&
    b[at + 1] === 0x49 &&
    b[at + 2] === 0x45 &&
    b[at + 3] === 0x52 &&
    b[at + 4] === 0x5f &&
    isDirect(b, at + 5)
  );
}

/** hierarchyKind() of the code in `b[start, end)`, without a string when the code was seen lately. */
function hierarchyKindAt(b: Buffer, start: number, end: number): HierarchyKind {
  const length = end - start;
  search: for (const known of recentCodes) {
    const code = known.bytes;
    if (code.length !== length) continue;
    for (let i = 0; i < length; i++) if (code[i] !== b[start + i]) continue search;
    return known.kind;
  }
  const kind = hierarchyKind(b.toString('latin1', start, end));
  if (recentCodes.length >= 16) recentCodes.shift();
  recentCodes.push({ bytes: Buffer.from(b.subarray(start, end)), kind });
  return kind;
}

/** Where a hierarchy code sends the request: to the origin (destination) or to a peer (upstream). */
type HierarchyKind = 'destination' | 'upstream' | 'none' | 'unknown';

const hierarchyKinds = new Map<string, HierarchyKind>();

/**
 * Kind of a Squid hierarchy code (`HIER_DIRECT`, `FIRSTUP_PARENT`, `TIMEOUT_CARP`, ...), per the
 * list in Squid's `hier_code.h`: DIRECT, ORIGINAL_DST and PINNED reach the origin server; the
 * *_PARENT, *_SIBLING, CARP and *HASH_PARENT codes hand the request to a cache peer.
 */
export function hierarchyKind(code: string): HierarchyKind {
  const known = hierarchyKinds.get(code);
  if (known !== undefined) return known;
  let bare = code.startsWith('TIMEOUT_') ? code.slice(8) : code;
  if (bare.startsWith('HIER_')) bare = bare.slice(5);
  let kind: HierarchyKind;
  if (bare === 'NONE') kind = 'none';
  else if (bare === 'DIRECT' || bare === 'CLOSEST_DIRECT' || bare === 'ORIGINAL_DST' || bare === 'PINNED')
    kind = 'destination';
  else if (/PARENT|SIBLING|CARP|PEER/.test(bare)) kind = 'upstream';
  else kind = 'unknown';
  if (hierarchyKinds.size < 256) hierarchyKinds.set(code, kind);
  return kind;
}

/** The string-based reader of one line (every case; the fast path covers the common ones). */
export function createSquidLineParser(ctx: IngestContext): LineParser {
  return new SquidLineParser(ctx);
}

export class SquidLineParser implements LineParser {
  readonly #once: OnceReporter;

  constructor(private readonly ctx: IngestContext) {
    this.#once = new OnceReporter(ctx);
  }

  line(line: string, lineNumber: number, out: FlowRecord[]): void {
    const first = line.charCodeAt(0);
    if (first === 0x23 /* # */) return; // comment (some log shippers add headers)
    if (first >= 0x30 && first <= 0x39 && isEpochLike(line)) {
      this.native(line, lineNumber, out);
      return;
    }
    this.common(line, lineNumber, out);
  }

  /** `time elapsed client code/status bytes method URL rfc931 hierarchy/peer type` */
  native(line: string, lineNumber: number, out: FlowRecord[]): void {
    const ctx = this.ctx;
    const timeEnd = fieldEnd(line, 0);
    const elapsedStart = skipSpaces(line, timeEnd);
    const elapsedEnd = fieldEnd(line, elapsedStart);
    const clientStart = skipSpaces(line, elapsedEnd);
    const clientEnd = fieldEnd(line, clientStart);
    const codeStart = skipSpaces(line, clientEnd);
    const codeEnd = fieldEnd(line, codeStart);
    const bytesStart = skipSpaces(line, codeEnd);
    const bytesEnd = fieldEnd(line, bytesStart);
    const methodStart = skipSpaces(line, bytesEnd);
    const methodEnd = fieldEnd(line, methodStart);
    const urlStart = skipSpaces(line, methodEnd);
    const urlEnd = fieldEnd(line, urlStart);
    const userStart = skipSpaces(line, urlEnd);
    const userEnd = fieldEnd(line, userStart);
    const hierStart = skipSpaces(line, userEnd);
    const hierEnd = fieldEnd(line, hierStart);
    if (hierEnd <= hierStart) {
      ctx.problem(lineNumber, 'not a Squid native access.log line: fewer than 9 fields');
      return;
    }
    const end = parseEpochSeconds(line, 0, timeEnd);
    if (Number.isNaN(end)) {
      badField(ctx, lineNumber, 'time', line.slice(0, timeEnd), 'epoch seconds');
      return;
    }
    const elapsed = parseUint(line, elapsedStart, elapsedEnd);
    if (Number.isNaN(elapsed)) {
      badField(ctx, lineNumber, 'elapsed', line.slice(elapsedStart, elapsedEnd), 'milliseconds');
      return;
    }
    if (elapsed > end) {
      // The connection would have started before 1970: no date could be given to it.
      badField(
        ctx,
        lineNumber,
        'elapsed',
        line.slice(elapsedStart, elapsedEnd),
        'milliseconds since the connection started (it would start before 1970)',
      );
      return;
    }
    const bytes = parseUint(line, bytesStart, bytesEnd);
    if (Number.isNaN(bytes)) {
      badField(ctx, lineNumber, 'bytes', line.slice(bytesStart, bytesEnd), 'a byte count');
      return;
    }
    const method = line.slice(methodStart, methodEnd);
    const url = line.slice(urlStart, urlEnd);
    // `NONE error:invalid-request`, `error:transaction-end-before-headers`: no request was made.
    if (url.startsWith('error:')) return;
    const flow = emptyFlow({ kind: 'squid', file: ctx.file, line: lineNumber });
    if (!this.target(flow, method, url, lineNumber)) return;
    flow.start = end - elapsed;
    flow.end = end;
    flow.client = line.slice(clientStart, clientEnd);
    flow.bytesDown = bytes;
    this.hierarchy(flow, line.slice(hierStart, hierEnd), lineNumber);
    out.push(flow);
  }

  /**
   * `client ident user [10/Oct/2000:13:55:36 -0700] "METHOD URL HTTP/1.1" status bytes` plus, in
   * combined, `"referer" "agent"`, and in Squid's versions a last `%Ss:%Sh` (`TCP_MISS:HIER_DIRECT`).
   */
  common(line: string, lineNumber: number, out: FlowRecord[]): void {
    const ctx = this.ctx;
    const clientEnd = fieldEnd(line, 0);
    const open = line.indexOf(' [', clientEnd);
    const close = open < 0 ? -1 : line.indexOf('] ', open);
    const quoteStart = close < 0 ? -1 : line.indexOf('"', close);
    const quoteEnd = quoteStart < 0 ? -1 : line.indexOf('"', quoteStart + 1);
    if (quoteEnd < 0) {
      ctx.problem(lineNumber, 'not a Squid access.log line (neither native nor common/combined format)');
      return;
    }
    const time = parseClfTime(line.slice(open + 2, close));
    if (Number.isNaN(time)) {
      badField(
        ctx,
        lineNumber,
        'time',
        line.slice(open + 2, close),
        'a [dd/Mon/yyyy:HH:MM:SS[.fff] +zzzz] time',
      );
      return;
    }
    const request = line.slice(quoteStart + 1, quoteEnd);
    const methodEnd = request.indexOf(' ');
    const urlStart = methodEnd < 0 ? -1 : skipSpaces(request, methodEnd);
    if (urlStart < 0) {
      badField(ctx, lineNumber, 'request', request, 'a "METHOD URL VERSION" request line');
      return;
    }
    const method = request.slice(0, methodEnd);
    const url = request.slice(urlStart, fieldEnd(request, urlStart));
    const flow = emptyFlow({ kind: 'squid', file: ctx.file, line: lineNumber });
    if (!this.target(flow, method, url, lineNumber)) return;
    flow.start = time;
    flow.client = line.slice(0, clientEnd);
    const statusStart = skipSpaces(line, quoteEnd + 1);
    const statusEnd = fieldEnd(line, statusStart);
    const bytesStart = skipSpaces(line, statusEnd);
    const bytesEnd = fieldEnd(line, bytesStart);
    const bytesText = line.slice(bytesStart, bytesEnd);
    if (bytesText !== '-') {
      const bytes = parseUint(bytesText);
      if (Number.isNaN(bytes)) {
        badField(ctx, lineNumber, 'bytes', bytesText, 'a byte count or -');
        return;
      }
      flow.bytesDown = bytes;
    }
    const tail = SQUID_TAIL.exec(line);
    if (tail) flow.actualPathEvidence = tail[0].slice(1);
    out.push(flow);
  }

  /** Host, port and protocol from the method and URL; false (reported) when there is no host. */
  target(flow: FlowRecord, method: string, url: string, lineNumber: number): boolean {
    if (method === 'CONNECT') {
      const hostPort = splitHostPort(url);
      if (!hostPort || hostPort.host === '') {
        badField(this.ctx, lineNumber, 'url', url, 'a CONNECT host:port');
        return false;
      }
      flow.host = lowerAscii(hostPort.host);
      flow.port = hostPort.port ?? 443;
      flow.protocol = flow.port === 443 ? 'https' : 'tcp';
      return true;
    }
    const parts = parseAbsoluteUrl(url);
    if (parts) {
      flow.host = parts.host;
      flow.port = parts.port;
      flow.protocol = parts.scheme;
      return true;
    }
    // `host:port` without CONNECT: ssl-bump and some intercept setups log the raw target.
    const hostPort = url.includes('/') ? undefined : splitHostPort(url);
    if (hostPort && hostPort.port !== null && hostPort.host !== '') {
      flow.host = lowerAscii(hostPort.host);
      flow.port = hostPort.port;
      flow.protocol = hostPort.port === 443 ? 'https' : 'tcp';
      return true;
    }
    this.ctx.problem(lineNumber, `url ${quote(url)} names no host (not a proxy request?)`, 'url');
    return false;
  }

  /** Squid's `code/peer`: the origin server's address (destination) or the peer it went to (upstream). */
  hierarchy(flow: FlowRecord, field: string, lineNumber: number): void {
    if (field.startsWith('HIER_DIRECT/') || field.startsWith('DIRECT/')) {
      // The destination address itself is the evidence (resolved against the topology's prefixes).
      const peer = field.slice(field.indexOf('/') + 1);
      if (peer !== '-') flow.destination = normalizeAddress(peer) ?? null;
      if (flow.destination === null && peer !== '-') flow.actualPathEvidence = field; // a name
      return;
    }
    flow.actualPathEvidence = field;
    const slash = field.indexOf('/');
    const code = slash < 0 ? field : field.slice(0, slash);
    const peer = slash < 0 ? '-' : field.slice(slash + 1);
    const kind = hierarchyKind(code);
    if (kind === 'none' || peer === '-' || peer === '') return;
    if (kind === 'upstream') {
      flow.upstream = peer;
    } else if (kind === 'destination') {
      // With `log_ip_on_direct off` Squid logs the origin's name instead of its address.
      flow.destination = normalizeAddress(peer) ?? null;
    } else {
      this.#once.report(
        `hier:${code}`,
        lineNumber,
        `hierarchy code ${quote(code)} is not one pathwarden knows; its peer is not used as path evidence`,
        'hierarchy',
      );
    }
  }
}

/**
 * True when a line that starts with a digit starts with a native log's `seconds.millis` rather
 * than the client address of a common-format line: an IPv4 address has a dot, an IPv6 address a
 * colon within its first five characters; epoch seconds have nine digits or more.
 */
function isEpochLike(line: string): boolean {
  for (let i = 1; i < 5; i++) {
    const code = line.charCodeAt(i);
    if (code === 0x2e || code === 0x3a) return false;
  }
  return true;
}
