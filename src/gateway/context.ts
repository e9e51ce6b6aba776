// Everything a connection handler needs, built once by startGateway(): compiled config, policy,
// resolver, guard, health, egresses and sinks. Handlers get it as their only dependency.
import type { EgressPath } from '../catalog/model.js';
import type { IpAddress } from '../match/ip.js';
import type { Policy } from '../policy/policy.js';
import type { ClientPolicy } from './client-policy.js';
import type { GatewayConfig } from './config.js';
import type { ConnectionGate } from './connection-gate.js';
import type { GatewayMetricsSink } from './contracts.js';
import type { DestinationGuard } from './destination-guard.js';
import type { FlowRecorder } from './flow-recorder.js';
import type { HealthMonitor } from './health.js';
import type { HostResolver } from './host-resolver.js';
import type { IdleSweep } from './idle-sweep.js';
import type { ProxyAuth } from './proxy-auth.js';
import type { Egress } from './upstream-dial.js';

export interface GatewayContext {
  readonly config: GatewayConfig;
  readonly limits: GatewayConfig['limits'];
  readonly policy: Policy;
  readonly resolver: HostResolver;
  readonly guard: DestinationGuard;
  readonly health: HealthMonitor;
  readonly egresses: Readonly<Record<EgressPath, Egress>>;
  readonly ports: ReadonlySet<number>;
  readonly clients: ClientPolicy;
  readonly auth: ProxyAuth | null;
  readonly metrics: GatewayMetricsSink;
  readonly recorder: FlowRecorder;
  /** Admission of client connections (one limit for both listeners) and refusal counts. */
  readonly gate: ConnectionGate;
  /** The gateway's own listening endpoints, refused as destinations (no proxy loops). */
  readonly selfEndpoints: { address: IpAddress; port: number }[];
  /** Set when shutdown starts: finished exchanges close their connection instead of keeping it. */
  draining: boolean;
  /** The idle timeout of open tunnels: one timer for all of them. */
  readonly idle: IdleSweep;
  /** Tunnels currently open (CONNECT and SOCKS). */
  activeTunnels: number;
}

let connectionCounter = 0;

/** Links every record of one client connection (FlowRecord.connectionId). */
export function nextConnectionId(): string {
  connectionCounter = (connectionCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `gw-${process.pid.toString(36)}-${Date.now().toString(36)}-${connectionCounter.toString(36)}`;
}
