// The dashboard's side of the admin address: the pre-built page (dist/web) and the few endpoints
// the admin API lacks (/api/status, /api/catalog, /api/exceptions, /api/events). It plugs into
// startAdminServer() as its `static` hook and answers only the paths it owns.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../../catalog/load.js';
import type { Catalog } from '../../catalog/model.js';
import { isPathwardenError } from '../../errors.js';
import type { GatewayStatus } from '../../gateway/contracts.js';
import type { Policy } from '../../policy/policy.js';
import type { FlowQuery, FlowStore } from '../../store/store.js';
import type { ApiErrorBody, CatalogView, DashboardStatus } from '../api-contract.js';
import { ParameterError, parseTime } from '../params.js';
import { DashboardEvents } from './events.js';
import { exceptionsView } from './exceptions.js';
import { loadStaticSite } from './static.js';

export type * from '../api-contract.js';

export interface DashboardOptions {
  store: FlowStore;
  policy: Policy;
  status: GatewayStatus;
  /** The catalog behind `policy` (default: `policy.catalog`). */
  catalog?: Catalog;
  /** Bearer token of the admin API; when set, every dashboard endpoint requires it (the page itself does not). */
  token?: string;
  /** `gateway` (live traffic, the default) or `stored` (a flow file opened read-only). */
  mode?: DashboardStatus['mode'];
  /** Folder of the built page (default: dist/web in the package). */
  webRoot?: string;
  /** Timings of /api/events (see EventStreamOptions). */
  tickMs?: number;
  heartbeatMs?: number;
  /** Store errors met while answering (logged by the caller). */
  onError?: (error: unknown) => void;
}

/** The `static` hook for startAdminServer: true when it answered the request. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse): boolean;
  /** Ends open event streams: call before closing the HTTP server, which waits for them otherwise. */
  close(): void;
}

export const defaultWebRoot = (): string => join(packageRoot(), 'dist', 'web');

export function createDashboardHandler(options: DashboardOptions): DashboardHandler {
  const catalog = options.catalog ?? options.policy.catalog;
  const site = loadStaticSite(options.webRoot ?? defaultWebRoot());
  const events = new DashboardEvents({
    store: options.store,
    status: options.status,
    // A stored file does not change: no periodic full scans competing with the page's own queries.
    tickMs: options.mode === 'stored' ? 0 : options.tickMs,
    heartbeatMs: options.heartbeatMs,
    onError: options.onError,
  });
  const authorized = bearerCheck(options.token);
  const catalogView: CatalogView = {
    name: catalog.name,
    version: catalog.version,
    title: catalog.title,
    description: catalog.description,
    sources: catalog.sources,
    notes: catalog.notes,
    rules: catalog.rules,
    profile: options.policy.profile,
  };
  const catalogBody = JSON.stringify(catalogView);

  const status = (): DashboardStatus => ({
    mode: options.mode ?? 'gateway',
    store: options.store.kind,
    health: options.status.health(),
    activeTunnels: options.status.activeTunnels(),
    catalog: {
      name: catalog.name,
      version: catalog.version,
      title: catalog.title ?? null,
      profile: options.policy.profile,
    },
    serverTime: Date.now(),
  });

  const api: Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void> = {
    '/api/status': (_req, res) => sendJson(res, 200, status()),
    '/api/catalog': (_req, res) => sendJson(res, 200, catalogBody),
    '/api/exceptions': async (_req, res, url) => {
      sendJson(res, 200, await exceptionsView(options.store, catalog, parseRange(url)));
    },
    '/api/events': (req, res) => events.attach(req, res),
  };

  const handler = ((req: IncomingMessage, res: ServerResponse): boolean => {
    // Appended, not resolved against a base: `//host/x` must stay a path, not become another host.
    const url = new URL(`http://dashboard.invalid${req.url?.startsWith('/') ? req.url : '/'}`);
    const route = api[url.pathname];
    if (route === undefined) {
      if (site.serve(req, res, url.pathname)) return true;
      if (url.pathname === '/' || url.pathname === '/index.html') {
        sendError(res, 404, 'PW_ERR_NOT_FOUND', 'the dashboard is not built: run `npm run build`');
        return true;
      }
      return false;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendError(res, 405, 'PW_ERR_METHOD', `${req.method} is not allowed on ${url.pathname}`);
      return true;
    }
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer realm="pathwarden"');
      sendError(res, 401, 'PW_ERR_UNAUTHORIZED', 'this admin API needs its bearer token');
      return true;
    }
    Promise.resolve()
      .then(() => route(req, res, url))
      .catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy();
        } else if (isPathwardenError(error) && error.code === 'PW_ERR_QUERY_INVALID') {
          sendError(res, 400, error.code, error.message);
        } else {
          options.onError?.(error);
          sendError(res, 500, 'PW_ERR_INTERNAL', 'the flow store could not answer');
        }
      });
    return true;
  }) as DashboardHandler;
  handler.close = () => events.close();
  return handler;
}

/** What startAdminServer takes and returns, as far as the dashboard needs it. */
interface AdminStarterOptions {
  token?: string | undefined;
  onError?: ((error: unknown, path: string) => void) | undefined;
  store: FlowStore;
  policy: Policy;
  status: GatewayStatus;
}

/**
 * Wraps an admin API starter so the admin address also serves the dashboard: the gateway passes
 * `startAdmin: withDashboard(startAdminServer)`. Closing the admin server ends open event streams
 * first (an HTTP server waits for them otherwise).
 */
export function withDashboard<O extends AdminStarterOptions, A extends { close(): Promise<void> }>(
  start: (options: O & { static: DashboardHandler }) => Promise<A>,
  extra: Omit<DashboardOptions, 'store' | 'policy' | 'status' | 'token'> = {},
): (options: O) => Promise<A> {
  return async (options) => {
    const onError = options.onError;
    const dashboard = createDashboardHandler({
      // The dashboard's 500s go where the admin API's go, unless the caller chose otherwise.
      ...(onError ? { onError: (error: unknown) => onError(error, '/dashboard') } : {}),
      ...extra,
      store: options.store,
      policy: options.policy,
      status: options.status,
      token: options.token,
    });
    try {
      const admin = await start({ ...options, static: dashboard });
      const close = admin.close.bind(admin);
      admin.close = async () => {
        dashboard.close();
        await close();
      };
      return admin;
    } catch (error) {
      dashboard.close();
      throw error;
    }
  };
}

/** Constant-time comparison of the presented token (hashing first makes the lengths equal). */
function bearerCheck(token: string | undefined): (req: IncomingMessage) => boolean {
  if (token === undefined) return () => true;
  const expected = createHash('sha256').update(token).digest();
  return (req) => {
    const match = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!match?.[1]) return false;
    return timingSafeEqual(createHash('sha256').update(match[1]).digest(), expected);
  };
}

/** `from` / `to` in the admin API's forms (epoch ms, ISO 8601 with zone, now, now-15m), and `gateway`. */
function parseRange(url: URL): Pick<FlowQuery, 'from' | 'to' | 'gateway'> {
  const range: Pick<FlowQuery, 'from' | 'to' | 'gateway'> = {};
  const now = Date.now();
  const seen = new Set<string>();
  for (const [name, value] of url.searchParams) {
    if (name !== 'from' && name !== 'to' && name !== 'gateway') {
      throw new ParameterError(
        name,
        `unknown parameter ${JSON.stringify(name)}; this endpoint takes from, to, gateway`,
      );
    }
    if (seen.has(name)) throw new ParameterError(name, `parameter ${name} is given more than once`);
    seen.add(name);
    if (value === '') continue;
    if (name === 'gateway') range.gateway = value;
    else range[name] = parseTime(name, value, now);
  }
  return range;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  const body: ApiErrorBody = { error: { code, message } };
  sendJson(res, status, body);
}
