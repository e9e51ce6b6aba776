// Per-path health: a TCP or HTTP probe sent out the way the path's traffic goes (from its local
// source address, or through its upstream proxy), with hysteresis (`failures` results in a row flip
// the state). A path whose probe says `down` fails fast: circuit-bound flows get 503, never the
// Internet. Feeds the metrics (`pathHealth`) and the admin API (`GatewayStatus.health`).
import type { EgressPath } from '../catalog/model.js';
import { canonicalHostName } from '../match/host.js';
import { type IpAddress, parseIp } from '../match/ip.js';
import type { GatewayConfig } from './config.js';
import type { GatewayMetricsSink, PathHealth } from './contracts.js';
import { isGatewayError } from './errors.js';
import type { HostResolver } from './host-resolver.js';
import { findHeadEnd, parseResponseHead } from './http-head.js';
import { authorityOfHost, dialUpstream, type Egress } from './upstream-dial.js';

type ProbeConfig = NonNullable<GatewayConfig['health']['expressroute']>;

const HISTORY_LIMIT = 50;

class PathProbe {
  readonly state: PathHealth;
  readonly #config: ProbeConfig;
  readonly #egress: Egress;
  readonly #resolver: HostResolver;
  readonly #onChange: (health: PathHealth) => void;
  #streak = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    path: EgressPath,
    config: ProbeConfig,
    egress: Egress,
    resolver: HostResolver,
    onChange: (health: PathHealth) => void,
  ) {
    this.state = { path, state: 'unknown', since: Date.now(), lastError: null, history: [] };
    this.#config = config;
    this.#egress = egress;
    this.#resolver = resolver;
    this.#onChange = onChange;
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #run(): Promise<void> {
    let error: string | null = null;
    try {
      await probeOnce(this.#config, this.#egress, this.#resolver);
    } catch (cause) {
      error = cause instanceof Error ? cause.message : String(cause);
    }
    if (this.#stopped) return;
    this.#observe(error);
    this.#timer = setTimeout(() => void this.#run(), this.#config.intervalMs);
    this.#timer.unref();
  }

  /** Unknown takes the first result at once; afterwards `failures` results in a row flip it. */
  #observe(error: string | null): void {
    const result = error === null ? 'up' : 'down';
    this.state.lastError = error ?? this.state.lastError;
    if (this.state.state === result) {
      this.#streak = 0;
    } else if (this.state.state === 'unknown' || ++this.#streak >= this.#config.failures) {
      this.#streak = 0;
      this.state.state = result;
      this.state.since = Date.now();
      this.state.history.push({ t: this.state.since, state: result });
      if (this.state.history.length > HISTORY_LIMIT) this.state.history.shift();
    }
    this.#onChange(this.state);
  }
}

/** One probe; resolves when the path works, throws (with a readable message) when it does not. */
async function probeOnce(config: ProbeConfig, egress: Egress, resolver: HostResolver): Promise<void> {
  if (config.kind === 'tcp') {
    // Through a proxy egress this is a CONNECT to the target: the proxy and its way out both count.
    const { host, port } = splitTarget(config.target);
    const upstream = await dialUpstream(egress, await addressesOf(host, resolver), port, {
      timeoutMs: config.timeoutMs,
      tunnel: true,
      authority: authorityOfHost(host, port),
    });
    upstream.socket.destroy();
    return;
  }
  const url = new URL(config.target);
  const port = url.port === '' ? 80 : Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = await addressesOf(host, resolver);
  const upstream = await dialUpstream(egress, addresses, port, {
    timeoutMs: config.timeoutMs,
    tunnel: false,
    authority: url.host,
  });
  const target = egress.proxy
    ? `http://${url.host}${url.pathname}${url.search}`
    : `${url.pathname}${url.search}`;
  await new Promise<void>((resolve, reject) => {
    const socket = upstream.socket;
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new Error(`probe GET ${config.target} timed out`)),
      config.timeoutMs,
    );
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        const end = findHeadEnd(buffer, 0, 'response');
        if (end < 0) return;
        const head = parseResponseHead(buffer, end);
        if (head.status >= 200 && head.status < 400) finish();
        else finish(new Error(`probe GET ${config.target} answered ${head.status}`));
      } catch (cause) {
        finish(cause as Error);
      }
    });
    socket.on('error', (cause) => finish(cause));
    socket.on('end', () =>
      finish(new Error(`probe GET ${config.target}: connection closed before a response`)),
    );
    socket.write(
      `GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n${egress.proxy?.authorization ?? ''}\r\n`,
    );
  });
}

async function addressesOf(host: string, resolver: HostResolver): Promise<IpAddress[]> {
  const literal = parseIp(host);
  if (literal) return [literal];
  const name = canonicalHostName(host);
  if (name === undefined) throw new Error(`probe target host "${host}" is not a host name`);
  try {
    return await resolver.resolve(name);
  } catch (error) {
    throw new Error(isGatewayError(error) ? error.message : String(error));
  }
}

function splitTarget(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`tcp probe target "${text}" is not host:port`);
  }
  return { host: text.slice(0, colon).replace(/^\[|\]$/g, ''), port };
}

/** The health of both paths; paths without a probe stay `unknown` (and carry traffic). */
export class HealthMonitor {
  readonly #probes = new Map<EgressPath, PathProbe>();
  readonly #unprobed: PathHealth[] = [];

  constructor(
    config: GatewayConfig['health'],
    egresses: Readonly<Record<EgressPath, Egress>>,
    resolver: HostResolver,
    metrics: GatewayMetricsSink,
  ) {
    for (const path of ['expressroute', 'internet'] as const) {
      const probe = config[path];
      if (probe) {
        this.#probes.set(
          path,
          new PathProbe(path, probe, egresses[path], resolver, (health) =>
            metrics.pathHealth(path, health.state === 'up'),
          ),
        );
      } else {
        this.#unprobed.push({ path, state: 'unknown', since: Date.now(), lastError: null, history: [] });
      }
    }
  }

  start(): void {
    for (const probe of this.#probes.values()) probe.start();
  }

  stop(): void {
    for (const probe of this.#probes.values()) probe.stop();
  }

  isDown(path: EgressPath): boolean {
    return this.#probes.get(path)?.state.state === 'down';
  }

  /** Why the path is down (the last probe error), for the 503 message. */
  lastError(path: EgressPath): string | null {
    return this.#probes.get(path)?.state.lastError ?? null;
  }

  snapshot(): PathHealth[] {
    const all = [...[...this.#probes.values()].map((probe) => probe.state), ...this.#unprobed];
    return all
      .sort((a, b) => a.path.localeCompare(b.path))
      .map((health) => ({ ...health, history: health.history.map((entry) => ({ ...entry })) }));
  }
}
