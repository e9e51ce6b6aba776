// AssemblyScript (compiled to dist/src/audit/scan.wasm by `npm run build:wasm`, part of `npm run
// build`; not by tsc): the audit's fast path over Squid native lines and Zeek conn records in
// WebAssembly (docs/architecture.md, "Decisions": "The audit's Squid native lines and Zeek conn
// records are counted in WebAssembly"; Zeek: countZeekLine below, by address key). scan() reads
// the lines of a chunk copied into this memory, parses the fields the fast path needs exactly as
// parseNativeFast (src/ingest/squid.ts) does, finds the line's key in a copy
// of the counter's learned keys (src/audit/flow-counter.ts) and adds the flow to its row's sums
// (an array JS shares) and to a run of flows for the time series. At the first line it does not
// fully understand, or whose key, upstream or destination it was not told about, it stops and
// returns that line's offset: JS reads that one line as it always has, tells this module what it
// learned (learnName, learnAddress, learnUpstream, learnAddressPath), and calls scan() again
// after it.
// Every number is computed with the same double operations as the JS path, so the sums are equal.

// ---- memory layout (set by setup(); the memory never grows after it, so JS views stay valid)

const PAD: i32 = 64; // bytes after an input chunk, zeroed: reads past the end see 0, not a newline
const OPEN_BITS: i32 = 13;
const OPEN_RUNS: i32 = 1 << OPEN_BITS; // runs being summed (a direct-mapped table by bucket, path and verdict)
const RUN_BYTES: i32 = 64; // 8 doubles
const RUNS_OUT: i32 = OPEN_RUNS * 2; // runs handed to JS per scan() call at most
const CODES: i32 = 8; // hierarchy codes remembered with their kinds
const CODE_BYTES: i32 = 32;
const UPSTREAMS: i32 = 16;
const UPSTREAM_POOL: i32 = 4096;
const ADDRESS_PLACES: i32 = 8192; // address -> path cache (cleared when half full)
const SCRATCH: i32 = 4096;
const ROUTES: i32 = 1 << 16; // address ranges of setRoutes()
const MAX_NAME_BYTES: i32 = 1023; // FlowKeyTable's
const NUMBER_BITS: i32 = 21;
const LEAK: i32 = 1; // verdicts.indexOf('leak')
const VERDICTS: i32 = 6;

// Byte classes of a URL's authority (as parseNativeFast's tables).
const HOST_PLAIN: u8 = 0;
const HOST_UPPER: u8 = 1;
const HOST_END: u8 = 2;
const HOST_COLON: u8 = 3;
const HOST_REFUSED: u8 = 4;

let urlClasses: i32 = 0;
let connectClasses: i32 = 0;
let inputBase: i32 = 0;
let inputCapacity: i32 = 0;
let entriesBase: i32 = 0;
let keyMask: i32 = 0;
let poolBase: i32 = 0;
let poolLimit: i32 = 0;
let poolUsed: i32 = 0;
let keyCount: i32 = 0;
let keyLimit: i32 = 0;
let sumsBase: i32 = 0;
let pathsBase: i32 = 0;
let verdictsBase: i32 = 0;
let upstreamBase: i32 = 0; // UPSTREAMS entries of (pool offset, length, path) int32s
let upstreamPool: i32 = 0;
let upstreamCount: i32 = 0;
let upstreamUsed: i32 = 0;
let addressBase: i32 = 0;
let addressCount: i32 = 0;
let routesBase: i32 = 0; // ROUTES starts (u32, ascending), then ROUTES paths (u8)
let routeCount: i32 = 0;
let openBase: i32 = 0;
let openList: i32 = 0; // the places of openBase in use (OPEN_RUNS int32s)
let openCount: i32 = 0;
let codesBase: i32 = 0; // CODES entries of (length, kind) int32s, then CODES x CODE_BYTES bytes
let codeCount: i32 = 0;
let codeNext: i32 = 0; // the entry the next new code replaces once all CODES are in use
let runsBase: i32 = 0;
let scratchBase: i32 = 0;
let maxLineBytes: i32 = 0;
let fieldsBase: i32 = 0; // ZEEK_FIELDS (start, end) int32 pairs: the fields of a Zeek line
let unsetBase: i32 = 0; // the Zeek section's unset marker (ZEEK_UNSET bytes at most)

// ---- the Zeek conn section's layout (setZeek)
const ZEEK_FIELDS: i32 = 256;
const ZEEK_UNSET: i32 = 64;
let zeekSeparator: i32 = 9;
let zeekLast: i32 = 0;
let zeekTs: i32 = -1;
let zeekResp: i32 = -1;
let zeekPort: i32 = -1;
let zeekProto: i32 = -1;
let zeekDuration: i32 = -1;
let zeekUp: i32 = -1;
let zeekDown: i32 = -1;
let zeekUnsetLength: i32 = 1;

// ---- results of the last scan() call
let linesDone: i32 = 0;
let runCount: i32 = 0;
let declined: i32 = 0;

// ---- per-call parameters
let leakFull: i32 = 0;
let bucketMs: f64 = 1000;
let budget: f64 = 0;
let emitted: f64 = 0; // bytes of the runs handed over by this call
let pending: f64 = 0; // bytes of the open runs (kept from one call to the next)

function align(at: i32, to: i32): i32 {
  return (at + to - 1) & ~(to - 1);
}

/**
 * Lays the memory out for `limit` keys (rows), `poolBytes` bytes of names, input chunks of up to
 * `capacity` bytes and lines of up to `maxLine` bytes (longer ones go to JS). Returns 0, or -1
 * when the memory could not grow.
 */
export function setup(limit: i32, poolBytes: i32, capacity: i32, maxLine: i32): i32 {
  let at = align(i32(memory.size()) << 16, 16);
  const start = at;
  urlClasses = at;
  at += 256;
  connectClasses = at;
  at += 256;
  inputBase = at;
  inputCapacity = capacity;
  at = align(at + capacity + PAD, 16);
  let places = 1024;
  while (places < limit * 2) places <<= 1;
  entriesBase = at;
  keyMask = places - 1;
  at += places * 16;
  poolBase = at;
  poolLimit = poolBytes;
  at = align(at + poolBytes, 16);
  keyLimit = limit;
  sumsBase = at;
  at += limit * 40;
  pathsBase = at;
  at = align(at + limit, 16);
  verdictsBase = at;
  at = align(at + limit, 16);
  upstreamBase = at;
  at += UPSTREAMS * 12;
  upstreamPool = at;
  at = align(at + UPSTREAM_POOL, 16);
  addressBase = at;
  at += ADDRESS_PLACES * 8;
  routesBase = at;
  at += ROUTES * 5;
  at = align(at, 16);
  openBase = at;
  at += OPEN_RUNS * RUN_BYTES;
  openList = at;
  at += OPEN_RUNS * 4;
  codesBase = at;
  at += CODES * (8 + CODE_BYTES);
  runsBase = at;
  at += RUNS_OUT * RUN_BYTES;
  scratchBase = at;
  at += SCRATCH;
  fieldsBase = at;
  at += ZEEK_FIELDS * 8;
  unsetBase = at;
  at += ZEEK_UNSET;
  maxLineBytes = maxLine;
  const pages = ((at - start + 0xffff) >>> 16) + 1;
  if (memory.grow(pages) < 0) return -1;
  for (let c = 0; c < 256; c++) {
    let kind: u8 = HOST_PLAIN;
    if (c >= 0x41 && c <= 0x5a) kind = HOST_UPPER;
    else if (c == 0x20) kind = HOST_END;
    else if (c == 0x3a) kind = HOST_COLON;
    else if (c == 0x40 || c == 0x5b || c == 0x5c || c >= 0x80) kind = HOST_REFUSED;
    store<u8>(connectClasses + c, kind);
    if (c == 0x2f || c == 0x3f || c == 0x23) kind = HOST_END;
    store<u8>(urlClasses + c, kind);
  }
  clearKeys();
  clearAddresses();
  return 0;
}

export function inputPointer(): i32 {
  return inputBase;
}
export function inputBytes(): i32 {
  return inputCapacity;
}
export function sumsPointer(): i32 {
  return sumsBase;
}
export function runsPointer(): i32 {
  return runsBase;
}
export function runsRoom(): i32 {
  return RUNS_OUT;
}
export function scratchPointer(): i32 {
  return scratchBase;
}
export function routesPointer(): i32 {
  return routesBase;
}
export function routesRoom(): i32 {
  return ROUTES;
}

/**
 * The actual path of every IPv4 destination, as `count` ranges written at routesPointer(): their
 * first addresses (ascending, the first 0) and then their paths. JS computes them from the
 * topology (destinationPath4 at each range's start); 0 ranges: ask JS (learnAddressPath).
 */
export function setRoutes(count: i32): void {
  routeCount = count;
}
export function lines(): i32 {
  return linesDone;
}
export function runs(): i32 {
  return runCount;
}
export function wasDeclined(): i32 {
  return declined;
}

/**
 * Ready for another input, as setup() left it but for the remembered hierarchy codes (whose kinds
 * do not depend on the input): no keys, upstreams, addresses, routes or open runs. JS hands the
 * open runs over (flushRuns) before; any left are dropped.
 */
export function reset(): void {
  clearKeys();
  clearAddresses();
  for (let k = 0; k < openCount; k++) store<f64>(openBase + load<i32>(openList + k * 4) * RUN_BYTES, 0);
  openCount = 0;
  pending = 0;
  emitted = 0;
  runCount = 0;
  linesDone = 0;
  declined = 0;
  routeCount = 0;
}

/** Forgets every key and upstream (the counter started over). */
export function clearKeys(): void {
  if (keyCount > 0) memory.fill(entriesBase, 0, (keyMask + 1) * 16);
  poolUsed = 0;
  keyCount = 0;
  upstreamCount = 0;
  upstreamUsed = 0;
}

function clearAddresses(): void {
  memory.fill(addressBase, 0, ADDRESS_PLACES * 8);
  addressCount = 0;
}

function placeOf(a: i32, b: i32): i32 {
  const hash = (a ^ (b * <i32>0x9e3779b1)) * <i32>0x85ebca6b;
  return hash ^ (hash >>> 15);
}

/**
 * The name in the scratch area (`length` bytes) with `number` (port and path)
 * is row `row`, whose flows have actual path `path` and verdict `verdict`. Ignored when the table
 * has no room (its lines then keep going to JS).
 */
export function learnName(length: i32, number: i32, row: i32, path: i32, verdict: i32): void {
  if (row < 0 || row >= keyLimit) return;
  store<u8>(pathsBase + row, u8(path));
  store<u8>(verdictsBase + row, u8(verdict));
  if (length > MAX_NAME_BYTES || length > SCRATCH) return;
  const hash = nameHash(scratchBase, length);
  if (keyCount * 2 + 2 > keyMask + 1 || poolUsed + length > poolLimit) return;
  const packed = number | (length << NUMBER_BITS);
  let place = placeOf(hash, packed) & keyMask;
  while (load<i32>(entriesBase + place * 16 + 8) != 0) place = (place + 1) & keyMask;
  const at = entriesBase + place * 16;
  memory.copy(poolBase + poolUsed, scratchBase, length);
  store<i32>(at, hash);
  store<i32>(at + 4, packed);
  store<i32>(at + 8, row + 1);
  store<i32>(at + 12, poolUsed);
  poolUsed += length;
  keyCount++;
}

/**
 * The IPv4 destination `address` (its bits) with `number` (AuditCounter's address key: port and a
 * bit no name key has) is row `row`, whose flows have actual path `path` and verdict `verdict`.
 * Ignored when the table has no room (its lines then keep going to JS).
 */
export function learnAddress(address: i32, number: i32, row: i32, path: i32, verdict: i32): void {
  if (row < 0 || row >= keyLimit) return;
  store<u8>(pathsBase + row, u8(path));
  store<u8>(verdictsBase + row, u8(verdict));
  if (keyCount * 2 + 2 > keyMask + 1) return;
  let place = placeOf(address, number) & keyMask;
  while (load<i32>(entriesBase + place * 16 + 8) != 0) place = (place + 1) & keyMask;
  const at = entriesBase + place * 16;
  store<i32>(at, address);
  store<i32>(at + 4, number);
  store<i32>(at + 8, row + 1);
  store<i32>(at + 12, 0);
  keyCount++;
}

/** The row of an address key (learnAddress), or -1. */
function findAddress(address: i32, number: i32): i32 {
  let place = placeOf(address, number) & keyMask;
  for (;;) {
    const at = entriesBase + place * 16;
    const rowPlusOne = load<i32>(at + 8);
    if (rowPlusOne == 0) return -1;
    if (load<i32>(at) == address && load<i32>(at + 4) == number) return rowPlusOne - 1;
    place = (place + 1) & keyMask;
  }
  return -1;
}

/** The upstream proxy in the scratch area (`length` bytes) gives actual path `path`. */
export function learnUpstream(length: i32, path: i32): void {
  if (upstreamCount >= UPSTREAMS || upstreamUsed + length > UPSTREAM_POOL) return;
  const at = upstreamBase + upstreamCount * 12;
  memory.copy(upstreamPool + upstreamUsed, scratchBase, length);
  store<i32>(at, upstreamUsed);
  store<i32>(at + 4, length);
  store<i32>(at + 8, path);
  upstreamUsed += length;
  upstreamCount++;
}

/** The IPv4 address `address` (its bits) gives actual path `path` (the topology's prefixes). */
export function learnAddressPath(address: i32, path: i32): void {
  if (addressCount * 2 >= ADDRESS_PLACES) clearAddresses();
  let place = placeOf(address, 7) & (ADDRESS_PLACES - 1);
  for (;;) {
    const at = addressBase + place * 8;
    const stored = load<i32>(at + 4);
    if (stored == 0) {
      store<i32>(at, address);
      store<i32>(at + 4, path + 1);
      addressCount++;
      return;
    }
    if (load<i32>(at) == address) return;
    place = (place + 1) & (ADDRESS_PLACES - 1);
  }
}

function addressPath(address: i32): i32 {
  if (routeCount > 0) {
    // the last range starting at or below the address
    let low = 0;
    let high = routeCount - 1;
    const value = u32(address);
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (load<u32>(routesBase + middle * 4) <= value) low = middle;
      else high = middle - 1;
    }
    return i32(load<u8>(routesBase + ROUTES * 4 + low));
  }
  let place = placeOf(address, 7) & (ADDRESS_PLACES - 1);
  for (;;) {
    const at = addressBase + place * 8;
    const stored = load<i32>(at + 4);
    if (stored == 0) return -1;
    if (load<i32>(at) == address) return stored - 1;
    place = (place + 1) & (ADDRESS_PLACES - 1);
  }
  return -1;
}

function upstreamPath(start: i32, end: i32): i32 {
  const length = end - start;
  for (let k = 0; k < upstreamCount; k++) {
    const at = upstreamBase + k * 12;
    if (load<i32>(at + 4) != length) continue;
    if (same(upstreamPool + load<i32>(at), start, length)) return load<i32>(at + 8);
  }
  return -1;
}

function findName(start: i32, end: i32, hash: i32, number: i32): i32 {
  const length = end - start;
  if (length > MAX_NAME_BYTES) return -1;
  const packed = number | (length << NUMBER_BITS);
  let place = placeOf(hash, packed) & keyMask;
  for (;;) {
    const at = entriesBase + place * 16;
    const rowPlusOne = load<i32>(at + 8);
    if (rowPlusOne == 0) return -1;
    if (load<i32>(at) == hash && load<i32>(at + 4) == packed) {
      if (same(poolBase + load<i32>(at + 12), start, length)) return rowPlusOne - 1;
    }
    place = (place + 1) & keyMask;
  }
  return -1;
}

/** True when the `length` bytes at `a` and at `b` are the same (8 at a time). */
function same(a: i32, b: i32, length: i32): bool {
  let i = 0;
  for (; i + 8 <= length; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false;
  for (; i < length; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

/**
 * The scanner's own hash of a name (its key table needs no FNV-1a: learnName hashes the bytes it
 * is given the same way), 8 bytes at a time.
 */
function nameHash(at: i32, length: i32): i32 {
  let hash: u64 = 0x9e3779b97f4a7c15 ^ u64(length);
  let i = 0;
  for (; i + 8 <= length; i += 8) {
    hash = (hash ^ load<u64>(at + i)) * 0xff51afd7ed558ccd;
    hash ^= hash >>> 29;
  }
  if (i < length) {
    const rest = load<u64>(at + i) & ((u64(1) << (u64(length - i) * 8)) - 1);
    hash = (hash ^ rest) * 0xff51afd7ed558ccd;
    hash ^= hash >>> 29;
  }
  return i32(hash ^ (hash >>> 32));
}

/**
 * The first byte in [start, end) that ends a URL's host (space, `/`, `?`, `#`; for CONNECT only a
 * space), is its port's colon or is refused (`@`, `[`, `\`), or `end` or past it.
 */
function hostEndAt(start: i32, end: i32, connect: bool): i32 {
  const space = i8x16.splat(0x20);
  const colon = i8x16.splat(0x3a);
  const at = i8x16.splat(0x40);
  const bracket = i8x16.splat(0x5b);
  const backslash = i8x16.splat(0x5c);
  const slash = i8x16.splat(0x2f);
  const question = i8x16.splat(0x3f);
  const hash = i8x16.splat(0x23);
  for (let i = start; i < end; i += 16) {
    const block = v128.load(i);
    let hits = v128.or(
      v128.or(i8x16.eq(block, space), i8x16.eq(block, colon)),
      v128.or(i8x16.eq(block, at), v128.or(i8x16.eq(block, bracket), i8x16.eq(block, backslash))),
    );
    if (!connect)
      hits = v128.or(hits, v128.or(i8x16.eq(block, slash), v128.or(i8x16.eq(block, question), i8x16.eq(block, hash))));
    const mask = i8x16.bitmask(hits);
    if (mask != 0) return i + ctz(mask);
  }
  return end;
}

// ---- the line scanner

@inline
function isDigit(c: i32): bool {
  return u32(c - 0x30) <= 9;
}

/** The first space in [start, end), or `end` (16 bytes at a time: reads up to 15 past `end`). */
function spaceAt(start: i32, end: i32): i32 {
  const spaces = i8x16.splat(0x20);
  for (let i = start; i < end; i += 16) {
    const mask = i8x16.bitmask(i8x16.eq(v128.load(i), spaces));
    if (mask != 0) {
      const at = i + ctz(mask);
      return at < end ? at : end;
    }
  }
  return end;
}

/** The first `/` or space in [start, end), or `end`. */
function slashOrSpaceAt(start: i32, end: i32): i32 {
  const spaces = i8x16.splat(0x20);
  const slashes = i8x16.splat(0x2f);
  for (let i = start; i < end; i += 16) {
    const block = v128.load(i);
    const mask = i8x16.bitmask(v128.or(i8x16.eq(block, spaces), i8x16.eq(block, slashes)));
    if (mask != 0) {
      const at = i + ctz(mask);
      return at < end ? at : end;
    }
  }
  return end;
}

function bytesAre6(at: i32, a: i32, b: i32, c: i32, d: i32, e: i32, f: i32): bool {
  return (
    load<u8>(at) == a &&
    load<u8>(at + 1) == b &&
    load<u8>(at + 2) == c &&
    load<u8>(at + 3) == d &&
    load<u8>(at + 4) == e &&
    load<u8>(at + 5) == f
  );
}

/** `DIRECT` at `at`. */
function isDirect(at: i32): bool {
  return bytesAre6(at, 0x44, 0x49, 0x52, 0x45, 0x43, 0x54);
}

/** `text` (ASCII) at `at`, within `end`. */
function startsWith(at: i32, end: i32, text: string): bool {
  const length = text.length;
  if (end - at < length) return false;
  for (let i = 0; i < length; i++) if (i32(load<u8>(at + i)) != text.charCodeAt(i)) return false;
  return true;
}

function equals(at: i32, end: i32, text: string): bool {
  return end - at == text.length && startsWith(at, end, text);
}

function contains(at: i32, end: i32, text: string): bool {
  for (let i = at; i + text.length <= end; i++) if (startsWith(i, end, text)) return true;
  return false;
}

const KIND_DESTINATION: i32 = 0;
const KIND_UPSTREAM: i32 = 1;
const KIND_NONE: i32 = 2;
const KIND_UNKNOWN: i32 = 3;

/** hierarchyKind() (src/ingest/squid.ts) of the code in [start, end). */
function hierarchyKind(start: i32, end: i32): i32 {
  let at = start;
  if (startsWith(at, end, 'TIMEOUT_')) at += 8;
  if (startsWith(at, end, 'HIER_')) at += 5;
  if (equals(at, end, 'NONE')) return KIND_NONE;
  if (
    equals(at, end, 'DIRECT') ||
    equals(at, end, 'CLOSEST_DIRECT') ||
    equals(at, end, 'ORIGINAL_DST') ||
    equals(at, end, 'PINNED')
  )
    return KIND_DESTINATION;
  if (contains(at, end, 'PARENT') || contains(at, end, 'SIBLING') || contains(at, end, 'CARP') || contains(at, end, 'PEER'))
    return KIND_UPSTREAM;
  return KIND_UNKNOWN;
}

/**
 * hierarchyKind() of [start, end), remembered for the last CODES distinct codes of up to
 * CODE_BYTES bytes it worked out (logs use two or three): a new one replaces the oldest.
 */
function kindOf(start: i32, end: i32): i32 {
  const length = end - start;
  const pool = codesBase + CODES * 8;
  for (let k = 0; k < codeCount; k++) {
    if (load<i32>(codesBase + k * 8) != length) continue;
    if (same(pool + k * CODE_BYTES, start, length)) return load<i32>(codesBase + k * 8 + 4);
  }
  const kind = hierarchyKind(start, end);
  if (length <= CODE_BYTES) {
    const k = codeNext;
    codeNext = (codeNext + 1) % CODES;
    if (codeCount < CODES) codeCount++;
    memory.copy(pool + k * CODE_BYTES, start, length);
    store<i32>(codesBase + k * 8, length);
    store<i32>(codesBase + k * 8 + 4, kind);
  }
  return kind;
}

/** ipv4Int32() (src/ingest/fields.ts) as an i64: the address's bits, or -1 when not a dotted quad. */
function ipv4(start: i32, end: i32): i64 {
  let value: i32 = 0;
  let part: i32 = 0;
  let digits: i32 = 0;
  let dots: i32 = 0;
  for (let i = start; i < end; i++) {
    const c = i32(load<u8>(i));
    if (c == 0x2e) {
      if (digits == 0 || dots == 3) return -1;
      value = (value << 8) | part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      const digit = c - 0x30;
      if (digit < 0 || digit > 9 || (digits > 0 && part == 0)) return -1;
      part = part * 10 + digit;
      if (part > 255) return -1;
      digits++;
    }
  }
  if (digits == 0 || dots != 3) return -1;
  return i64(u32((value << 8) | part));
}

/**
 * Counts the native line [start, end) as parseNativeFast and AuditCounter.count() would, or
 * returns false having changed nothing (JS reads the line).
 */
function countLine(start: i32, end: i32): bool {
  let i = start;
  let c = i32(load<u8>(i));
  // Digits are summed as integers (a shorter dependency chain than doubles): the same values as
  // parseNativeFast's doubles while they are below 2^53, and a field longer than that is refused
  // by both (more than 11 digits of seconds, 16 of elapsed time, 15 of bytes).
  let seconds: i64 = 0;
  const timeStart = i;
  while (isDigit(c)) {
    seconds = seconds * 10 + i64(c - 0x30);
    c = i32(load<u8>(++i));
  }
  if (i - timeStart < 9 || i - timeStart > 11) return false;
  let millis: f64 = 0;
  if (c == 0x2e) {
    let digits = 0;
    c = i32(load<u8>(++i));
    while (isDigit(c)) {
      if (digits < 3) {
        millis = millis * 10 + f64(c - 0x30);
        digits++;
      }
      c = i32(load<u8>(++i));
    }
    for (; digits < 3; digits++) millis *= 10;
  }
  if (c != 0x20) return false;
  const endTime = f64(seconds) * 1000 + millis;
  while (load<u8>(i) == 0x20) i++;
  let elapsedDigits: i64 = 0;
  const elapsedStart = i;
  c = i32(load<u8>(i));
  while (isDigit(c)) {
    elapsedDigits = elapsedDigits * 10 + i64(c - 0x30);
    c = i32(load<u8>(++i));
  }
  if (i == elapsedStart || c != 0x20 || i - elapsedStart > 16) return false;
  const elapsed = f64(elapsedDigits);
  if (elapsed > endTime) return false;
  while (load<u8>(i) == 0x20) i++;
  // client (scan() declined every line with a byte above ASCII)
  i = spaceAt(i, end);
  if (i >= end) return false;
  while (load<u8>(i) == 0x20) i++;
  // code/status
  i = spaceAt(i, end);
  if (i >= end) return false;
  while (load<u8>(i) == 0x20) i++;
  // reply bytes
  let bytesDigits: i64 = 0;
  const bytesStart = i;
  c = i32(load<u8>(i));
  while (isDigit(c)) {
    bytesDigits = bytesDigits * 10 + i64(c - 0x30);
    c = i32(load<u8>(++i));
  }
  if (i == bytesStart || c != 0x20 || i - bytesStart > 15) return false;
  const bytesDown = f64(bytesDigits);
  while (load<u8>(i) == 0x20) i++;
  // method
  const methodStart = i;
  i = spaceAt(i, end);
  if (i >= end) return false;
  const connect =
    i - methodStart == 7 &&
    load<u8>(methodStart) == 0x43 &&
    bytesAre6(methodStart + 1, 0x4f, 0x4e, 0x4e, 0x45, 0x43, 0x54);
  while (load<u8>(i) == 0x20) i++;
  // URL
  const urlStart = i;
  let authority = urlStart;
  let port: i32 = -1;
  if (!connect) {
    if (
      load<u8>(urlStart) != 0x68 ||
      load<u8>(urlStart + 1) != 0x74 ||
      load<u8>(urlStart + 2) != 0x74 ||
      load<u8>(urlStart + 3) != 0x70
    )
      return false;
    if (load<u8>(urlStart + 4) == 0x3a && load<u8>(urlStart + 5) == 0x2f && load<u8>(urlStart + 6) == 0x2f) {
      port = 80;
      authority = urlStart + 7;
    } else if (
      load<u8>(urlStart + 4) == 0x73 &&
      load<u8>(urlStart + 5) == 0x3a &&
      load<u8>(urlStart + 6) == 0x2f &&
      load<u8>(urlStart + 7) == 0x2f
    ) {
      port = 443;
      authority = urlStart + 8;
    } else {
      return false;
    }
  }
  // The host runs to the first byte whose class is not PLAIN or UPPER (16 bytes at a time: the
  // bytes of those classes a URL's host may end at, the rest are plain here, since scan()
  // declined lines with bytes above ASCII).
  const classes = connect ? connectClasses : urlClasses;
  let j = hostEndAt(authority, end, connect);
  let stop: u8 = HOST_END;
  if (j < end) stop = load<u8>(classes + i32(load<u8>(j)));
  else j = end;
  if (stop == HOST_REFUSED) return false;
  const hostStart = authority;
  const hostEnd = j;
  if (hostEnd == authority) return false;
  const hash = nameHash(hostStart, hostEnd - hostStart);
  if (stop == HOST_COLON) {
    const colon = j;
    for (j++; j < end; j++) {
      c = i32(load<u8>(j));
      if (isDigit(c)) continue;
      if (load<u8>(classes + c) == HOST_END) break;
      return false;
    }
    if (j == colon + 1 || j - colon > 6) return false;
    port = 0;
    for (let k = colon + 1; k < j; k++) port = port * 10 + (i32(load<u8>(k)) - 0x30);
    if (port > 65535) return false;
  } else if (connect) {
    return false;
  }
  const urlEnd = j < end && load<u8>(j) == 0x20 ? j : spaceAt(j, end);
  if (urlEnd >= end) return false;
  // rfc931 user
  i = urlEnd;
  while (load<u8>(i) == 0x20) i++;
  i = spaceAt(i, end);
  if (i >= end) return false;
  while (load<u8>(i) == 0x20) i++;
  // hierarchy code/peer
  const hierStart = i;
  const slash = slashOrSpaceAt(hierStart, end);
  if (slash >= end || load<u8>(slash) != 0x2f) return false;
  const peerStart = slash + 1;
  const hierEnd = spaceAt(peerStart, end);
  const noPeer = peerStart == hierEnd || (load<u8>(peerStart) == 0x2d && peerStart + 1 == hierEnd);
  if (noPeer) return false; // the JS path builds its record
  const codeLength = slash - hierStart;
  const direct =
    (codeLength == 11 &&
      load<u8>(hierStart) == 0x48 &&
      load<u8>(hierStart + 1) == 0x49 &&
      load<u8>(hierStart + 2) == 0x45 &&
      load<u8>(hierStart + 3) == 0x52 &&
      load<u8>(hierStart + 4) == 0x5f &&
      isDirect(hierStart + 5)) ||
    (codeLength == 6 && isDirect(hierStart));
  const kind = direct ? KIND_DESTINATION : kindOf(hierStart, slash);
  let path: i32 = -1;
  if (kind == KIND_UPSTREAM) {
    path = upstreamPath(peerStart, hierEnd);
  } else if (kind == KIND_DESTINATION) {
    const address = ipv4(peerStart, hierEnd);
    if (address < 0) return false;
    path = addressPath(i32(address));
  }
  if (path < 0) return false;
  // AuditCounter.count(): one probe with the name, the port and the path
  const number = (port + 1) | (path << 17);
  const row = findName(hostStart, hostEnd, hash, number);
  if (row < 0) return false;
  const verdict = i32(load<u8>(verdictsBase + row));
  if (verdict == LEAK && !leakFull) return false;
  const rowPath = i32(load<u8>(pathsBase + row));
  const up: f64 = 0; // Math.max(-1, 0): Squid logs no bytes up
  const down = bytesDown;
  const first = endTime - elapsed;
  const last = endTime;
  countRun(rowPath, verdict, up + down, first, first, last);
  const at = sumsBase + row * 40;
  store<f64>(at, load<f64>(at) + 1);
  store<f64>(at + 8, load<f64>(at + 8) + up);
  store<f64>(at + 16, load<f64>(at + 16) + down);
  if (first < load<f64>(at + 24)) store<f64>(at + 24, first);
  if (last > load<f64>(at + 32)) store<f64>(at + 32, last);
  return true;
}

// ---- Zeek conn lines (TSV): ZeekTsvReader.countBytes and countConn (src/ingest/zeek.ts), then
// AuditCounter.count() by address key, with the same refusals and the same double operations.

/**
 * The current Zeek conn section's layout (JS sends it before each scan() of a Zeek chunk): its
 * one-byte separator, the last column read, the columns of ts, id.resp_h, id.resp_p, proto,
 * duration, orig_bytes and resp_bytes (-1: absent), and its unset marker (`unsetLength` bytes in
 * the scratch area). Returns 0, or -1 when the layout is beyond the scanner (JS reads the lines)
 * or not one (a column past `last`, or below -1, or below 0 for ts, id.resp_h and proto).
 */
export function setZeek(
  separator: i32,
  last: i32,
  ts: i32,
  resp: i32,
  port: i32,
  proto: i32,
  duration: i32,
  up: i32,
  down: i32,
  unsetLength: i32,
): i32 {
  if (last < 0 || last >= ZEEK_FIELDS || unsetLength < 0 || unsetLength > ZEEK_UNSET) return -1;
  if (!isColumn(ts, last, false) || !isColumn(resp, last, false) || !isColumn(proto, last, false)) return -1;
  if (!isColumn(port, last, true) || !isColumn(duration, last, true)) return -1;
  if (!isColumn(up, last, true) || !isColumn(down, last, true)) return -1;
  zeekSeparator = separator;
  zeekLast = last;
  zeekTs = ts;
  zeekResp = resp;
  zeekPort = port;
  zeekProto = proto;
  zeekDuration = duration;
  zeekUp = up;
  zeekDown = down;
  zeekUnsetLength = unsetLength;
  memory.copy(unsetBase, scratchBase, unsetLength);
  return 0;
}

/**
 * A column setZeek() may be given: from 0 (-1, absent, when `optional`) to `last` (so below
 * ZEEK_FIELDS). Any other would make scan() read outside the fields it split the line into.
 */
function isColumn(index: i32, last: i32, optional: bool): bool {
  return index >= (optional ? -1 : 0) && index <= last;
}

/** The first separator byte in [start, end), or `end` (16 bytes at a time). */
function separatorAt(start: i32, end: i32): i32 {
  const separators = i8x16.splat(i8(zeekSeparator));
  for (let i = start; i < end; i += 16) {
    const mask = i8x16.bitmask(i8x16.eq(v128.load(i), separators));
    if (mask != 0) {
      const at = i + ctz(mask);
      return at < end ? at : end;
    }
  }
  return end;
}

@inline
function fieldStart(index: i32): i32 {
  return load<i32>(fieldsBase + index * 8);
}

@inline
function fieldEnd(index: i32): i32 {
  return load<i32>(fieldsBase + index * 8 + 4);
}

/** isUnsetBytes(): the column is absent or holds the unset marker. */
function isUnset(index: i32): bool {
  if (index < 0) return true;
  const start = fieldStart(index);
  return fieldEnd(index) - start == zeekUnsetLength && same(unsetBase, start, zeekUnsetLength);
}

const MAX_SAFE: i64 = 9007199254740991;

/**
 * parseScaledDecimalBytes(b, 6, ...) of a field, or -1 where it gives NaN. The digits are summed
 * as integers: the same value as the JS doubles while it stays at or below 2^53 - 1, and a value
 * past that is NaN in JS and -1 here (it is refused as soon as it passes it, before it overflows).
 */
function micros(index: i32): i64 {
  const start = fieldStart(index);
  const end = fieldEnd(index);
  if (end <= start) return -1;
  let value: i64 = 0;
  let fraction: i32 = -1;
  let digits: i32 = 0;
  for (let i = start; i < end; i++) {
    const c = i32(load<u8>(i));
    if (c == 0x2e) {
      if (fraction >= 0) return -1;
      fraction = 0;
      continue;
    }
    const digit = c - 0x30;
    if (digit < 0 || digit > 9) return -1;
    if (fraction >= 0) {
      if (fraction == 6) continue;
      fraction++;
    }
    if (value > MAX_SAFE) return -1;
    value = value * 10 + i64(digit);
    digits++;
  }
  if (digits == 0) return -1;
  for (let f = fraction < 0 ? 0 : fraction; f < 6; f++) {
    if (value > MAX_SAFE) return -1;
    value *= 10;
  }
  return value > MAX_SAFE ? -1 : value;
}

/** parseUintBytes() of a field, or -1 where it gives NaN. */
function count(index: i32): i64 {
  const start = fieldStart(index);
  const end = fieldEnd(index);
  if (end <= start || end - start > 16) return -1;
  let value: i64 = 0;
  for (let i = start; i < end; i++) {
    const digit = i32(load<u8>(i)) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + i64(digit);
  }
  return value > MAX_SAFE ? -1 : value;
}

/** Address keys carry this bit (AuditCounter's ADDRESS_KEY); no name key does. */
const ADDRESS_KEY: i32 = 1 << 20;

/**
 * Counts the Zeek conn line [start, end) as countBytes(), countConn() and AuditCounter.count()
 * would, or returns false having changed nothing (JS reads the line: headers, JSON records,
 * short lines, IPv6 or unset responders, other protocols, malformed numbers, unknown keys).
 */
function countZeekLine(start: i32, end: i32): bool {
  const first = load<u8>(start);
  if (first == 0x23 || first == 0x7b) return false; // `#` header, `{` JSON record
  // splitFields(): fields up to zeekLast, the line has at least that many
  const lastColumn = zeekLast;
  let index = 0;
  let i = start;
  store<i32>(fieldsBase, start);
  for (;;) {
    const at = separatorAt(i, end);
    if (at >= end) {
      store<i32>(fieldsBase + index * 8 + 4, end);
      if (index != lastColumn) return false;
      break;
    }
    store<i32>(fieldsBase + index * 8 + 4, at);
    if (index == lastColumn) break;
    index++;
    store<i32>(fieldsBase + index * 8, at + 1);
    i = at + 1;
  }
  const tsMicros = micros(zeekTs);
  if (tsMicros < 0) return false;
  const address = ipv4(fieldStart(zeekResp), fieldEnd(zeekResp));
  if (address < 0) return false;
  // isTcpOrUdp()
  const proto = fieldStart(zeekProto);
  if (fieldEnd(zeekProto) - proto != 3 || load<u8>(proto + 2) != 0x70) return false;
  const c0 = load<u8>(proto);
  const c1 = load<u8>(proto + 1);
  if (!((c0 == 0x74 && c1 == 0x63) || (c0 == 0x75 && c1 == 0x64))) return false;
  let port: i32 = -1;
  if (!isUnset(zeekPort)) {
    const value = count(zeekPort);
    if (value < 0 || value > 65535) return false;
    port = i32(value);
  }
  const ts = f64(tsMicros);
  let last: f64 = NaN;
  if (!isUnset(zeekDuration)) {
    const duration = micros(zeekDuration);
    if (duration < 0) return false;
    last = Math.floor((ts + f64(duration)) / 1000);
  }
  let up: f64 = -1;
  if (!isUnset(zeekUp)) {
    const value = count(zeekUp);
    if (value < 0) return false;
    up = f64(value);
  }
  let down: f64 = -1;
  if (!isUnset(zeekDown)) {
    const value = count(zeekDown);
    if (value < 0) return false;
    down = f64(value);
  }
  const firstMs = Math.floor(ts / 1000);
  // AuditCounter.count(), by address: one probe with the address and the port
  const row = findAddress(i32(address), (port + 1) | ADDRESS_KEY);
  if (row < 0) return false;
  const verdict = i32(load<u8>(verdictsBase + row));
  if (verdict == LEAK && !leakFull) return false;
  const rowPath = i32(load<u8>(pathsBase + row));
  const upBytes = Math.max(up, 0);
  const downBytes = Math.max(down, 0);
  const lastMs = isNaN(last) ? firstMs : last;
  countRun(rowPath, verdict, upBytes + downBytes, firstMs, firstMs, lastMs);
  const at = sumsBase + row * 40;
  store<f64>(at, load<f64>(at) + 1);
  store<f64>(at + 8, load<f64>(at + 8) + upBytes);
  store<f64>(at + 16, load<f64>(at + 16) + downBytes);
  if (firstMs < load<f64>(at + 24)) store<f64>(at + 24, firstMs);
  if (lastMs > load<f64>(at + 32)) store<f64>(at + 32, lastMs);
  return true;
}

// A run: the flows of one actual path and verdict whose times fall into one bucket of the time
// series' current width, added to the series at once (TimeSeries.addRun). Doubles: flows (0 for
// no run), bucket index, bytes, the first flow's time, the smallest first, the largest last,
// path, verdict. Open runs sit in a direct-mapped table; one that another run's key displaces is
// handed over then, the others when scan() returns. The order runs are handed over in differs
// from the lines' (flows of different buckets interleave), which changes nothing while the sums
// are exact (whole numbers up to 2^53: `budget`); past that, each flow is a run of its own, in order.

function emit(open: i32): void {
  memory.copy(runsBase + runCount * RUN_BYTES, open, RUN_BYTES);
  runCount++;
  const bytes = load<f64>(open + 16);
  pending -= bytes;
  emitted += bytes;
}

function emitOpen(): void {
  for (let k = 0; k < openCount; k++) {
    const open = openBase + load<i32>(openList + k * 4) * RUN_BYTES;
    emit(open);
    store<f64>(open, 0);
  }
  openCount = 0;
}

@inline
function start(open: i32, index: f64, bytes: f64, time: f64, first: f64, last: f64, path: i32, verdict: i32): void {
  store<f64>(open, 1);
  store<f64>(open + 8, index);
  store<f64>(open + 16, bytes);
  store<f64>(open + 24, time);
  store<f64>(open + 32, first);
  store<f64>(open + 40, last);
  store<f64>(open + 48, f64(path));
  store<f64>(open + 56, f64(verdict));
}

function countRun(path: i32, verdict: i32, bytes: f64, time: f64, first: f64, last: f64): void {
  const index = Math.floor(time / bucketMs);
  if (emitted + pending + bytes > budget) {
    emitOpen();
    const single = openBase; // place 0, empty after emitOpen()
    start(single, index, bytes, time, first, last, path, verdict);
    pending += bytes;
    emit(single);
    store<f64>(single, 0);
    return;
  }
  pending += bytes;
  const bits = reinterpret<i64>(index);
  const key = i32(bits ^ (bits >>> 32)) * 18 + path * VERDICTS + verdict;
  const place = (key * <i32>0x9e3779b1) >>> (32 - OPEN_BITS);
  const open = openBase + place * RUN_BYTES;
  const flows = load<f64>(open);
  if (flows != 0) {
    if (
      load<f64>(open + 8) == index &&
      load<f64>(open + 48) == f64(path) &&
      load<f64>(open + 56) == f64(verdict)
    ) {
      store<f64>(open, flows + 1);
      store<f64>(open + 16, load<f64>(open + 16) + bytes);
      if (first < load<f64>(open + 32)) store<f64>(open + 32, first);
      if (last > load<f64>(open + 40)) store<f64>(open + 40, last);
      return;
    }
    emit(open);
  } else {
    store<i32>(openList + openCount * 4, place);
    openCount++;
  }
  start(open, index, bytes, time, first, last, path, verdict);
}

/** Set by newlineAt(): whether the line has a byte above ASCII. */
let lineHigh: bool = false;

/**
 * Offset of the first `\n` in [from, length), or `length`; sets `lineHigh`. The bytes from
 * `length` on are zeroed (PAD), so the blocks may run past it.
 */
function newlineAt(from: i32, length: i32): i32 {
  const base = inputBase;
  const newlines = i8x16.splat(0x0a);
  let high: i32 = 0;
  for (let i = from; i < length; i += 16) {
    const block = v128.load(base + i);
    const mask = i8x16.bitmask(i8x16.eq(block, newlines));
    const highs = i8x16.bitmask(block);
    if (mask != 0) {
      const at = i + ctz(mask);
      // the high bytes before the newline only
      lineHigh = (high | (highs & ((1 << ctz(mask)) - 1))) != 0;
      return at < length ? at : length;
    }
    high |= highs;
  }
  lineHigh = high != 0;
  return length;
}

/**
 * Counts the lines of the input chunk (`length` bytes at inputPointer()) from offset `from` until
 * its end, a line it declines (wasDeclined() 1), or a full run buffer. Returns the offset it
 * stopped at (a line's start); lines() tells how many lines it counted or skipped (empty ones),
 * runs() how many runs it left at runsPointer(). `leak` is 1 when the aggregate keeps no more
 * leak evidence, `width` the time series' bucket width in ms, `room` how many more bytes the
 * series may take before its sums could pass 2^53. Open runs stay open from one call to the
 * next while `width` stays the same (a new width hands them over first); flushRuns() hands them over. `zeek` 1: the lines are Zeek conn records (setZeek()),
 * 0: Squid native lines.
 */
export function scan(from: i32, length: i32, leak: i32, width: f64, room: f64, zeek: i32): i32 {
  memory.fill(inputBase + length, 0, PAD);
  leakFull = leak;
  budget = room;
  emitted = 0;
  runCount = 0;
  declined = 0;
  // JS widened the series since the open runs were opened (a line it read, runs it added): their
  // indexes are at the old width, where a flow's index at the new one could match an unrelated
  // run's. Handed over now, each still lies in one bucket, as widths divide the wider ones.
  if (width != bucketMs) emitOpen();
  bucketMs = width;
  let position = from;
  let count = 0;
  const base = inputBase;
  while (position < length) {
    if (runCount + openCount + 2 > RUNS_OUT) break; // room for what one line may hand over
    const newline = newlineAt(position, length);
    let end = newline;
    if (end > position && load<u8>(base + end - 1) == 0x0d) end--;
    if (end > position) {
      if (
        end - position > maxLineBytes ||
        lineHigh ||
        !(zeek ? countZeekLine(base + position, base + end) : countLine(base + position, base + end))
      ) {
        declined = 1;
        break;
      }
    }
    count++;
    position = newline + 1;
  }
  linesDone = count;
  return position < length ? position : length;
}

/** Hands every open run over (at runsPointer(); returns how many): before the series is read. */
export function flushRuns(): i32 {
  runCount = 0;
  emitted = 0;
  emitOpen();
  return runCount;
}

/** The bytes of the open runs (JS drains them before it adds a flow that could pass 2^53). */
export function pendingBytes(): f64 {
  return pending;
}
