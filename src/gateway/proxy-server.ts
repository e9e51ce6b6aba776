// The proxy listener: a raw TCP server whose connections are parsed by our own strict HTTP/1.1
// code (client-connection.ts), not node:http — that parser is lenient in places a proxy must not
// be, would hide CONNECT early data and half-close, and costs an object graph per request.
import { createServer, type Server, type Socket } from 'node:net';
import { listenError, splitHostPort } from '../util/host-port.js';
import { ClientConnection } from './client-connection.js';
import { type GatewayContext, nextConnectionId } from './context.js';

/** Something the gateway can drain at shutdown: the HTTP proxy's and the SOCKS listener's connections. */
export interface DrainableConnection {
  readonly busy: boolean;
  closeIfIdle(): void;
  abort(code: 'PW_GW_SHUTDOWN'): void;
}

export function createProxyServer(
  ctx: GatewayContext,
  connections: Set<DrainableConnection>,
  onConnectionClosed: () => void,
): Server {
  const server = createServer({ allowHalfOpen: true, noDelay: true });
  server.on('connection', (socket: Socket) => {
    if (!ctx.gate.admit(socket, connections.size)) return;
    const connection = new ClientConnection(ctx, socket, nextConnectionId(), (closed) => {
      connections.delete(closed);
      onConnectionClosed();
    });
    connections.add(connection);
  });
  return server;
}

/**
 * Listens on `host:port` (port 0 = any free one) and returns the bound `host:port`; a failure to
 * bind is PW_ERR_LISTEN naming `role` ("proxy", "SOCKS") and the address.
 */
export function listen(
  server: Server,
  hostPort: string,
  role: string,
): Promise<{ text: string; host: string; port: number }> {
  const { host, port } = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => reject(listenError(role, hostPort, error));
    server.once('error', failed);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', failed);
      const bound = server.address();
      if (bound === null || typeof bound === 'string') {
        reject(new Error(`cannot read the address of listener ${hostPort}`));
        return;
      }
      const text =
        bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
      resolve({ text, host: bound.address, port: bound.port });
    });
  });
}
