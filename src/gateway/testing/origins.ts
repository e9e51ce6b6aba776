// Origin servers for gateway tests, on loopback only: plain HTTP, TLS (with a throwaway self-signed
// certificate made by openssl) and a TCP echo. Each records the remote address of every connection
// it accepts, which is how tests see the egress a flow left on (127.0.0.2 circuit, 127.0.0.3 Internet).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';

export interface SeenConnection {
  remoteAddress: string;
  /** HTTP Host header or TLS SNI of the first request / handshake. */
  name: string | null;
}

export interface Origin {
  port: number;
  seen: SeenConnection[];
  /** Remote addresses of all connections so far. */
  remotes(): string[];
  close(): Promise<void>;
}

export interface Certificate {
  key: string;
  cert: string;
}

let certificate: Certificate | undefined;

/** A P-256 self-signed certificate for CN=test, made once per test process. */
export function testCertificate(): Certificate {
  if (certificate) return certificate;
  const dir = mkdtempSync(join(tmpdir(), 'pw-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=test',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    certificate = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
    return certificate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Open sockets of a server, so close() does not wait on kept-alive connections. */
function track(server: Server): { sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return { sockets };
}

async function listenOn(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as { port: number }).port;
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

export type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const defaultHandler: Handler = (request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = JSON.stringify({
      method: request.method,
      url: request.url,
      host: request.headers.host ?? null,
      remote: request.socket.remoteAddress,
      bodyBytes: Buffer.concat(chunks).length,
      headers: request.headers,
    });
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  });
};

/** An HTTP origin; `handler` answers requests (default: echo as JSON). */
export async function startHttpOrigin(
  handler: Handler = defaultHandler,
  host = '127.0.0.1',
): Promise<Origin> {
  const seen: SeenConnection[] = [];
  const server = createHttpServer({ keepAliveTimeout: 30_000 }, (request, response) => {
    const socket = request.socket as Socket & { seenIndex?: number };
    if (socket.seenIndex !== undefined) {
      const entry = seen[socket.seenIndex] as SeenConnection;
      entry.name ??= request.headers.host ?? null;
    }
    handler(request, response);
  });
  server.on('connection', (socket: Socket & { seenIndex?: number }) => {
    socket.seenIndex = seen.push({ remoteAddress: socket.remoteAddress ?? '', name: null }) - 1;
  });
  const { sockets } = track(server);
  const port = await listenOn(server, host);
  return { port, seen, remotes: () => seen.map((s) => s.remoteAddress), close: closer(server, sockets) };
}

/** A TLS origin that answers any bytes after the handshake with a small HTTP response. */
export async function startTlsOrigin(): Promise<Origin> {
  const seen: SeenConnection[] = [];
  const { key, cert } = testCertificate();
  const server = createTlsServer({ key, cert }, (socket: TLSSocket) => {
    const servername = (socket as TLSSocket & { servername?: string | false }).servername;
    seen.push({ remoteAddress: socket.remoteAddress ?? '', name: servername || null });
    socket.on('error', () => {});
    socket.once('data', () => {
      const body = `hello ${servername || '-'} from ${socket.remoteAddress}`;
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    });
  });
  server.on('tlsClientError', () => {});
  const { sockets } = track(server);
  const port = await listenOn(server);
  return { port, seen, remotes: () => seen.map((s) => s.remoteAddress), close: closer(server, sockets) };
}

/** A TCP origin whose connections `handler` serves (default: echo every byte, half-close aware). */
export async function startTcpOrigin(
  handler: (socket: Socket) => void = (socket) => socket.pipe(socket),
  host = '127.0.0.1',
): Promise<Origin> {
  const seen: SeenConnection[] = [];
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    seen.push({ remoteAddress: socket.remoteAddress ?? '', name: null });
    socket.on('error', () => {});
    handler(socket);
  });
  const { sockets } = track(server);
  const port = await listenOn(server, host);
  return { port, seen, remotes: () => seen.map((s) => s.remoteAddress), close: closer(server, sockets) };
}
