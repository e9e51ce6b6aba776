// The admin address: Prometheus /metrics, the JSON API over the flow store (/api/flows, /api/stats),
// /api/explain over the policy, and /healthz. A thin HTTP layer: parameters are parsed at the edge
// (params.ts), the store and the policy do the work. Documented in docs/gateway-api.md.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isPathwardenError, PathwardenError } from '../errors.js';
import type { GatewayStatus } from '../gateway/contracts.js';
import type { Policy } from '../policy/policy.js';
import { decisionToJson } from '../policy/serialize.js';
import { FlowQueryError } from '../store/query.js';
import type { FlowStore } from '../store/store.js';
import {
  isLoopbackHost,
  isLoopbackHostPort,
  listenError,
  parseHostHeader,
  splitHostPort,
} from '../util/host-port.js';
import type { ApiErrorBody, HealthzResponse, StatsResponse } from './api-contract.js';
import type { GatewayMetrics } from './metrics.js';
import {
  explainFromUrl,
  flowQueryFromUrl,
  healthRequirementFromUrl,
  ParameterError,
  queryFieldParameter,
  statsRangeFromUrl,
} from './params.js';

export interface AdminServerOptions {
  /** host:port; a loopback address unless `token` is set (port 0 picks a free port). */
  listen: string;
  /** Bearer token every request must carry; without one the server binds loopback only. */
  token?: string;
  store: FlowStore;
  metrics: GatewayMetrics;
  policy: Policy;
  status: GatewayStatus;
  /**
   * More handlers on the same address (the dashboard, issue 6): called for paths the admin API does
   * not own, after the Host check; answers and returns true, or returns false for a 404. It does its
   * own token check (the page must load before the browser has a token) and may replace the CSP.
   */
  static?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Told about every 500 (store failures, bugs) and the path asked, for the gateway's log. */
  onError?: (error: unknown, path: string) => void;
}

export interface AdminServer {
  /** The bound address as host:port (IPv6 in brackets). */
  address: string;
  close(): Promise<void>;
}

/** Nothing the API returns is a document: no scripts, frames, forms or sub-resources. */
export const adminCsp = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const securityHeaders: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'content-security-policy': adminCsp,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

/** Requests in flight get this long to finish when the server closes; then they are cut. */
const closeGraceMs = 1000;

type Route = (url: URL, res: ServerResponse) => Promise<void>;

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  // Safety net behind the config check: an admin API without a token is reachable by anyone who can
  // reach the address, so it may only listen where only this machine can reach it.
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(options.listen)) {
    throw new PathwardenError('PW_ERR_CONFIG_INVALID', `admin address ${options.listen} is not host:port`);
  }
  if (options.token !== undefined && options.token.length < 16) {
    throw new PathwardenError('PW_ERR_CONFIG_INVALID', 'adminToken must be at least 16 characters');
  }
  if (options.token === undefined && !isLoopbackHostPort(options.listen)) {
    throw new PathwardenError(
      'PW_ERR_CONFIG_INVALID',
      `admin ${options.listen} is not a loopback address: set adminToken to expose the admin API`,
    );
  }
  const { host, port } = splitHostPort(options.listen);
  const adminHost = host.toLowerCase();
  const authorized = bearerCheck(options.token);
  const routes = adminRoutes(options);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(securityHeaders)) res.setHeader(name, value);
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    // Without a token, a page in a local browser could reach this loopback server through DNS
    // rebinding (its own name resolving to 127.0.0.1); such requests carry that name as Host.
    if (options.token === undefined && !loopbackHostHeader(req.headers.host, adminHost)) {
      sendError(
        res,
        403,
        'PW_ERR_FORBIDDEN_HOST',
        'this admin address answers only Host names of loopback addresses',
      );
      return;
    }
    const route = routes.get(url.pathname);
    if (route === undefined) {
      if (options.static?.(req, res)) return;
      if (!authorized(req)) {
        unauthorized(res);
        return;
      }
      sendError(res, 404, 'PW_ERR_NOT_FOUND', `nothing here answers ${url.pathname}`);
      return;
    }
    if (!authorized(req)) {
      unauthorized(res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendError(res, 405, 'PW_ERR_METHOD', `${req.method} is not allowed on ${url.pathname}; use GET`);
      return;
    }
    try {
      await route(url, res);
    } catch (error) {
      sendFailure(res, error, (failure) => options.onError?.(failure, url.pathname));
    }
  };

  const server = createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5000 },
    (req, res) => {
      handle(req, res).catch((error: unknown) =>
        sendFailure(res, error, (failure) => options.onError?.(failure, req.url ?? '/')),
      );
    },
  );
  await listen(server, host, port, options.listen);
  const bound = server.address() as AddressInfo;
  const address =
    bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;

  let closing: Promise<void> | undefined;
  return {
    address,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), closeGraceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function adminRoutes(options: AdminServerOptions): Map<string, Route> {
  const { store, metrics, policy, status } = options;
  return new Map<string, Route>([
    [
      '/metrics',
      async (_url, res) => {
        const text = await metrics.metrics();
        send(res, 200, metrics.contentType, text);
      },
    ],
    [
      '/healthz',
      async (url, res) => {
        const required = healthRequirementFromUrl(url);
        const paths = status.health();
        const down = paths.filter((path) => path.state === 'down').map((path) => path.path);
        const failed = required.some((path) => down.includes(path));
        const body: HealthzResponse = {
          status: failed ? 'unavailable' : down.length > 0 ? 'degraded' : 'ok',
          paths,
        };
        sendJson(res, failed ? 503 : 200, body);
      },
    ],
    [
      '/api/flows',
      async (url, res) => {
        sendJson(res, 200, await store.query(flowQueryFromUrl(url, Date.now())));
      },
    ],
    [
      '/api/stats',
      async (url, res) => {
        const stats = await store.stats(statsRangeFromUrl(url, Date.now()));
        const body: StatsResponse = {
          ...stats,
          health: status.health(),
          activeTunnels: status.activeTunnels(),
        };
        sendJson(res, 200, body);
      },
    ],
    [
      '/api/explain',
      async (url, res) => {
        const { target, component } = explainFromUrl(url);
        let body: string;
        try {
          body = decisionToJson(policy.decide(target, component === undefined ? {} : { component }));
        } catch (error) {
          if (isPathwardenError(error) && error.code === 'PW_ERR_TARGET_INVALID') {
            throw new ParameterError('target', error.message, 'PW_ERR_TARGET_INVALID');
          }
          throw error;
        }
        send(res, 200, 'application/json; charset=utf-8', body);
      },
    ],
  ]);
}

function listen(server: Server, host: string, port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => reject(listenError('admin', text, error));
    server.once('error', failed);
    server.listen({ host, port }, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** Constant-time check of `Authorization: Bearer <token>` (hashing first makes the lengths equal). */
function bearerCheck(token: string | undefined): (req: IncomingMessage) => boolean {
  if (token === undefined) return () => true;
  const expected = createHash('sha256').update(token).digest();
  return (req) => {
    const match = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
    if (!match?.[1]) return false;
    return timingSafeEqual(createHash('sha256').update(match[1]).digest(), expected);
  };
}

/**
 * A Host this token-less server answers: a literal loopback address, `localhost`, or the host of its
 * own `admin` setting. Parsed, never prefix-matched: `127.0.0.1.attacker.example` is a name.
 */
function loopbackHostHeader(header: string | undefined, adminHost: string): boolean {
  // HTTP/1.0 clients may omit Host; browsers (the rebinding risk) always send it.
  if (header === undefined) return true;
  const host = parseHostHeader(header);
  return host !== null && (isLoopbackHost(host) || host === adminHost);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  // Node leaves the body out for HEAD by itself.
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  parameter: string | null = null,
): void {
  const body: ApiErrorBody = { error: { code, message, parameter } };
  sendJson(res, status, body);
}

function unauthorized(res: ServerResponse): void {
  res.setHeader('www-authenticate', 'Bearer realm="pathwarden"');
  sendError(res, 401, 'PW_ERR_UNAUTHORIZED', 'this admin address needs Authorization: Bearer <adminToken>');
}

/** 400 for what the client got wrong (naming the parameter), 500 for everything else. */
function sendFailure(
  res: ServerResponse,
  error: unknown,
  onError: ((error: unknown) => void) | undefined,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof ParameterError) {
    sendError(res, 400, error.code, error.message, error.parameter);
    return;
  }
  if (error instanceof FlowQueryError) {
    sendError(
      res,
      400,
      error.code,
      error.message.replace(error.field, queryFieldParameter[error.field]),
      queryFieldParameter[error.field],
    );
    return;
  }
  onError?.(error);
  if (isPathwardenError(error) && error.code === 'PW_ERR_STORE_IO') {
    sendError(res, 500, error.code, 'the flow store could not answer');
    return;
  }
  sendError(res, 500, 'PW_ERR_INTERNAL', 'internal error');
}
