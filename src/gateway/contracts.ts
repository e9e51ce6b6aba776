// The seams of the gateway: the proxy produces FlowRecords and events, metrics count them, and the
// admin side reads the live state. The flow store's interface lives in src/store/store.ts.
import type { EgressPath } from '../catalog/model.js';
import type { FlowRecord } from '../flow/record.js';

/** Why a client connection was closed without a request: the connection limit, or it sent nothing. */
export type ConnectionRefusal = 'limit' | 'silent';

/** What the proxy tells the metrics. */
export interface GatewayMetricsSink {
  /** Seconds spent in decide() (and classification) for one connection. */
  decisionObserved(seconds: number): void;
  tunnelOpened(): void;
  tunnelClosed(): void;
  /** A connection ended: count it and its bytes by egress path, verdict and outcome. */
  flowFinished(flow: FlowRecord): void;
  pathHealth(path: EgressPath, up: boolean): void;
  /** A client connection was closed without a request (no flow record is written for it). */
  connectionRefused(reason: ConnectionRefusal): void;
}

export interface PathHealth {
  path: EgressPath;
  /** `unknown` until the first probe (or when no probe is configured). */
  state: 'up' | 'down' | 'unknown';
  since: number;
  lastError: string | null;
  /** Recent state changes, newest last (bounded). */
  history: { t: number; state: 'up' | 'down' }[];
}

/** Live state the admin API reads from the proxy. */
export interface GatewayStatus {
  health(): PathHealth[];
  activeTunnels(): number;
}
