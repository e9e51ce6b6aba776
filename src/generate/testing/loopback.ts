// Loopback stand-ins for the network around a generated config: egress proxies and an origin
// server that record who asked for what, answering every request themselves. Only 127.0.0.0/8.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorder {
  port: number;
  /** Canonical host (lower case, no trailing dot) of every request, in arrival order. */
  hosts: string[];
  /** Remote address of every connection's requests, in arrival order. */
  remoteAddresses: string[];
  close(): Promise<void>;
}

/** Canonical form of a request's host: what decide() would compare. */
export function canonicalRequestHost(text: string): string {
  let host = text.toLowerCase();
  if (host.startsWith('[')) host = host.slice(0, host.indexOf(']') + 1);
  else if (host.includes(':')) host = host.slice(0, host.lastIndexOf(':'));
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function requestHost(request: IncomingMessage): string {
  const target = request.url ?? '';
  if (request.method === 'CONNECT') return canonicalRequestHost(target);
  if (/^[a-z]+:\/\//i.test(target))
    return canonicalRequestHost(target.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? '');
  return canonicalRequestHost(request.headers.host ?? '');
}

/**
 * An HTTP server on 127.0.0.1 that records each request's host and answers it with `label`:
 * as a forward proxy it stands for an egress, as a plain server for an origin. CONNECT gets 403
 * so that nothing is tunnelled anywhere.
 */
export async function startRecorder(label: string, host = '127.0.0.1'): Promise<Recorder> {
  const hosts: string[] = [];
  const remoteAddresses: string[] = [];
  const server: Server = createServer((request, response) => {
    hosts.push(requestHost(request));
    remoteAddresses.push(request.socket.remoteAddress ?? '');
    const body = `<!doctype html><title>${label}</title><p>answered by ${label}</p>\n`;
    response.writeHead(200, {
      'content-type': 'text/html',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    response.end(body);
  });
  server.on('connect', (request, socket) => {
    hosts.push(requestHost(request));
    remoteAddresses.push(request.socket.remoteAddress ?? '');
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hosts,
    remoteAddresses,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port that was free a moment ago (for programs that cannot listen on port 0 and report it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
