// A loopback TCP forwarder that a test can switch off and on: while off, every connection (new and
// open) is cut, which is how a remote store looks when its server or the network is away.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpSwitch {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #on = true;
  port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => {
      if (!this.#on) {
        client.destroy();
        return;
      }
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  }

  static async start(targetPort: number): Promise<TcpSwitch> {
    const forwarder = new TcpSwitch(targetPort);
    await new Promise<void>((resolve) => forwarder.#server.listen(0, '127.0.0.1', resolve));
    const address = forwarder.#server.address();
    forwarder.port = typeof address === 'object' && address ? address.port : 0;
    return forwarder;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  off(): void {
    this.#on = false;
    for (const socket of this.#sockets) socket.destroy();
  }

  on(): void {
    this.#on = true;
  }

  async close(): Promise<void> {
    this.off();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
