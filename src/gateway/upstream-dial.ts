// Opens the outbound connection of a flow on its egress: from a local source address, directly, or
// through the egress's upstream HTTP proxy (a CONNECT for tunnels; for plain HTTP the connection to
// the proxy, which then gets absolute-form requests). Direct dials go to the addresses the guard
// checked, never to a name. Upstream proxies get the name (`authority`): they need it for their own
// ACLs and to send the right Host header, and they resolve it in their own DNS view.
import { connect, type Socket } from 'node:net';
import type { EgressPath } from '../catalog/model.js';
import { formatIp, type IpAddress } from '../match/ip.js';
import type { EgressConfig } from './egress.js';
import { GatewayError } from './errors.js';
import { findHeadEnd, parseResponseHead } from './http-head.js';
import { OriginReader } from './origin-reader.js';

export interface UpstreamProxy {
  host: string;
  port: number;
  /** `host:port` as records show it. */
  label: string;
  /** `Proxy-Authorization` line (with CRLF) from the URL's user info, or ''. */
  authorization: string;
}

/** An egress with its proxy URL parsed once. */
export interface Egress {
  path: EgressPath;
  localAddress: string | undefined;
  proxy: UpstreamProxy | undefined;
}

export function compileEgress(path: EgressPath, config: EgressConfig): Egress {
  if ('localAddress' in config) return { path, localAddress: config.localAddress, proxy: undefined };
  if ('proxy' in config) {
    const url = new URL(config.proxy);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port === '' ? 80 : Number(url.port);
    const user = decodeURIComponent(url.username);
    const authorization =
      user === ''
        ? ''
        : `Proxy-Authorization: Basic ${Buffer.from(`${user}:${decodeURIComponent(url.password)}`).toString('base64')}\r\n`;
    return {
      path,
      localAddress: undefined,
      proxy: { host, port, label: `${url.hostname}:${port}`, authorization },
    };
  }
  return { path, localAddress: undefined, proxy: undefined };
}

/** What records say about an egress: source address, upstream proxy and the actual-path evidence. */
export function egressEvidence(egress: Egress): {
  sourceAddress: string | null;
  upstream: string | null;
  evidence: string;
} {
  if (egress.localAddress) {
    return { sourceAddress: egress.localAddress, upstream: null, evidence: `source ${egress.localAddress}` };
  }
  if (egress.proxy)
    return { sourceAddress: null, upstream: egress.proxy.label, evidence: `proxy ${egress.proxy.label}` };
  return { sourceAddress: null, upstream: null, evidence: 'direct' };
}

export interface Upstream {
  socket: Socket;
  /** Bytes the upstream proxy sent after its CONNECT answer (server-first protocols). */
  leftover: Buffer | null;
  /** The address dialed (origin, or the upstream proxy's). */
  address: string;
  connectMs: number;
  /**
   * Reads of a direct tunnel dial (`relay`): the socket emits no 'data'; the tunnel relays through
   * this (origin-reader.ts). Null for other dials: they are read as streams.
   */
  reader: OriginReader | null;
}

/** `host:port` of an address as it goes on a request line (`[v6]:port`). */
export function authorityOf(address: IpAddress, port: number): string {
  const text = formatIp(address);
  return address.version === 6 ? `[${text}]:${port}` : `${text}:${port}`;
}

/** `host:port` of a destination as requests name it (`[v6]:port`). */
export function authorityOfHost(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Connects on `egress` to one of `addresses` (in order, within one `timeoutMs` budget). `tunnel`
 * asks an upstream proxy for a CONNECT tunnel to `authority`; otherwise the proxy connection itself
 * is returned. Failures are GatewayErrors; nothing here ever falls back to another egress.
 */
export async function dialUpstream(
  egress: Egress,
  addresses: readonly IpAddress[],
  port: number,
  options: { timeoutMs: number; tunnel: boolean; authority: string; relay?: boolean },
): Promise<Upstream> {
  const started = performance.now();
  const deadline = started + options.timeoutMs;
  if (egress.proxy) {
    const proxy = egress.proxy;
    const socket = await openSocket(
      { host: proxy.host, port: proxy.port },
      deadline,
      () => `upstream proxy ${proxy.label} of the ${egress.path} egress`,
    );
    let leftover: Buffer | null = null;
    if (options.tunnel) {
      leftover = await requestTunnel(socket, proxy, options.authority, deadline, egress.path);
    }
    return { socket, leftover, address: proxy.host, connectMs: performance.now() - started, reader: null };
  }
  let lastError: GatewayError | undefined;
  for (const address of addresses) {
    const host = formatIp(address);
    const reader = options.relay ? new OriginReader() : null;
    try {
      const socket = await openSocket(
        { host, port, localAddress: egress.localAddress, reader },
        deadline,
        () =>
          `${authorityOf(address, port)}${egress.localAddress ? ` from ${egress.localAddress}` : ''} on the ${egress.path} egress`,
      );
      return { socket, leftover: null, address: host, connectMs: performance.now() - started, reader };
    } catch (error) {
      lastError = error as GatewayError;
      if (lastError.code === 'PW_GW_CONNECT_TIMEOUT') break;
    }
  }
  throw lastError as GatewayError;
}

function ignore(): void {}

function openSocket(
  options: { host: string; port: number; localAddress?: string | undefined; reader?: OriginReader | null },
  deadline: number,
  describe: () => string,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const remaining = Math.max(1, deadline - performance.now());
    const socket = connect({
      host: options.host,
      port: options.port,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.reader ? { onread: options.reader.onread } : {}),
      allowHalfOpen: true,
      noDelay: true,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new GatewayError(
          'PW_GW_CONNECT_TIMEOUT',
          `connecting to ${describe()} took longer than ${Math.round(remaining)} ms`,
        ),
      );
    }, remaining);
    const onError = (cause: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new GatewayError(
          'PW_GW_UPSTREAM_REFUSED',
          `connecting to ${describe()} failed: ${cause.code ?? cause.message}`,
          {
            cause,
          },
        ),
      );
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // A safety net until the caller's listeners are on: the 'close' that follows an error is
      // what every caller acts on, and an unheard 'error' would take the process down.
      socket.on('error', ignore);
      resolve(socket);
    });
  });
}

/** Sends CONNECT to an upstream proxy and waits for its 2xx; returns bytes that followed it. */
function requestTunnel(
  socket: Socket,
  proxy: UpstreamProxy,
  authority: string,
  deadline: number,
  path: EgressPath,
): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    const fail = (error: GatewayError) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () =>
        fail(
          new GatewayError(
            'PW_GW_CONNECT_TIMEOUT',
            `upstream proxy ${proxy.label} of the ${path} egress did not answer CONNECT ${authority} in time`,
          ),
        ),
      Math.max(1, deadline - performance.now()),
    );
    const onData = (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      let end: number;
      try {
        end = findHeadEnd(buffer, 0, 'response');
        if (end < 0) {
          if (buffer.length > 65536) throw new Error('answer head is too large');
          return;
        }
        const head = parseResponseHead(buffer, end);
        if (head.status < 200 || head.status > 299) {
          fail(
            new GatewayError(
              'PW_GW_UPSTREAM_PROXY_ERROR',
              `upstream proxy ${proxy.label} of the ${path} egress answered CONNECT ${authority} with "${head.statusLine}"`,
            ),
          );
          return;
        }
      } catch (cause) {
        fail(
          new GatewayError(
            'PW_GW_UPSTREAM_PROXY_ERROR',
            `upstream proxy ${proxy.label} of the ${path} egress sent a malformed CONNECT answer`,
            { cause },
          ),
        );
        return;
      }
      cleanup();
      resolve(end < buffer.length ? buffer.subarray(end) : null);
    };
    const onEnd = () =>
      fail(
        new GatewayError(
          'PW_GW_UPSTREAM_PROXY_ERROR',
          `upstream proxy ${proxy.label} of the ${path} egress closed the connection instead of answering CONNECT`,
        ),
      );
    const onError = (cause: Error) =>
      fail(
        new GatewayError('PW_GW_UPSTREAM_PROXY_ERROR', `upstream proxy ${proxy.label}: ${cause.message}`, {
          cause,
        }),
      );
    const cleanup = () => {
      clearTimeout(timer);
      // Paused so that nothing the proxy sends next is emitted before the tunnel is wired up.
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${proxy.authorization}\r\n`,
      'latin1',
    );
  });
}
