// Admission of client connections, shared by the proxy and SOCKS listeners: one limit for both,
// kept below the process's descriptor limit by a reserve (each proxied connection costs two
// descriptors, its client and its upstream; the admin API, the flow store, DNS and health probes
// need some of their own), so that silent or slow clients can fill the proxy but never the process.
// Connections refused at the limit, or closed for sending nothing, are counted and logged (at most
// one log line per kind every few seconds, so a flood cannot flood the log too).
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ConnectionRefusal, GatewayMetricsSink } from './contracts.js';

/** Descriptors kept back for everything that is not a client connection (at least this many). */
const MIN_RESERVE = 64;
/** ... or this share of the descriptor limit, whichever is more. */
const RESERVE_SHARE = 0.1;
const LOG_EVERY_MS = 5000;

/** The soft limit of open files of this process (Linux /proc), or null when it cannot be read. */
export function descriptorLimit(): number | null {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!match || match[1] === 'unlimited') return null;
    return Number(match[1]);
  } catch {
    return null;
  }
}

/** `limits.maxConnections`, lowered so that two descriptors per connection plus the reserve fit. */
export function effectiveConnectionLimit(configured: number, descriptors: number | null): number {
  if (descriptors === null) return configured;
  const reserve = Math.max(MIN_RESERVE, Math.ceil(descriptors * RESERVE_SHARE));
  return Math.max(1, Math.min(configured, Math.floor((descriptors - reserve) / 2)));
}

/**
 * The open-files limit `connections` client connections need (two descriptors each plus the
 * reserve): the smallest limit under which `effectiveConnectionLimit` admits them all.
 */
export function descriptorsNeeded(connections: number): number {
  // reserve = max(MIN_RESERVE, ceil(limit * RESERVE_SHARE)); start from the share's estimate and
  // step up: the rounding of both terms can make the estimate one or two short.
  let limit = Math.max(2 * connections + MIN_RESERVE, Math.floor((2 * connections) / (1 - RESERVE_SHARE)));
  while (effectiveConnectionLimit(connections, limit) < connections) limit++;
  return limit;
}

/** When the descriptor limit lowers `limits.maxConnections`: what is admitted and what would be needed. */
export interface DescriptorShortfall {
  configured: number;
  admitted: number;
  descriptors: number;
  needed: number;
}

export function descriptorShortfall(
  configured: number,
  descriptors: number | null,
): DescriptorShortfall | null {
  if (descriptors === null) return null;
  const admitted = effectiveConnectionLimit(configured, descriptors);
  if (admitted >= configured) return null;
  return { configured, admitted, descriptors, needed: descriptorsNeeded(configured) };
}

/** The warning for a shortfall, one line (the CLI's stderr; the log line carries the same fields). */
export function descriptorWarning(shortfall: DescriptorShortfall): string {
  return `the open-files limit (${shortfall.descriptors}) admits ${shortfall.admitted} of limits.maxConnections ${shortfall.configured} (two descriptors per connection plus a reserve); ${shortfall.configured} need an open-files limit of at least ${shortfall.needed} (ulimit -n, or LimitNOFILE= in a systemd unit), or set limits.maxConnections to ${shortfall.admitted} or less`;
}

export class ConnectionGate {
  /** Client connections (both listeners together) the gateway keeps open at most. */
  readonly limit: number;
  readonly #metrics: GatewayMetricsSink;
  readonly #logger: Logger | undefined;
  readonly #pending: Record<ConnectionRefusal, { count: number; timer: NodeJS.Timeout | undefined }> = {
    limit: { count: 0, timer: undefined },
    silent: { count: 0, timer: undefined },
  };

  constructor(limit: number, metrics: GatewayMetricsSink, logger?: Logger) {
    this.limit = limit;
    this.#metrics = metrics;
    this.#logger = logger;
  }

  /** True when a new connection may be served with `open` already open; else it is closed here. */
  admit(socket: Socket, open: number): boolean {
    if (open < this.limit) return true;
    socket.on('error', () => {});
    socket.destroy();
    this.refused('limit');
    return false;
  }

  /** Counts (and logs, batched) a connection closed without a request. */
  refused(reason: ConnectionRefusal): void {
    this.#metrics.connectionRefused(reason);
    const pending = this.#pending[reason];
    pending.count++;
    if (pending.timer !== undefined) return;
    this.#log(reason);
    pending.timer = setTimeout(() => {
      pending.timer = undefined;
      if (pending.count > 0) this.#log(reason);
    }, LOG_EVERY_MS);
    pending.timer.unref();
  }

  #log(reason: ConnectionRefusal): void {
    const pending = this.#pending[reason];
    this.#logger?.warn(
      { reason, count: pending.count, limit: this.limit },
      reason === 'limit' ? 'connections refused' : 'connections closed for sending no request',
    );
    pending.count = 0;
  }

  stop(): void {
    for (const pending of Object.values(this.#pending)) clearTimeout(pending.timer);
  }
}
