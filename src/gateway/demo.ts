// `pathwarden gateway --demo`: a gateway that works in seconds on any machine, with no network.
// Local origins (HTTP and TLS, on a loopback address of their own) stand for a few catalog hosts;
// both egresses are loopback source addresses (127.0.0.2 circuit, 127.0.0.3 Internet), so each
// origin answer says which egress it came over; the destination guard allows exactly the origins;
// and a small client sends a bounded trickle of requests through the proxy so the dashboard fills.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { packageRoot } from '../catalog/load.js';
import { splitHostPort } from '../util/host-port.js';
import { type GatewayConfig, gatewayConfigSchema } from './config.js';

/** Where the demo origins listen: a loopback address no other demo part uses. */
export const DEMO_ORIGIN_ADDRESS = '127.77.0.1';
export const DEMO_EGRESS = { expressroute: '127.0.0.2', internet: '127.0.0.3' } as const;

/** The catalog hosts the origins stand for, and what the trickle asks of each. */
const demoRequests: readonly { url: string; what: string }[] = [
  { url: 'https://api.powerbi.com/v1.0/myorg/groups', what: 'circuit-bound (api.powerbi.com)' },
  { url: 'https://app.powerbi.com/home', what: 'either path, sent over the circuit (decisions.either)' },
  { url: 'http://wabi-west-europe-redirect.analysis.windows.net/', what: 'circuit-bound wildcard' },
  { url: 'https://maxcdn.bootstrapcdn.com/bootstrap.min.css', what: 'documented Internet exception' },
  { url: 'https://ajax.aspnetcdn.com/ajax/jquery.min.js', what: 'documented Internet exception' },
  { url: 'http://example.org/', what: 'not in the catalog: unknown, over the Internet' },
  { url: 'http://169.254.169.254/latest/meta-data/', what: 'metadata address: refused by the guard' },
];

const demoHosts = ['api.powerbi.com', 'app.powerbi.com', '*.analysis.windows.net', 'maxcdn.bootstrapcdn.com'];

export interface DemoOptions {
  /** Proxy address (default 127.0.0.1:3128). */
  listen?: string;
  /** Admin API and dashboard address (default 127.0.0.1:9180). */
  admin?: string;
  /** How many requests the trickle sends before it stops (default 600, one a second). */
  requests?: number;
  /** Milliseconds between two requests of the trickle (default 1000). */
  intervalMs?: number;
}

export interface Demo {
  config: GatewayConfig;
  /** Starts the trickle against the running proxy; returns at once. */
  startTrickle(proxyAddress: string): void;
  /** Requests the trickle has sent so far. */
  sent(): number;
  /** What to print: the curl commands that work against this demo. */
  instructions(proxyAddress: string, adminAddress: string | undefined): string;
  close(): Promise<void>;
}

function originCredentials(): { key: Buffer; cert: Buffer } {
  const dir = join(packageRoot(), 'demo', 'gateway');
  return { key: readFileSync(join(dir, 'origin-key.pem')), cert: readFileSync(join(dir, 'origin-cert.pem')) };
}

function answer(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  const from = request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '?';
  const egress =
    from === DEMO_EGRESS.expressroute
      ? 'the ExpressRoute egress'
      : from === DEMO_EGRESS.internet
        ? 'the Internet egress'
        : 'an unknown egress';
  response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(
    `pathwarden demo origin for ${request.headers.host ?? '?'}: reached from ${from}, ${egress}\n`,
  );
}

/** Listens on the wanted port, or on any free one when it is taken or needs privileges. */
async function listenOn(server: Server, port: number): Promise<number> {
  for (const candidate of [port, 0]) {
    const bound = await new Promise<boolean>((resolve) => {
      const onError = () => resolve(false);
      server.once('error', onError);
      server.listen(candidate, DEMO_ORIGIN_ADDRESS, () => {
        server.off('error', onError);
        resolve(true);
      });
    });
    if (bound) return (server.address() as AddressInfo).port;
  }
  throw new Error(`the demo origin cannot listen on ${DEMO_ORIGIN_ADDRESS}`);
}

/** Starts the local origins and builds the gateway config around them. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const credentials = originCredentials();
  const http = createHttpServer(answer);
  const https = createHttpsServer(credentials, answer);
  const httpPort = await listenOn(http, 80);
  const httpsPort = await listenOn(https, 443);
  const dir = mkdtempSync(join(tmpdir(), 'pathwarden-demo-'));
  const config = gatewayConfigSchema.parse({
    listen: options.listen ?? '127.0.0.1:3128',
    admin: options.admin ?? '127.0.0.1:9180',
    egress: {
      expressroute: { localAddress: DEMO_EGRESS.expressroute },
      internet: { localAddress: DEMO_EGRESS.internet },
    },
    resolve: Object.fromEntries(
      [...demoHosts, 'ajax.aspnetcdn.com', 'example.org'].map((name) => [name, DEMO_ORIGIN_ADDRESS]),
    ),
    allowDestinations: [`${DEMO_ORIGIN_ADDRESS}/32`],
    ports: [...new Set([80, 443, httpPort, httpsPort])],
    store: { kind: 'duckdb', path: join(dir, 'flows.duckdb'), flushIntervalMs: 500 },
    log: { level: 'warn' },
  });
  const total = options.requests ?? 600;
  const intervalMs = options.intervalMs ?? 1000;
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  const portFor = (url: URL) => (url.protocol === 'https:' ? httpsPort : httpPort);
  /** The URL with the port the origin really listens on (the default one when it could bind it). */
  const local = (text: string): URL => {
    const url = new URL(text);
    const port = portFor(url);
    if (port !== (url.protocol === 'https:' ? 443 : 80)) url.port = String(port);
    return url;
  };

  return {
    config,
    startTrickle(proxyAddress) {
      const proxy = splitHostPort(proxyAddress);
      const tick = () => {
        if (sent >= total) return;
        const entry = demoRequests[sent % demoRequests.length] as (typeof demoRequests)[number];
        sent++;
        fetchThroughProxy(proxy, local(entry.url), credentials.cert).catch(() => {});
        timer = setTimeout(tick, intervalMs);
        timer.unref();
      };
      tick();
    },
    sent: () => sent,
    instructions(proxyAddress, adminAddress) {
      const x = `curl -x http://${proxyAddress}`;
      const lines = [
        `pathwarden gateway --demo: local origins for ${demoHosts.join(', ')} (and a few more) on ${DEMO_ORIGIN_ADDRESS}, no network needed`,
        `  circuit egress from ${DEMO_EGRESS.expressroute}, Internet egress from ${DEMO_EGRESS.internet}; a client sends ${total} requests, one every ${intervalMs} ms`,
        `  ${x} -k ${local('https://api.powerbi.com/').href}            # circuit-bound: the answer says ${DEMO_EGRESS.expressroute}`,
        `  ${x} -k ${local('https://maxcdn.bootstrapcdn.com/').href}    # exception: the answer says ${DEMO_EGRESS.internet}`,
        `  ${x} http://169.254.169.254/                  # refused: 403 PW_GW_DESTINATION_DENIED`,
      ];
      if (adminAddress) {
        lines.push(`  curl http://${adminAddress}/api/flows         # the flow records`);
        lines.push(`  dashboard: http://${adminAddress}/`);
      }
      return `${lines.join('\n')}\n`;
    },
    async close() {
      sent = total;
      if (timer) clearTimeout(timer);
      await Promise.all([http, https].map((server) => new Promise((resolve) => server.close(resolve))));
      http.closeAllConnections();
      https.closeAllConnections();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One request through the proxy: plain HTTP in absolute form, HTTPS through CONNECT. */
function fetchThroughProxy(proxy: { host: string; port: number }, url: URL, ca: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error('demo request timed out')), 5000);
    const done = (error?: Error) => {
      clearTimeout(timeout);
      if (error) reject(error);
      else resolve();
    };
    if (url.protocol === 'http:') {
      const req = request(
        { host: proxy.host, port: proxy.port, path: url.href, headers: { host: url.host } },
        (res) => {
          res.resume();
          res.on('end', () => done());
        },
      );
      req.on('error', done);
      req.end();
      return;
    }
    const authority = `${url.hostname}:${url.port || 443}`;
    const connect = request({ host: proxy.host, port: proxy.port, method: 'CONNECT', path: authority });
    connect.on('error', done);
    connect.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        done();
        return;
      }
      const tls = tlsConnect({ socket, servername: url.hostname, ca });
      tls.on('error', done);
      tls.on('secureConnect', () => {
        tls.end(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
      });
      tls.on('data', () => {});
      tls.on('close', () => done());
    });
    connect.end();
  });
}
