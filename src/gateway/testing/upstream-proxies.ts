// Upstream HTTP proxies for egress tests: Debian's Squid, started on a free loopback port with a
// minimal config in a temporary directory, and a small Node proxy. Each dials origins from its own
// source address, so the origin tells which upstream carried a flow; both record what they saw.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const squidPath = '/usr/sbin/squid';

export interface UpstreamProxyPeer {
  port: number;
  /** Request lines seen (`CONNECT 127.0.0.1:443`, `GET http://127.0.0.1:80/x`). */
  requests(): string[];
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`squid exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`squid did not listen on ${port} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Squid in the foreground (-N), no cache, loopback clients only, leaving from `outgoing`; `hosts`
 * is its hosts file (the lab's DNS: upstream proxies resolve names themselves).
 */
export async function startSquid(
  outgoing: string,
  hosts: Record<string, string>,
): Promise<UpstreamProxyPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-squid-'));
  // Squid started as root drops to the `proxy` user, which must be able to write its logs here.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const config = [
    `http_port 127.0.0.1:${port}`,
    `pid_filename ${join(dir, 'squid.pid')}`,
    'cache deny all',
    'cache_mem 8 MB',
    `access_log stdio:${join(dir, 'access.log')}`,
    `cache_log ${join(dir, 'cache.log')}`,
    'cache_store_log none',
    `coredump_dir ${dir}`,
    'pinger_enable off',
    'acl loopback src 127.0.0.0/8',
    'http_access allow loopback',
    'http_access deny all',
    `tcp_outgoing_address ${outgoing}`,
    'shutdown_lifetime 1 second',
    'buffered_logs off',
    `hosts_file ${join(dir, 'hosts')}`,
  ].join('\n');
  writeFileSync(join(dir, 'squid.conf'), `${config}\n`);
  writeFileSync(
    join(dir, 'hosts'),
    Object.entries(hosts)
      .map(([name, address]) => `${address} ${name}\n`)
      .join(''),
  );
  const child = spawn(squidPath, ['-N', '-f', join(dir, 'squid.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, child, 20_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    requests: () => {
      const log = join(dir, 'access.log');
      if (!existsSync(log)) return [];
      // Native log format: time elapsed client code/status bytes method URL ...
      return readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const fields = line.trim().split(/\s+/);
          return `${fields[5]} ${fields[6]}`;
        });
    },
    close: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A minimal Node forward proxy (CONNECT and absolute-form GET) leaving from `outgoing`. */
export async function startNodeProxy(
  outgoing: string,
  hosts: Record<string, string>,
): Promise<UpstreamProxyPeer> {
  const seen: string[] = [];
  const addressOf = (name: string) => hosts[name] ?? name;
  const sockets = new Set<Socket>();
  const server = createHttpServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    const url = new URL(request.url ?? '/');
    const outbound = httpRequest(
      {
        host: addressOf(url.hostname),
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: request.headers,
        localAddress: outgoing,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    outbound.on('error', () => response.destroy());
    request.pipe(outbound);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connect', (request, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${request.url}`);
    const colon = (request.url ?? '').lastIndexOf(':');
    const upstream = connect({
      host: addressOf((request.url ?? '').slice(0, colon).replace(/^\[|\]$/g, '')),
      port: Number((request.url ?? '').slice(colon + 1)),
      localAddress: outgoing,
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    requests: () => [...seen],
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
