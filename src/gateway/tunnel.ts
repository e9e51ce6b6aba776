// A tunnel after its success reply (CONNECT 200 or SOCKS5 success): the client's first bytes are
// held until the TLS ClientHello is read, the SNI is checked against the requested host (policy
// `decisions.sniMismatch`), then bytes flow both ways with backpressure. Each direction ends on its
// own (half-close); a reset on one side resets the other; the flow is recorded when both closed.
import type { Socket } from 'node:net';
import type { Component } from '../catalog/model.js';
import { formatIp, type IpAddress } from '../match/ip.js';
import type { Target } from '../policy/target.js';
import { MAX_CLIENT_HELLO_BYTES, readClientHello, tlsAlert } from '../protocol/tls-client-hello.js';
import type { GatewayContext } from './context.js';
import { GatewayError, type GatewayErrorCode, isGatewayError } from './errors.js';
import type { GatewayFlow } from './flow-recorder.js';
import type { IdleWatched } from './idle-sweep.js';
import type { OriginReader } from './origin-reader.js';
import { planRoute, type Route } from './route.js';
import { dialUpstream, type Upstream } from './upstream-dial.js';

export interface TunnelStart {
  client: Socket;
  upstream: Upstream;
  route: Route;
  flow: GatewayFlow;
  /** The requested host (CONNECT authority / SOCKS address), canonical. */
  target: Target;
  component: Component;
  /** Client bytes that arrived with or right after the request, before the reply was read. */
  early: Buffer | null;
  /** Bytes of the request (CONNECT head, SOCKS request) and of the reply, counted in the record. */
  requestBytes: number;
  replyBytes: number;
  /** Called once, after both sockets closed and the flow was recorded. */
  onClosed: () => void;
}

type Phase = 'peek' | 'rerouting' | 'open' | 'closed';

const EMPTY = Buffer.alloc(0);

/**
 * Relays client-to-origin with `pipe`, origin-to-client through the dial's OriginReader (reused read
 * buffers; `pipe` for dials through an upstream proxy); nothing else runs per chunk in this class:
 * bytes are counted from the sockets' own counters when the tunnel closes, and the idle timeout is
 * one shared sweep (ctx.idle) instead of a socket timer re-armed on every chunk.
 *
 * Tried in session 10 and not kept (docs/performance.md, Gateway, "Idle tunnels and the DuckDB
 * floor, session 10"): a hand-written client-to-origin relay instead of `pipe` (1.7 KB less live
 * heap per open tunnel) and listeners shared by all tunnels instead of the arrow functions below
 * (0.4 KB); uploads through either build took more of the gateway's CPU per MiB in most pairs.
 */
export class Tunnel implements IdleWatched {
  readonly #ctx: GatewayContext;
  readonly #client: Socket;
  readonly #flow: GatewayFlow;
  readonly #target: Target;
  readonly #port: number;
  readonly #component: Component;
  readonly #onClosed: () => void;
  #upstream: Socket;
  /** The origin-to-client relay of a direct dial (origin-reader.ts); null: `pipe`. */
  #reader: OriginReader | null = null;
  /** The origin address the current upstream leads to (for a proxy egress: the CONNECTed one). */
  #origin: string;
  #phase: Phase = 'peek';
  #held: Buffer = EMPTY;
  #helloTimer: NodeJS.Timeout | undefined;
  #clientEnded = false;
  #clientClosed = false;
  #upstreamClosed = false;
  #error: GatewayErrorCode | null = null;
  readonly #readBase: number;
  readonly #writeBase: number;

  constructor(ctx: GatewayContext, start: TunnelStart) {
    this.#ctx = ctx;
    this.#client = start.client;
    this.#flow = start.flow;
    // Only what the tunnel needs later: the start (its early bytes, the route) is not kept.
    this.#target = start.target;
    this.#port = start.route.port;
    this.#component = start.component;
    this.#onClosed = start.onClosed;
    this.#upstream = start.upstream.socket;
    this.#origin = formatIp(start.route.addresses[0] as IpAddress);
    this.#readBase = this.#client.bytesRead - (start.early?.length ?? 0) - start.requestBytes;
    this.#writeBase = this.#client.bytesWritten - start.replyBytes;
    this.#flow.forwarded = true;
    ctx.activeTunnels++;
    ctx.metrics.tunnelOpened();

    const client = this.#client;
    client.on('data', this.#onPeekData);
    client.on('end', this.#onPeekEnd);
    client.on('error', this.#onClientError);
    client.on('close', this.#onClientClose);
    // The connection's own idle timer (armed while it read request heads) is the sweep's job now.
    client.setTimeout(0);
    ctx.idle.add(this);
    this.#attachUpstream(start.upstream);
    if (start.early && start.early.length > 0) this.#onPeekData(start.early);
    if (this.#phase === 'peek') client.resume();
  }

  /** Bytes moved through both sockets so far (the idle sweep watches this). */
  bytesMoved(): number {
    const client = this.#client;
    const upstream = this.#upstream;
    return client.bytesRead + client.bytesWritten + upstream.bytesRead + upstream.bytesWritten;
  }

  /** No byte either way for limits.idleTimeoutMs (called by the idle sweep). */
  onIdle(): void {
    this.#error ??= 'PW_GW_IDLE_TIMEOUT';
    this.#client.destroy();
    this.#upstream.destroy();
  }

  /** Ends the tunnel at shutdown (after the drain time). */
  abort(code: GatewayErrorCode): void {
    this.#error ??= code;
    this.#client.destroy();
    this.#upstream.destroy();
  }

  #attachUpstream(upstream: Upstream): void {
    const socket = upstream.socket;
    this.#upstream = socket;
    socket.on('error', this.#onUpstreamError);
    socket.on('close', this.#onUpstreamClose);
    socket.setTimeout(0);
    if (upstream.leftover) this.#client.write(upstream.leftover);
    // Server-first protocols: the origin may speak before the client; that direction flows at once.
    this.#reader = upstream.reader;
    if (upstream.reader) upstream.reader.attach(socket, this.#client);
    else socket.pipe(this.#client);
  }

  #onPeekData = (chunk: Buffer): void => {
    this.#held = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    if (this.#helloTimer === undefined) {
      this.#helloTimer = setTimeout(() => {
        this.#fail('PW_GW_CLIENT_HELLO_TIMEOUT', null);
      }, this.#ctx.limits.headersTimeoutMs);
    }
    this.#evaluate(false);
  };

  #onPeekEnd = (): void => {
    this.#clientEnded = true;
    if (this.#phase === 'peek') this.#evaluate(true);
  };

  #evaluate(final: boolean): void {
    const hello = readClientHello(this.#held);
    const record = this.#flow.record;
    switch (hello.kind) {
      case 'partial':
        if (this.#held.length > MAX_CLIENT_HELLO_BYTES) this.#fail('PW_GW_BAD_CLIENT_HELLO', 'decode_error');
        else if (final) this.#open();
        return;
      case 'not-tls':
        record.protocol = 'tcp';
        this.#open();
        return;
      case 'malformed':
        record.protocol = 'tls';
        this.#fail('PW_GW_BAD_CLIENT_HELLO', 'decode_error');
        return;
      case 'hello':
        record.protocol = 'tls';
        record.sni = hello.sni;
        if (hello.sni === null || hello.sni === this.#target.host) this.#open();
        else if (this.#ctx.config.decisions.sniMismatch === 'reject')
          this.#fail('PW_GW_SNI_MISMATCH', 'access_denied');
        else void this.#reroute(hello.sni);
        return;
      default:
        return;
    }
  }

  /** `use-sni`: the SNI is the destination; route it from scratch and redial when it leads elsewhere. */
  async #reroute(sni: string): Promise<void> {
    this.#phase = 'rerouting';
    this.#client.pause();
    clearTimeout(this.#helloTimer);
    const previousPath = this.#flow.record.egressPath;
    const target: Target = { input: sni, host: sni, address: undefined, port: this.#port };
    try {
      const route = await planRoute(this.#ctx, this.#flow, target, this.#port, this.#component);
      if (this.#phase !== 'rerouting') return;
      const same =
        route.egress.path === previousPath &&
        route.addresses.some((address) => formatIp(address) === this.#origin);
      if (!same) {
        const old = this.#upstream;
        if (this.#reader) this.#reader.release();
        else old.unpipe(this.#client);
        old.off('close', this.#onUpstreamClose);
        old.off('error', this.#onUpstreamError);
        old.on('error', () => {});
        old.destroy();
        const upstream = await dialUpstream(route.egress, route.addresses, route.port, {
          timeoutMs: this.#ctx.limits.connectTimeoutMs,
          tunnel: true,
          authority: route.authority,
          relay: true,
        });
        if (this.#phase !== 'rerouting') {
          upstream.socket.destroy();
          upstream.reader?.release();
          return;
        }
        this.#flow.record.connectMs = Math.round(upstream.connectMs);
        if (!route.egress.proxy) this.#flow.record.destination = upstream.address;
        this.#origin = formatIp(route.addresses[0] as IpAddress);
        this.#attachUpstream(upstream);
      }
      this.#open();
    } catch (error) {
      if (this.#phase !== 'rerouting') return;
      const code = isGatewayError(error) ? error.code : 'PW_GW_UPSTREAM_REFUSED';
      this.#fail(
        code,
        error instanceof GatewayError && error.status === 403 ? 'access_denied' : 'internal_error',
      );
    }
  }

  #open(): void {
    this.#phase = 'open';
    clearTimeout(this.#helloTimer);
    // A cleared Timeout keeps its callback and this tunnel's scope: not kept for an open tunnel's life.
    this.#helloTimer = undefined;
    const client = this.#client;
    client.off('data', this.#onPeekData);
    client.off('end', this.#onPeekEnd);
    if (this.#held.length > 0) this.#upstream.write(this.#held);
    this.#held = EMPTY;
    if (this.#clientEnded) this.#upstream.end();
    else client.pipe(this.#upstream);
  }

  /** Refuses the tunnel after its success reply: a TLS alert when the client speaks TLS, then close. */
  #fail(code: GatewayErrorCode, alert: 'access_denied' | 'internal_error' | 'decode_error' | null): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    clearTimeout(this.#helloTimer);
    this.#error = code;
    // Nothing the client sent has left: the flow is refused, not forwarded.
    this.#flow.forwarded = false;
    this.#upstream.destroy();
    if (alert !== null && !this.#client.destroyed) this.#client.end(tlsAlert(alert));
    else this.#client.destroy();
    // A client that keeps its side open must not hold the socket forever.
    setTimeout(() => this.#client.destroy(), 2000).unref();
  }

  #onClientError = (error: NodeJS.ErrnoException): void => {
    if (this.#phase === 'closed') return;
    this.#error ??= 'PW_GW_CLIENT_ABORTED';
    if (error.code === 'ECONNRESET') this.#upstream.resetAndDestroy();
    else this.#upstream.destroy();
  };

  #onUpstreamError = (error: NodeJS.ErrnoException): void => {
    if (this.#phase === 'closed') return;
    this.#error ??= 'PW_GW_UPSTREAM_RESET';
    if (error.code === 'ECONNRESET') this.#client.resetAndDestroy();
    else this.#client.destroy();
  };

  #onClientClose = (): void => {
    this.#clientClosed = true;
    // Normal close: let the upstream flush what it holds and finish its own half.
    if (!this.#upstream.destroyed) {
      if (this.#phase === 'open') this.#upstream.end();
      else this.#upstream.destroy();
    }
    this.#maybeFinish();
  };

  #onUpstreamClose = (): void => {
    this.#upstreamClosed = true;
    if (!this.#client.destroyed && this.#phase !== 'closed') this.#client.end();
    this.#maybeFinish();
  };

  #maybeFinish(): void {
    if (!this.#clientClosed || !this.#upstreamClosed) return;
    if (this.#phase !== 'closed') this.#phase = 'closed';
    clearTimeout(this.#helloTimer);
    this.#ctx.idle.delete(this);
    this.#reader?.release();
    const record = this.#flow.record;
    record.bytesUp = Math.max(0, this.#client.bytesRead - this.#readBase);
    record.bytesDown = Math.max(0, this.#client.bytesWritten - this.#writeBase);
    this.#ctx.activeTunnels--;
    this.#ctx.metrics.tunnelClosed();
    this.#ctx.recorder.finish(this.#flow, this.#error);
    this.#onClosed();
  }
}
