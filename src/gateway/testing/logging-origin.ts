// An HTTP/1.1 origin for smuggling tests that parses every request on a connection itself, the way a
// typical lenient server does (body framed by Transfer-Encoding: chunked, else Content-Length, else
// empty), answers each one in order on the same connection and logs it. If a proxy forwards a body
// whose framing header it removed, this origin sees the body as a second request: the log tells.
import { createServer, type Socket } from 'node:net';

export interface LoggedRequest {
  method: string;
  target: string;
  /** Lower-case header names to values (last one wins). */
  headers: Record<string, string>;
  body: string;
  remoteAddress: string;
}

export interface LoggingOrigin {
  port: number;
  /** Every request parsed so far, in order, across connections. */
  requests: LoggedRequest[];
  close(): Promise<void>;
}

/** Parses one request from `buffer`: the request and the bytes it used, or null when incomplete. */
function parseOne(buffer: Buffer): { request: Omit<LoggedRequest, 'remoteAddress'>; used: number } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [requestLine = '', ...lines] = buffer.toString('latin1', 0, end).split('\r\n');
  const [method = '', target = ''] = requestLine.split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let at = end + 4;
  let body = '';
  if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(buffer.toString('latin1', at, lineEnd), 16) || 0;
      if (buffer.length < lineEnd + 2 + size + 2) return null;
      body += buffer.toString('latin1', lineEnd + 2, lineEnd + 2 + size);
      at = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
  } else {
    const length = Number(headers['content-length'] ?? 0) || 0;
    if (buffer.length < at + length) return null;
    body = buffer.toString('latin1', at, at + length);
    at += length;
  }
  return { request: { method, target, headers, body }, used: at };
}

export async function startLoggingOrigin(host = '127.0.0.1'): Promise<LoggingOrigin> {
  const requests: LoggedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseOne(buffer);
        if (parsed === null) return;
        buffer = buffer.subarray(parsed.used);
        requests.push({ ...parsed.request, remoteAddress: socket.remoteAddress ?? '' });
        const body = `origin saw ${parsed.request.method} ${parsed.request.target}\n`;
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as { port: number }).port,
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
