// startGateway(): the programmatic API behind `pathwarden gateway`. Compiles the config and the
// catalog once, starts the proxy (and the SOCKS and admin listeners when configured) and returns a
// handle whose close() drains: stop accepting, let open requests and tunnels finish for
// limits.drainTimeoutMs, cut the rest (recorded as PW_GW_SHUTDOWN), then close the flow store.
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import { resolveCatalog } from '../catalog/load.js';
import { selectProfile } from '../catalog/profiles.js';
import { isPathwardenError } from '../errors.js';
import { type IpAddress, parseIp, unmapIPv4 } from '../match/ip.js';
import { Policy } from '../policy/policy.js';
import type { FlowStore } from '../store/store.js';
import { ClientPolicy } from './client-policy.js';
import type { GatewayConfig } from './config.js';
import {
  ConnectionGate,
  descriptorLimit,
  descriptorShortfall,
  descriptorWarning,
  effectiveConnectionLimit,
} from './connection-gate.js';
import type { GatewayContext } from './context.js';
import type { GatewayMetricsSink, GatewayStatus } from './contracts.js';
import { DestinationGuard } from './destination-guard.js';
import { FlowRecorder } from './flow-recorder.js';
import { HealthMonitor } from './health.js';
import { HostResolver, type LookupAll } from './host-resolver.js';
import { defaultIdleRelease, startIdleRelease } from './idle-release.js';
import { IdleSweep } from './idle-sweep.js';
import { ProxyAuth } from './proxy-auth.js';
import { createProxyServer, type DrainableConnection, listen } from './proxy-server.js';
import { createSocksServer } from './socks-server.js';
import { compileEgress } from './upstream-dial.js';

/** What the admin API starter (src/admin/server.ts, wired in src/server/gateway-server.ts) is given. */
export interface AdminStartOptions {
  listen: string;
  token?: string;
  store: FlowStore;
  /** The very object passed as `metrics` (the admin server serves its registry). */
  metrics: GatewayMetricsSink;
  policy: Policy;
  status: GatewayStatus;
  /** Every 500 the admin side sends (a failing store, a bug): logged by the gateway. */
  onError?(error: unknown, path: string): void;
}

export interface GatewayDependencies {
  /** Where records go; the gateway owns it from here on and closes it in close(). */
  store: FlowStore;
  metrics: GatewayMetricsSink;
  /** JSON log of flows and events; none when absent (tests). */
  logger?: Logger;
  /**
   * Starts the admin API on `config.admin`; no admin listener when absent. Injected so the proxy
   * does not depend on the admin server; a method signature so a starter that wants the concrete
   * metrics class (as `startAdminServer` does) fits.
   */
  startAdmin?(options: AdminStartOptions): Promise<{ address: string; close(): Promise<void> }>;
  /** A compiled policy; by default the built-in catalog with `config.catalog` laid over it. */
  policy?: Policy;
  /** DNS lookup (all addresses); the system resolver by default. */
  lookup?: LookupAll;
}

export interface RunningGateway {
  /** `host:port` the proxy listens on. */
  address: string;
  adminAddress?: string;
  socksAddress?: string;
  status: GatewayStatus;
  policy: Policy;
  /** Drains and stops everything; safe to call more than once. */
  close(): Promise<void>;
}

export async function startGateway(
  config: GatewayConfig,
  deps: GatewayDependencies,
): Promise<RunningGateway> {
  const policy =
    deps.policy ??
    Policy.compile(selectProfile(resolveCatalog({ files: config.catalog }).catalog, config.profile));
  const resolver = new HostResolver(config.resolve, deps.lookup);
  const egresses = {
    expressroute: compileEgress('expressroute', config.egress.expressroute),
    internet: compileEgress('internet', config.egress.internet),
  };
  const health = new HealthMonitor(config.health, egresses, resolver, deps.metrics);
  const descriptors = descriptorLimit();
  const ctx: GatewayContext = {
    config,
    limits: config.limits,
    policy,
    resolver,
    guard: new DestinationGuard(config.allowDestinations),
    health,
    egresses,
    ports: new Set(config.ports),
    clients: new ClientPolicy(config),
    auth: config.auth ? new ProxyAuth(config.auth.users) : null,
    metrics: deps.metrics,
    recorder: new FlowRecorder(deps.store, deps.metrics, deps.logger),
    gate: new ConnectionGate(
      effectiveConnectionLimit(config.limits.maxConnections, descriptors),
      deps.metrics,
      deps.logger,
    ),
    selfEndpoints: [],
    draining: false,
    idle: new IdleSweep(config.limits.idleTimeoutMs),
    activeTunnels: 0,
  };
  const status: GatewayStatus = {
    health: () => health.snapshot(),
    activeTunnels: () => ctx.activeTunnels,
  };

  const connections = new Set<DrainableConnection>();
  let onIdle: (() => void) | undefined;
  const connectionClosed = () => {
    if (connections.size === 0) onIdle?.();
  };
  const servers: Server[] = [];
  let admin: { address: string; close(): Promise<void> } | undefined;
  const stopListeners = async () => {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await admin?.close();
  };

  // Accept errors (EMFILE, ENFILE) are emitted on the listener: logged, never fatal.
  const onListenerError = (error: Error) => deps.logger?.error({ err: error }, 'listener error');
  let address: string;
  let socksAddress: string | undefined;
  try {
    const proxy = createProxyServer(ctx, connections, connectionClosed);
    servers.push(proxy);
    const bound = await listen(proxy, config.listen, 'proxy');
    proxy.on('error', onListenerError);
    address = bound.text;
    addSelf(ctx, bound.host, bound.port);
    if (config.socks) {
      const socks = createSocksServer(ctx, connections, connectionClosed);
      servers.push(socks);
      const socksBound = await listen(socks, config.socks, 'SOCKS');
      socks.on('error', onListenerError);
      socksAddress = socksBound.text;
      addSelf(ctx, socksBound.host, socksBound.port);
    }
    if (deps.startAdmin) {
      admin = await deps.startAdmin({
        listen: config.admin,
        ...(config.adminToken === undefined ? {} : { token: config.adminToken }),
        store: deps.store,
        metrics: deps.metrics,
        policy,
        status,
        onError: (error, path) =>
          deps.logger?.error(
            {
              path,
              code: isPathwardenError(error) ? error.code : 'PW_ERR_INTERNAL',
              err: error instanceof Error ? (error.stack ?? error.message) : String(error),
            },
            'admin API request failed',
          ),
      });
      const adminAddress = parseIp(
        admin.address.slice(0, admin.address.lastIndexOf(':')).replace(/^\[|\]$/g, ''),
      );
      if (adminAddress) {
        ctx.selfEndpoints.push({
          address: unmapIPv4(adminAddress),
          port: Number(admin.address.slice(admin.address.lastIndexOf(':') + 1)),
        });
      }
    }
  } catch (error) {
    // Nothing was served: release what the gateway was given, so the process can exit.
    await stopListeners();
    await deps.store.close();
    throw error;
  }
  health.start();
  // Once quiet after work: collect V8's garbage, shrink its young generation and let the store
  // return its engine's free memory (docs/performance.md, Gateway, "Idle memory, session 6").
  // `limits.idleReleaseMs: 0` turns it off: a gateway that must never pause for a full collection.
  const idleReleaseMs = config.limits.idleReleaseMs;
  const stopIdleRelease =
    idleReleaseMs === 0
      ? () => {}
      : startIdleRelease({
          ...defaultIdleRelease,
          quietMs: idleReleaseMs,
          release: async () => {
            await deps.store.releaseMemory?.();
          },
          onError: (error) =>
            deps.logger?.warn(
              {
                code: 'PW_ERR_STORE_IO',
                store: deps.store.kind,
                err: error instanceof Error ? error.message : String(error),
              },
              'releasing idle memory failed',
            ),
        });
  deps.logger?.info(
    { listen: address, socks: socksAddress, admin: admin?.address, maxConnections: ctx.gate.limit },
    'gateway started',
  );
  const shortfall = descriptorShortfall(config.limits.maxConnections, descriptors);
  if (shortfall) deps.logger?.warn({ ...shortfall }, `descriptor limit: ${descriptorWarning(shortfall)}`);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ctx.draining = true;
      stopIdleRelease();
      const listenersClosed = stopListeners();
      for (const connection of connections) connection.closeIfIdle();
      await waitUntil(
        () => connections.size === 0,
        config.limits.drainTimeoutMs,
        (wake) => {
          onIdle = wake;
        },
      );
      for (const connection of connections) connection.abort('PW_GW_SHUTDOWN');
      await waitUntil(
        () => connections.size === 0,
        2000,
        (wake) => {
          onIdle = wake;
        },
      );
      await listenersClosed;
      health.stop();
      ctx.gate.stop();
      ctx.idle.stop();
      await deps.store.close();
      deps.logger?.info({ listen: address }, 'gateway stopped');
      deps.logger?.flush();
    })();
    return closing;
  };

  return {
    address,
    ...(admin ? { adminAddress: admin.address } : {}),
    ...(socksAddress ? { socksAddress } : {}),
    status,
    policy,
    close,
  };
}

function addSelf(ctx: GatewayContext, host: string, port: number): void {
  const parsed = parseIp(host);
  if (parsed) ctx.selfEndpoints.push({ address: unmapIPv4(parsed) as IpAddress, port });
}

/** Resolves when `done()` holds (checked whenever `wake` is called) or after `ms`. */
function waitUntil(done: () => boolean, ms: number, register: (wake: () => void) => void): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      register(() => {});
      resolve();
    }
    register(() => {
      if (done()) finish();
    });
  });
}
