// GET /api/events: one Server-Sent Events stream per open dashboard. One timer reads the store for
// all clients (never one query per client per tick), and only while someone is watching.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayStatus, PathHealth } from '../../gateway/contracts.js';
import type { FlowStore } from '../../store/store.js';
import type { FlowSummary, HealthEvent, TickEvent } from '../api-contract.js';

export interface EventStreamOptions {
  store: FlowStore;
  status: GatewayStatus;
  /** How often the totals are read from the store (default 2000 ms). */
  tickMs?: number;
  /** How often the paths' health is compared with the last one sent (in memory; default 500 ms). */
  healthMs?: number;
  /** Comment lines that keep proxies and load balancers from closing a quiet stream (default 15 s). */
  heartbeatMs?: number;
  /** Invoked when a tick fails (a store error); the stream stays open and the next tick retries. */
  onError?: (error: unknown) => void;
}

/** A client that lets this much pile up unread is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 1 << 20;

export class DashboardEvents {
  readonly #clients = new Set<ServerResponse>();
  readonly #options: Required<Omit<EventStreamOptions, 'onError'>> & Pick<EventStreamOptions, 'onError'>;
  #timers: NodeJS.Timeout[] = [];
  #ticking = false;
  #lastTick: TickEvent | undefined;
  #lastHealth = '';
  #lastBeat = 0;
  #closed = false;

  constructor(options: EventStreamOptions) {
    // `??`, not spread defaults: callers pass their own optional settings through as undefined.
    this.#options = {
      ...options,
      tickMs: options.tickMs ?? 2000,
      healthMs: options.healthMs ?? 500,
      heartbeatMs: options.heartbeatMs ?? 15000,
    };
  }

  get clients(): number {
    return this.#clients.size;
  }

  attach(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closed) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('shutting down\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      'x-content-type-options': 'nosniff',
      // nginx and similar reverse proxies would otherwise hold events back in their buffers.
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    res.write(frame('health', this.#healthEvent()));
    if (this.#lastTick) res.write(frame('tick', { ...this.#lastTick, newFlows: 0, latest: [] }));
    this.#clients.add(res);
    const drop = () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stop();
    };
    req.once('close', drop);
    res.once('close', drop);
    if (this.#timers.length === 0) this.#start();
  }

  /** Ends every stream (so the HTTP server can close) and stops the timers. */
  close(): void {
    this.#closed = true;
    this.#stop();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #start(): void {
    const { tickMs, healthMs } = this.#options;
    this.#lastBeat = Date.now();
    this.#timers = [setInterval(() => this.#health(), healthMs)];
    if (tickMs > 0) this.#timers.push(setInterval(() => void this.#tick(), tickMs));
    for (const timer of this.#timers) timer.unref();
    if (tickMs > 0) void this.#tick();
  }

  #stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  #healthEvent(): HealthEvent {
    const health = this.#options.status.health();
    this.#lastHealth = healthKey(health);
    return { t: Date.now(), health };
  }

  #health(): void {
    const health = this.#options.status.health();
    const key = healthKey(health);
    if (key !== this.#lastHealth) {
      this.#lastHealth = key;
      this.#broadcast(frame('health', { t: Date.now(), health } satisfies HealthEvent));
    }
    if (Date.now() - this.#lastBeat >= this.#options.heartbeatMs) {
      this.#lastBeat = Date.now();
      this.#broadcast(': ping\n\n');
    }
  }

  async #tick(): Promise<void> {
    // A slow store (a big aggregation) must not pile up overlapping ticks.
    if (this.#ticking || this.#clients.size === 0) return;
    this.#ticking = true;
    try {
      const { store, status } = this.#options;
      const stats = await store.stats({ series: false });
      const previous = this.#lastTick;
      const activeTunnels = status.activeTunnels();
      const unchanged =
        previous !== undefined &&
        previous.flows === stats.flows &&
        previous.bytesUp === stats.bytesUp &&
        previous.bytesDown === stats.bytesDown &&
        previous.activeTunnels === activeTunnels;
      if (unchanged) return;
      const newFlows = previous === undefined ? 0 : Math.max(0, stats.flows - previous.flows);
      let latest: FlowSummary[] = [];
      if (newFlows > 0) {
        const page = await store.query({ limit: Math.min(newFlows, 10) });
        latest = page.flows.map(summarize);
      }
      const tick: TickEvent = {
        t: Date.now(),
        flows: stats.flows,
        bytesUp: stats.bytesUp,
        bytesDown: stats.bytesDown,
        byVerdict: stats.byVerdict,
        activeTunnels,
        newFlows,
        latest,
      };
      this.#lastTick = tick;
      this.#broadcast(frame('tick', tick));
    } catch (error) {
      this.#options.onError?.(error);
    } finally {
      this.#ticking = false;
    }
  }

  #broadcast(text: string): void {
    for (const res of this.#clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }
}

function frame(event: string, data: unknown): string {
  // JSON.stringify never emits a raw newline, so the payload is always one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function healthKey(health: PathHealth[]): string {
  return health.map((path) => `${path.path}:${path.state}:${path.since}:${path.lastError ?? ''}`).join('|');
}

function summarize(flow: FlowSummary): FlowSummary {
  return {
    id: flow.id,
    start: flow.start,
    host: flow.host,
    component: flow.component,
    verdict: flow.verdict,
    egressPath: flow.egressPath,
    actualPath: flow.actualPath,
    outcome: flow.outcome,
  };
}
