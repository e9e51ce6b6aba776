// Whether an address belongs to this host, asked of the kernel by binding a throwaway listener to
// it (port 0). That is also right for the whole of 127.0.0.0/8 on Linux, which no interface lists.
import { createServer } from 'node:net';

/** False only when the kernel says the address is not available here (EADDRNOTAVAIL). */
export function isLocalAddress(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'EADDRNOTAVAIL'));
    server.listen({ host: address, port: 0, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
