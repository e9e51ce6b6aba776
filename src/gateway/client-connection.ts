// One client connection to the HTTP proxy listener: a loop of strictly parsed request heads, each
// either forwarded as one exchange (absolute-form request and its response, bodies streamed with
// backpressure, the upstream connection kept for the next request to the same place) or turned
// into a CONNECT tunnel. One FlowRecord per request (per tunnel); refusals are answered with the
// code of errors.ts and recorded too.
import type { Socket } from 'node:net';
import type { Component } from '../catalog/model.js';
import { formatIp, type IpAddress } from '../match/ip.js';
import type { Target } from '../policy/target.js';
import { ClientPolicy } from './client-policy.js';
import { connectEstablished, dialConnectTarget } from './connect.js';
import type { GatewayContext } from './context.js';
import { errorResponse, GatewayError, type GatewayErrorCode, isGatewayError } from './errors.js';
import { type GatewayFlow, ownCopy, settleDecision, startFlow } from './flow-recorder.js';
import { MAX_RESPONSE_HEAD, planResponse, upstreamKeyOf, upstreamRequestHead } from './forwarded-heads.js';
import { type BodyFramer, ChunkedFramer, LengthFramer, UntilCloseFramer } from './http-body.js';
import {
  findHeadEnd,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from './http-head.js';
import { proxyAuthenticate } from './proxy-auth.js';
import { connectTarget, parseAbsoluteTarget } from './request-target.js';
import { planRouteNow, type Route } from './route.js';
import { Tunnel } from './tunnel.js';
import { dialUpstream } from './upstream-dial.js';

const EMPTY = Buffer.alloc(0);
/** Stands in for the client socket's handlers once a tunnel has taken the socket over. */
const released = (): void => {};
/** How long a refused client may keep sending before its socket is destroyed. */
const LINGER_MS = 2000;

interface Exchange {
  flow: GatewayFlow;
  head: RequestHead;
  target: Target | null;
  path: string;
  route: Route | null;
  body: BodyFramer;
  requestDone: boolean;
  upstream: Socket | null;
  upstreamKey: string;
  reused: boolean;
  retried: boolean;
  responseBuffer: Buffer;
  responseScanned: number;
  responseHead: ResponseHead | null;
  responseBody: BodyFramer | null;
  responseDone: boolean;
  keepClient: boolean;
  keepUpstream: boolean;
  bytesUp: number;
  bytesDown: number;
}

export class ClientConnection {
  readonly #ctx: GatewayContext;
  readonly #socket: Socket;
  readonly #id: string;
  readonly #client: string | null;
  readonly #component: Component;
  readonly #onClosed: (connection: ClientConnection) => void;
  #buffer: Buffer = EMPTY;
  #scanned = 0;
  #headTimer: NodeJS.Timeout | undefined;
  #exchange: Exchange | null = null;
  #pooled: { key: string; socket: Socket } | null = null;
  #tunnel: Tunnel | null = null;
  #closing = false;
  #clientEnded = false;
  #closed = false;

  constructor(
    ctx: GatewayContext,
    socket: Socket,
    id: string,
    onClosed: (connection: ClientConnection) => void,
  ) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#id = id;
    this.#onClosed = onClosed;
    const address: IpAddress | undefined = ClientPolicy.addressOf(socket.remoteAddress);
    this.#client = address ? formatIp(address) : (socket.remoteAddress ?? null);
    this.#component = ctx.clients.componentOf(address);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('timeout', this.#onTimeout);
    socket.setTimeout(ctx.limits.idleTimeoutMs);
    // The first request head must be complete within the headers timeout of the connection opening:
    // a connection that sends nothing holds two descriptors' worth of the connection limit.
    this.#headTimer = setTimeout(this.#onHeadTimeout, ctx.limits.headersTimeoutMs);
    if (!ctx.clients.isAllowed(address)) {
      this.#refuse(
        this.#newExchange(null),
        new GatewayError('PW_GW_CLIENT_DENIED', `client ${this.#client} is not in the clients allow-list`),
      );
    }
  }

  /** True while a request or tunnel is in flight (shutdown waits for these). */
  get busy(): boolean {
    return this.#exchange !== null || this.#tunnel !== null;
  }

  /** Closes an idle connection at once (shutdown); busy ones finish first. */
  closeIfIdle(): void {
    if (!this.busy) this.#socket.destroy();
  }

  /** Ends whatever is in flight (shutdown after the drain time), recording it. */
  abort(code: GatewayErrorCode): void {
    if (this.#tunnel) {
      this.#tunnel.abort(code);
      return;
    }
    const exchange = this.#exchange;
    if (exchange) this.#endExchange(exchange, code);
    this.#socket.destroy();
  }

  // ---- client side -----------------------------------------------------------------------

  #onData = (chunk: Buffer): void => {
    if (this.#closing) return; // a refused client's remaining bytes are read and dropped
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#process();
  };

  #onEnd = (): void => {
    this.#clientEnded = true;
    const exchange = this.#exchange;
    if (exchange === null) {
      if (this.#buffer.length > 0 && !this.#closing) {
        this.#refuse(
          this.#newExchange(null),
          new GatewayError('PW_GW_BAD_REQUEST', 'the connection ended in the middle of a request head'),
        );
      } else this.#socket.end();
    } else if (!exchange.requestDone) {
      this.#endExchange(exchange, 'PW_GW_CLIENT_ABORTED');
      this.#socket.destroy();
    }
    // A client that half-closes after a complete request still gets its response.
  };

  #onError = (): void => {
    const exchange = this.#exchange;
    if (exchange) this.#endExchange(exchange, 'PW_GW_CLIENT_ABORTED');
    this.#socket.destroy();
  };

  #onClose = (): void => {
    this.#closed = true;
    clearTimeout(this.#headTimer);
    const exchange = this.#exchange;
    if (exchange) this.#endExchange(exchange, 'PW_GW_CLIENT_ABORTED');
    this.#pooled?.socket.destroy();
    this.#pooled = null;
    this.#onClosed(this);
  };

  #onTimeout = (): void => {
    const exchange = this.#exchange;
    // Waiting on a slow origin is the upstream timeout's business, not the client's.
    if (exchange?.requestDone && exchange.upstream) return;
    if (exchange) this.#endExchange(exchange, 'PW_GW_CLIENT_ABORTED');
    this.#socket.destroy();
  };

  /** Moves buffered client bytes along: request heads, then bodies to the upstream. */
  #process(): void {
    for (;;) {
      const exchange = this.#exchange;
      if (exchange !== null) {
        if (exchange.upstream === null || exchange.requestDone || this.#buffer.length === 0) break;
        if (!this.#feedBody(exchange)) return;
        continue;
      }
      if (this.#buffer.length === 0 || this.#closing) break;
      const head = this.#readHead();
      if (head === null) break;
      this.#startExchange(head);
    }
    this.#updateReading();
  }

  /** Parses the next head if it is complete; answers 400 / 431 itself. */
  #readHead(): RequestHead | null {
    const limit = this.#ctx.limits.headerBytes;
    let end: number;
    try {
      end = findHeadEnd(this.#buffer, this.#scanned);
      if (end < 0) {
        if (this.#buffer.length > limit) throw tooLarge(limit);
        this.#scanned = this.#buffer.length;
        this.#headTimer ??= setTimeout(this.#onHeadTimeout, this.#ctx.limits.headersTimeoutMs);
        return null;
      }
      if (end > limit) throw tooLarge(limit);
      clearTimeout(this.#headTimer);
      this.#headTimer = undefined;
      this.#scanned = 0;
      const head = parseRequestHead(this.#buffer, end);
      this.#buffer = end === this.#buffer.length ? EMPTY : this.#buffer.subarray(end);
      return head;
    } catch (error) {
      clearTimeout(this.#headTimer);
      this.#headTimer = undefined;
      this.#refuse(this.#newExchange(null), error);
      return null;
    }
  }

  #onHeadTimeout = (): void => {
    this.#headTimer = undefined;
    if (this.#exchange !== null || this.#closing) return;
    if (this.#buffer.length === 0) {
      // Not a byte of a request: nothing to answer or record, only to count.
      this.#ctx.gate.refused('silent');
      this.#socket.destroy();
      return;
    }
    this.#refuse(
      this.#newExchange(null),
      new GatewayError(
        'PW_GW_HEADERS_TIMEOUT',
        `the request head was not complete within ${this.#ctx.limits.headersTimeoutMs} ms`,
      ),
    );
  };

  /** Feeds buffered body bytes to the upstream; false when writing must wait for a drain. */
  #feedBody(exchange: Exchange): boolean {
    let taken: number;
    try {
      taken = exchange.body.feed(this.#buffer, 0);
    } catch (error) {
      this.#refuse(exchange, error);
      return false;
    }
    const upstream = exchange.upstream as Socket;
    let flowing = true;
    if (taken > 0) {
      flowing = upstream.write(
        taken === this.#buffer.length ? this.#buffer : this.#buffer.subarray(0, taken),
      );
      exchange.bytesUp += taken;
      this.#buffer = taken === this.#buffer.length ? EMPTY : this.#buffer.subarray(taken);
    }
    if (exchange.body.done) {
      exchange.requestDone = true;
      this.#maybeFinish(exchange);
      return true;
    }
    if (!flowing) {
      this.#socket.pause();
      upstream.once('drain', () => this.#updateReading());
      return false;
    }
    return true;
  }

  /** Reads from the client only when the bytes have somewhere to go. */
  #updateReading(): void {
    if (this.#tunnel || this.#closed) return;
    const exchange = this.#exchange;
    const reading =
      this.#closing ||
      (exchange === null && !this.#clientEnded) ||
      (exchange !== null &&
        exchange.upstream !== null &&
        !exchange.requestDone &&
        !exchange.upstream.writableNeedDrain);
    if (reading) this.#socket.resume();
    else this.#socket.pause();
  }

  // ---- exchanges ---------------------------------------------------------------------------

  #newExchange(head: RequestHead | null): Exchange {
    const flow = startFlow(this.#client, this.#id, this.#component);
    if (head) flow.record.httpHost = head.host;
    return {
      flow,
      head: head as RequestHead,
      target: null,
      path: '/',
      route: null,
      body: new LengthFramer(0),
      requestDone: false,
      upstream: null,
      upstreamKey: '',
      reused: false,
      retried: false,
      responseBuffer: EMPTY,
      responseScanned: 0,
      responseHead: null,
      responseBody: null,
      responseDone: false,
      keepClient: false,
      keepUpstream: false,
      bytesUp: head?.length ?? 0,
      bytesDown: 0,
    };
  }

  #startExchange(head: RequestHead): void {
    const exchange = this.#newExchange(head);
    this.#exchange = exchange;
    this.#socket.pause();
    try {
      const auth = this.#ctx.auth;
      if (auth && auth.verify(head.proxyAuthorization) === null) {
        throw new GatewayError(
          'PW_GW_AUTH_REQUIRED',
          head.proxyAuthorization === null
            ? 'this proxy requires authentication (Proxy-Authorization: Basic)'
            : 'the proxy credentials are not valid',
        );
      }
      if (head.method === 'CONNECT') {
        this.#startConnect(exchange);
        return;
      }
      const { target, path } = parseAbsoluteTarget(head.target);
      exchange.target = target;
      exchange.path = path;
      const record = exchange.flow.record;
      record.host = target.host;
      record.port = target.port ?? 80;
      record.protocol = 'http';
      exchange.body = head.chunked
        ? new ChunkedFramer('PW_GW_BAD_FRAMING', this.#ctx.limits.headerBytes)
        : new LengthFramer(head.contentLength ?? 0);
    } catch (error) {
      this.#refuse(exchange, error);
      return;
    }
    this.#forward(exchange);
  }

  /**
   * Routes the request and sends it upstream. A request without a body whose route needs no I/O
   * (an address, or a name of the static `resolve` map) and whose destination has a kept upstream
   * connection goes out in this turn; everything else (a DNS lookup, a dial, a body) continues in
   * #forwardLater, as every request did: the promises of that path were about a tenth of the
   * allocation per request (docs/performance.md, "Gateway request path, session 5").
   */
  #forward(exchange: Exchange): void {
    const target = exchange.target as Target;
    let planned: Route | Promise<Route>;
    try {
      planned = planRouteNow(this.#ctx, exchange.flow, target, target.port ?? 80, this.#component);
      if (!(planned instanceof Promise)) {
        exchange.route = planned;
        if (exchange.body.done && this.#sendOnKept(exchange)) return;
      }
    } catch (error) {
      if (this.#exchange === exchange) this.#refuse(exchange, error);
      return;
    }
    void this.#forwardLater(exchange, planned);
  }

  async #forwardLater(exchange: Exchange, planned: Route | Promise<Route>): Promise<void> {
    try {
      const route = await planned;
      exchange.route = route;
      if (this.#exchange !== exchange) return;
      await this.#connectUpstream(exchange, true);
    } catch (error) {
      if (this.#exchange === exchange) this.#refuse(exchange, error);
    }
  }

  /** Sends the request on the kept upstream connection when it leads to the same place. */
  #sendOnKept(exchange: Exchange): boolean {
    const key = upstreamKeyOf(exchange.route as Route);
    const pooled = this.#pooled;
    if (pooled === null || !isReusable(pooled, key)) return false;
    this.#pooled = null;
    exchange.upstreamKey = key;
    exchange.reused = true;
    exchange.flow.record.connectMs = 0;
    this.#sendHead(exchange, pooled.socket);
    return true;
  }

  /** Takes the kept upstream when it leads to the same place, dials otherwise, then sends the head. */
  async #connectUpstream(exchange: Exchange, mayReuse: boolean): Promise<void> {
    const route = exchange.route as Route;
    const egress = route.egress;
    const key = upstreamKeyOf(route);
    exchange.upstreamKey = key;
    const pooled = this.#pooled;
    this.#pooled = null;
    let socket: Socket;
    if (mayReuse && pooled && isReusable(pooled, key)) {
      socket = pooled.socket;
      exchange.reused = true;
      exchange.flow.record.connectMs = 0;
    } else {
      pooled?.socket.destroy();
      const upstream = await dialUpstream(egress, route.addresses, route.port, {
        timeoutMs: this.#ctx.limits.connectTimeoutMs,
        tunnel: false,
        authority: route.authority,
      });
      socket = upstream.socket;
      if (this.#exchange !== exchange) {
        socket.destroy();
        return;
      }
      exchange.reused = false;
      exchange.flow.record.connectMs = Math.round(upstream.connectMs);
      if (!egress.proxy) exchange.flow.record.destination = upstream.address;
      this.#bindUpstream(socket);
    }
    this.#sendHead(exchange, socket);
  }

  /** Sends the request head (and the body bytes already buffered) on `socket`. */
  #sendHead(exchange: Exchange, socket: Socket): void {
    const route = exchange.route as Route;
    keepIdleTimeout(socket, this.#ctx.limits.idleTimeoutMs);
    exchange.upstream = socket;
    exchange.flow.forwarded = true;
    // The head and the body bytes already buffered leave in one write (one system call, one
    // segment with noDelay) instead of one each; a request without a body is one write anyway.
    const corked = !exchange.body.done && this.#buffer.length > 0;
    if (corked) socket.cork();
    try {
      socket.write(upstreamRequestHead(exchange.head, route, exchange.path), 'latin1');
      if (exchange.body.done) {
        exchange.requestDone = true;
        this.#maybeFinish(exchange);
      }
      this.#process();
    } finally {
      // Never left corked: a throw above must not hold the request back until the idle timeout.
      if (corked) socket.uncork();
    }
  }

  // ---- upstream side -----------------------------------------------------------------------

  /** Listeners live as long as the upstream socket; they act on whichever exchange holds it. */
  #bindUpstream(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      const exchange = this.#exchange;
      if (exchange === null || exchange.upstream !== socket) {
        socket.destroy(); // bytes from an idle kept connection: it cannot be trusted any more
        return;
      }
      this.#onResponseData(exchange, chunk);
    });
    socket.on('end', () => {
      const exchange = this.#exchange;
      if (
        exchange !== null &&
        exchange.upstream === socket &&
        exchange.responseBody instanceof UntilCloseFramer
      ) {
        exchange.responseDone = true;
        exchange.keepUpstream = false;
        this.#maybeFinish(exchange);
      }
      socket.end();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.#pooled?.socket === socket) this.#pooled = null;
      const exchange = this.#exchange;
      if (exchange !== null && exchange.upstream === socket) this.#onUpstreamLost(exchange);
    });
    socket.on('timeout', () => {
      const exchange = this.#exchange;
      if (exchange !== null && exchange.upstream === socket) {
        if (exchange.responseHead === null && exchange.bytesDown === 0) {
          this.#refuse(
            exchange,
            new GatewayError(
              'PW_GW_UPSTREAM_TIMEOUT',
              `the origin sent nothing for ${this.#ctx.limits.idleTimeoutMs} ms`,
            ),
          );
        } else {
          this.#endExchange(exchange, 'PW_GW_UPSTREAM_TIMEOUT');
          this.#socket.destroy();
        }
      } else {
        socket.destroy();
      }
    });
  }

  #onResponseData(exchange: Exchange, chunk: Buffer): void {
    try {
      if (exchange.responseBody === null) {
        exchange.responseBuffer =
          exchange.responseBuffer.length === 0 ? chunk : Buffer.concat([exchange.responseBuffer, chunk]);
        this.#readResponseHead(exchange);
      } else {
        this.#relayResponseBody(exchange, chunk, 0, null);
      }
    } catch (error) {
      if (exchange.bytesDown === 0) this.#refuse(exchange, error);
      else {
        this.#endExchange(exchange, isGatewayError(error) ? error.code : 'PW_GW_BAD_UPSTREAM_RESPONSE');
        this.#socket.destroy();
      }
    }
  }

  #readResponseHead(exchange: Exchange): void {
    for (;;) {
      const buffer = exchange.responseBuffer;
      const end = findHeadEnd(buffer, exchange.responseScanned, 'response');
      if (end < 0) {
        if (buffer.length > MAX_RESPONSE_HEAD) {
          throw new GatewayError('PW_GW_BAD_UPSTREAM_RESPONSE', 'the response head is larger than 64 KiB');
        }
        exchange.responseScanned = buffer.length;
        return;
      }
      const head = parseResponseHead(buffer, end);
      exchange.responseScanned = 0;
      exchange.responseBuffer = EMPTY;
      if (head.status < 200) {
        if (head.status === 101) {
          throw new GatewayError(
            'PW_GW_BAD_UPSTREAM_RESPONSE',
            'the origin switched protocols, which was not asked for',
          );
        }
        // Interim responses (100 Continue, 103 Early Hints) go to HTTP/1.1 clients as they are.
        if (exchange.head.minor === 1) {
          this.#socket.write(buffer.subarray(0, end));
          exchange.bytesDown += end;
        }
        if (end === buffer.length) return;
        exchange.responseBuffer = buffer.subarray(end);
        continue;
      }
      this.#startResponse(exchange, head, buffer, end);
      return;
    }
  }

  #startResponse(exchange: Exchange, head: ResponseHead, buffer: Buffer, end: number): void {
    const plan = planResponse(exchange.head, head, !this.#clientEnded && !this.#ctx.draining);
    exchange.responseHead = head;
    exchange.responseBody = plan.body;
    exchange.keepUpstream = plan.keepUpstream;
    exchange.keepClient = plan.keepClient;
    this.#relayResponseBody(exchange, buffer, end, plan.head);
  }

  /** Writes response body bytes (after `head`, when given) with backpressure on the upstream. */
  #relayResponseBody(exchange: Exchange, chunk: Buffer, offset: number, head: Buffer | null): void {
    const body = exchange.responseBody as BodyFramer;
    const taken = body.feed(chunk, offset);
    if (offset + taken < chunk.length) exchange.keepUpstream = false; // bytes past the response
    const part =
      taken === 0
        ? null
        : offset === 0 && taken === chunk.length
          ? chunk
          : chunk.subarray(offset, offset + taken);
    const out =
      head === null ? part : part === null ? head : Buffer.concat([head, part], head.length + part.length);
    if (out !== null) {
      exchange.bytesDown += out.length;
      if (!this.#socket.write(out) && !body.done) {
        const upstream = exchange.upstream as Socket;
        upstream.pause();
        this.#socket.once('drain', () => upstream.resume());
      }
    }
    if (body.done) {
      exchange.responseDone = true;
      this.#maybeFinish(exchange);
    }
  }

  /** The upstream closed while this exchange used it. */
  #onUpstreamLost(exchange: Exchange): void {
    if (exchange.responseDone) return;
    if (exchange.bytesDown === 0 && exchange.responseHead === null) {
      // A kept connection the origin closed just before our request arrived: one retry on a
      // fresh connection, for requests without a body (nothing of the client's was consumed).
      const bodyless = !exchange.head.chunked && (exchange.head.contentLength ?? 0) === 0;
      if (exchange.reused && !exchange.retried && bodyless) {
        exchange.retried = true;
        exchange.upstream = null;
        exchange.requestDone = false;
        this.#connectUpstream(exchange, false).catch((error: unknown) => {
          if (this.#exchange === exchange) this.#refuse(exchange, error);
        });
        return;
      }
      this.#refuse(
        exchange,
        new GatewayError('PW_GW_UPSTREAM_RESET', 'the origin closed the connection without a response'),
      );
      return;
    }
    // Mid-response: the client cannot be told in HTTP any more; pass the reset on.
    this.#endExchange(exchange, 'PW_GW_UPSTREAM_RESET');
    this.#socket.resetAndDestroy();
  }

  /** Both halves of the exchange are complete (or the response ended it early). */
  #maybeFinish(exchange: Exchange): void {
    if (!exchange.responseDone) return;
    if (!exchange.requestDone) {
      // The origin answered before the request body was in: the rest cannot be framed reliably.
      exchange.keepClient = false;
      exchange.keepUpstream = false;
    }
    const upstream = exchange.upstream as Socket;
    this.#endExchange(exchange, null);
    if (exchange.keepUpstream && !upstream.destroyed) {
      keepIdleTimeout(upstream, this.#ctx.limits.idleTimeoutMs);
      this.#pooled = { key: exchange.upstreamKey, socket: upstream };
    } else {
      upstream.destroy();
    }
    if (exchange.keepClient && !this.#ctx.draining) {
      this.#process();
      if (this.#exchange === null && this.#clientEnded && !this.#closing) {
        this.#closing = true;
        this.#socket.end();
      }
    } else {
      this.#closing = true;
      this.#socket.end();
      this.#linger();
    }
  }

  /** Records the exchange (once) and detaches it from the connection. */
  #endExchange(exchange: Exchange, code: GatewayErrorCode | null): void {
    if (this.#exchange === exchange) this.#exchange = null;
    const record = exchange.flow.record;
    record.bytesUp = exchange.bytesUp;
    record.bytesDown = exchange.bytesDown;
    if (code !== null && exchange.upstream && !exchange.responseDone) {
      exchange.upstream.destroy();
    }
    this.#ctx.recorder.finish(exchange.flow, code);
  }

  /** Answers a refusal or failure (when nothing of a response was sent yet) and closes. */
  #refuse(exchange: Exchange, cause: unknown): void {
    const error = isGatewayError(cause)
      ? cause
      : new GatewayError(
          'PW_GW_INTERNAL',
          `internal error: ${cause instanceof Error ? cause.message : String(cause)}`,
          {
            cause,
          },
        );
    if (exchange.upstream) {
      exchange.upstream.destroy();
      exchange.upstream = null;
    }
    if (exchange.bytesDown > 0 || this.#closed) {
      this.#endExchange(exchange, error.code);
      this.#socket.destroy();
      return;
    }
    const response = errorResponse(error, error.code === 'PW_GW_AUTH_REQUIRED' ? proxyAuthenticate : '');
    exchange.bytesDown = Buffer.byteLength(response);
    this.#endExchange(exchange, error.code);
    this.#closing = true;
    this.#buffer = EMPTY;
    this.#socket.end(response);
    this.#linger();
  }

  /** After our last response, read and drop what the client still sends, for a bounded time. */
  #linger(): void {
    this.#socket.resume();
    setTimeout(() => this.#socket.destroy(), LINGER_MS).unref();
  }

  // ---- CONNECT -----------------------------------------------------------------------------

  #startConnect(exchange: Exchange): void {
    const target = connectTarget(exchange.head);
    exchange.target = target;
    const record = exchange.flow.record;
    record.host = target.host;
    record.port = target.port as number;
    record.protocol = 'tcp';
    void this.#openTunnel(exchange, target);
  }

  async #openTunnel(exchange: Exchange, target: Target): Promise<void> {
    let dialed: Awaited<ReturnType<typeof dialConnectTarget>>;
    try {
      dialed = await dialConnectTarget(
        this.#ctx,
        exchange.flow,
        target,
        this.#component,
        () => this.#exchange === exchange,
      );
    } catch (error) {
      if (this.#exchange === exchange) this.#refuse(exchange, error);
      return;
    }
    if (dialed === null) return;
    const { route, upstream } = dialed;
    if (this.#exchange !== exchange || this.#closed) {
      upstream.socket.destroy();
      return;
    }
    exchange.flow.record.connectMs = Math.round(upstream.connectMs);
    if (!route.egress.proxy) exchange.flow.record.destination = upstream.address;
    const socket = this.#socket;
    const reply = connectEstablished;
    socket.write(reply);
    const early = this.#buffer.length > 0 ? this.#buffer : null;
    this.#buffer = EMPTY;
    this.#exchange = null;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    socket.off('timeout', this.#onTimeout);
    // The connection lives as long as its tunnel (hours, for an idle one); it keeps no handlers it
    // will not run again, and the flow keeps no strings that point into the request head's text.
    this.#onData = this.#onEnd = this.#onError = this.#onClose = this.#onTimeout = released;
    this.#onHeadTimeout = released;
    const flow = exchange.flow;
    settleDecision(flow);
    const record = flow.record;
    const host = ownCopy(target.host);
    if (record.host === target.host) record.host = host;
    if (record.httpHost !== null) record.httpHost = ownCopy(record.httpHost);
    this.#tunnel = new Tunnel(this.#ctx, {
      client: socket,
      upstream,
      route,
      flow,
      target: { input: ownCopy(target.input), host, address: target.address, port: target.port },
      component: this.#component,
      early,
      requestBytes: exchange.head.length,
      replyBytes: reply.length,
      onClosed: this.#tunnelCloser(),
    });
  }

  /**
   * The tunnel's `onClosed`, made outside #openTunnel: a closure made there would share that
   * function's scope, which holds the exchange (the parsed request head, its text and headers)
   * for as long as the tunnel stays open.
   */
  #tunnelCloser(): () => void {
    return () => {
      this.#closed = true;
      this.#tunnel = null;
      clearTimeout(this.#headTimer);
      this.#pooled?.socket.destroy();
      this.#onClosed(this);
    };
  }
}

/** A kept upstream connection that can carry the next request to `key`. */
function isReusable(pooled: { key: string; socket: Socket }, key: string): boolean {
  return pooled.key === key && !pooled.socket.destroyed && pooled.socket.writable;
}

/**
 * Gives an upstream socket the idle timeout, unless it already has it: socket.setTimeout makes a
 * new timer (and a bound callback) at every call, two per request on a kept connection
 * (docs/performance.md, "Gateway request path, session 5"). A socket that has the timeout restarts
 * it on each read and write, so a kept connection's timer already counts from its last response
 * and restarts with the next request's head.
 */
function keepIdleTimeout(socket: Socket, ms: number): void {
  if (socket.timeout !== ms) socket.setTimeout(ms);
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('PW_GW_HEADERS_TOO_LARGE', `the request head is larger than ${limit} bytes`);
}
