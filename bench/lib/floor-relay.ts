// The "node floor" of `bench:gateway --floor`: the least a Node.js forward proxy can do, in a process
// of its own, so that the benchmark shows in the same run how far each gateway target is from what
// any Node.js proxy reaches on the machine. No pathwarden code, no parsing beyond a CONNECT's
// request line, no policy, no records, no log.
//
// - Plain HTTP: per client connection one upstream connection to a fixed origin, the bytes relayed
//   both ways with 'data' and write (the minimal relay of "Plain-HTTP request path, session 10" in
//   docs/performance.md, which measured 33-39 us of CPU per request). The request line is not read,
//   so an absolute-form `GET http://host:port/` goes to the origin as it is (node:http accepts it).
// - CONNECT (the connection's first bytes are `CONNECT `): the head is read up to its blank line,
//   the target connected (a name through `map`, else taken as an address), `200` answered, and the
//   bytes relayed both ways, as a relay past a TLS ClientHello would: client to origin with `pipe`;
//   origin to client with Node's `onread` into reused 256 KiB buffers, the cheapest way Node offers
//   (a `pipe` allocates a fresh 64 KiB buffer per read, whose garbage made a bare `pipe` relay cost
//   about twice the CPU per MiB: "Tunnels and throughput, session 3" in docs/performance.md; the
//   gateway does the same in src/gateway/origin-reader.ts, not imported: the floor has no
//   pathwarden code).
// - Idle memory: started with `--expose-gc`, it runs a full collection once no connection has
//   arrived for RELEASE_AFTER_MS, and one more FOLLOW_UP_MS later, when V8 sees the low allocation
//   rate it needs to shrink the young generation (the gateway's idle release does the same, with
//   more conditions: src/gateway/idle-release.ts), so that its RSS with idle tunnels is what they
//   hold, not the garbage and the grown young generation of their handshakes.
//
// Run as a script: `node dist/bench/lib/floor-relay.js --origin HOST:PORT [--map NAME=ADDRESS]...`
// listens on 127.0.0.1 (a free port, or `--port N`) and writes `floor relay on 127.0.0.1:PORT` to
// stderr once it listens.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface FloorRelayOptions {
  /** Where plain-HTTP connections go (one upstream connection per client connection). */
  origin: { host: string; port: number };
  /** CONNECT names and the addresses they go to (the gateway's `resolve`, Squid's hosts_file). */
  map: ReadonlyMap<string, string>;
}

/** A CONNECT head larger than this is refused: the floor reads request lines, not bodies. */
const MAX_HEAD = 16_384;
const CONNECT_PREFIX = Buffer.from('CONNECT ');
const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n');
const BAD_GATEWAY = Buffer.from('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
const BAD_REQUEST = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
/** Origin-to-client reads, as large as the gateway's: a quarter of Node's reads and writes at 64 KiB. */
const CHUNK = 256 * 1024;
/** A read this large means the origin has bytes queued: the tunnel takes a read buffer of its own. */
const BULK_READ = 16 * 1024;
/** Where quiet tunnels read (copied before the write, so free again when the callback returns). */
const SHARED = Buffer.allocUnsafeSlow(CHUNK);
const RELEASE_AFTER_MS = 3000;
const FOLLOW_UP_MS = 6000;

/**
 * `from`'s bytes written to `to` with backpressure (`from` paused while `to` asks for drain), and
 * `from`'s end passed on as `to`'s end: the 'data'/write relay of the session-10 floor.
 */
function relay(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

/**
 * A failure of either socket takes the other down; a close ends the other gracefully, so that what
 * it still holds for its own peer is written first (a destroy would drop the tail of a transfer).
 */
function bind(a: Socket, b: Socket): void {
  const fail = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', fail);
  b.on('error', fail);
  a.on('close', () => b.end());
  b.on('close', () => a.end());
}

function plain(client: Socket, first: Buffer, options: FloorRelayOptions): void {
  const upstream = connect({
    host: options.origin.host,
    port: options.origin.port,
    noDelay: true,
    allowHalfOpen: true,
  });
  bind(client, upstream);
  upstream.write(first);
  relay(client, upstream);
  relay(upstream, client);
}

/** `CONNECT host:port HTTP/1.1` -> host and port; undefined when the line is not that. */
function connectTarget(head: string): { host: string; port: number } | undefined {
  const line = head.slice(0, head.indexOf('\r\n'));
  const match = /^CONNECT (\[[^\]]+\]|[^\s:]+):(\d{1,5}) HTTP\/1\.[01]$/.exec(line);
  if (!match) return undefined;
  const host = (match[1] as string).replace(/^\[(.*)\]$/, '$1');
  const port = Number(match[2]);
  return port > 0 && port < 65_536 ? { host, port } : undefined;
}

/**
 * Origin-to-client for a tunnel: `onread` for the origin's socket. Reads land in SHARED (copied, so
 * idle tunnels pin no buffer) until one shows bytes queued; then in a buffer of the tunnel's own,
 * written without a copy, and no further read until that write completes (the buffer is reused).
 */
function originToClient(client: Socket): {
  onread: { buffer: () => Buffer; callback: (length: number, buffer: Buffer) => boolean };
  attach(upstream: Socket): void;
} {
  let own: Buffer | null = null;
  let upstream: Socket | null = null;
  let waiting = false;
  // net.Socket's resume starts reading again after a callback returned false.
  const resume = () => {
    if (client.writableNeedDrain) {
      if (waiting) return;
      waiting = true;
      client.once('drain', () => {
        waiting = false;
        upstream?.resume();
      });
    } else upstream?.resume();
  };
  return {
    onread: {
      buffer: () => own ?? SHARED,
      callback: (length, buffer) => {
        if (buffer === SHARED) {
          const flowing = client.write(Buffer.from(buffer.subarray(0, length)));
          if (length >= BULK_READ) own = Buffer.allocUnsafeSlow(CHUNK);
          if (!flowing) resume();
          return flowing;
        }
        client.write(buffer.subarray(0, length), resume);
        // Queued or in flight, the write still points into `own`: read again once it is done.
        if (client.writableLength > 0) return false;
        if (length < BULK_READ) own = null;
        return true;
      },
    },
    attach(socket) {
      upstream = socket;
      socket.on('end', () => client.end());
      // Flowing, so that the origin's end is emitted as 'end' (no 'data' listener makes it so).
      socket.resume();
    },
  };
}

function tunnel(client: Socket, first: Buffer, options: FloorRelayOptions): void {
  let head = first;
  const onHead = (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > MAX_HEAD) client.end(BAD_REQUEST);
      return;
    }
    client.off('data', onHead);
    client.pause();
    const target = connectTarget(head.subarray(0, end + 2).toString('latin1'));
    if (target === undefined) {
      client.end(BAD_REQUEST);
      return;
    }
    const rest = head.subarray(end + 4);
    const down = originToClient(client);
    const upstream = connect({
      host: options.map.get(target.host) ?? target.host,
      port: target.port,
      noDelay: true,
      allowHalfOpen: true,
      onread: down.onread,
    });
    down.attach(upstream);
    upstream.once('error', () => {
      if (!client.destroyed) client.end(BAD_GATEWAY);
    });
    upstream.once('connect', () => {
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      bind(client, upstream);
      client.write(ESTABLISHED);
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
    });
  };
  client.on('data', onHead);
  onHead(Buffer.alloc(0));
}

/** The relay's server (not yet listening): plain HTTP or CONNECT, told apart by the first bytes. */
export function createFloorRelay(options: FloorRelayOptions): Server {
  // Half-open on both sides: a client's end reaches the origin as an end, and the origin's answer
  // still comes back (a tunnel carries whatever the two ends do).
  const collect = (globalThis as { gc?: () => void }).gc;
  let release: NodeJS.Timeout | undefined;
  return createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    if (collect) {
      clearTimeout(release);
      release = setTimeout(() => {
        collect();
        release = setTimeout(collect, FOLLOW_UP_MS);
        release.unref();
      }, RELEASE_AFTER_MS);
      release.unref();
    }
    client.on('error', () => client.destroy());
    client.once('data', (first: Buffer) => {
      const isConnect =
        first.length >= CONNECT_PREFIX.length &&
        first.subarray(0, CONNECT_PREFIX.length).equals(CONNECT_PREFIX);
      if (isConnect) tunnel(client, first, options);
      else plain(client, first, options);
    });
  });
}

function parseArgs(argv: readonly string[]): { options: FloorRelayOptions; port: number } {
  let origin: { host: string; port: number } | undefined;
  const map = new Map<string, string>();
  let port = 0;
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ''];
    if (flag === '--origin') {
      const at = value.lastIndexOf(':');
      origin = { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
    } else if (flag === '--map') {
      const at = value.indexOf('=');
      map.set(value.slice(0, at), value.slice(at + 1));
    } else if (flag === '--port') {
      port = Number(value);
    } else {
      throw new Error(`floor relay: unknown option ${flag}`);
    }
  }
  if (origin === undefined || !(origin.port > 0))
    throw new Error('floor relay: --origin HOST:PORT is required');
  return { options: { origin, map }, port };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { options, port } = parseArgs(process.argv.slice(2));
  const server = createFloorRelay(options);
  // The idle hold opens thousands of tunnels at 200 handshakes in flight.
  server.listen({ host: '127.0.0.1', port, backlog: 4096 }, () => {
    process.stderr.write(`floor relay on 127.0.0.1:${(server.address() as { port: number }).port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
