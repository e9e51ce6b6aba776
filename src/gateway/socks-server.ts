// The optional SOCKS5 listener (RFC 1928; username/password auth RFC 1929 with the same users as
// proxy Basic auth). CONNECT only; the destination goes through the same route checks as HTTP
// CONNECT and becomes the same kind of tunnel (SNI peek included). Refusals map onto SOCKS reply
// codes; the flow record carries the pathwarden code.
import { createServer, type Server, type Socket } from 'node:net';
import type { Component } from '../catalog/model.js';
import { formatIp } from '../match/ip.js';
import { parseTarget, type Target } from '../policy/target.js';
import { ClientPolicy } from './client-policy.js';
import { type GatewayContext, nextConnectionId } from './context.js';
import { GatewayError, type GatewayErrorCode, isGatewayError } from './errors.js';
import { type GatewayFlow, startFlow } from './flow-recorder.js';
import type { DrainableConnection } from './proxy-server.js';
import { planRoute } from './route.js';
import { Tunnel } from './tunnel.js';
import { dialUpstream } from './upstream-dial.js';

const VERSION = 5;
const METHOD_NONE = 0x00;
const METHOD_USER_PASSWORD = 0x02;
const METHOD_UNACCEPTABLE = 0xff;
const COMMAND_CONNECT = 1;

/** SOCKS5 reply codes (RFC 1928 §6). */
const Reply = {
  succeeded: 0,
  generalFailure: 1,
  notAllowed: 2,
  networkUnreachable: 3,
  hostUnreachable: 4,
  connectionRefused: 5,
  commandNotSupported: 7,
  addressTypeNotSupported: 8,
} as const;

function replyFor(code: GatewayErrorCode): number {
  switch (code) {
    case 'PW_GW_CIRCUIT_DOWN':
    case 'PW_GW_INTERNET_DOWN':
      return Reply.networkUnreachable;
    case 'PW_GW_UPSTREAM_REFUSED':
    case 'PW_GW_UPSTREAM_PROXY_ERROR':
      return Reply.connectionRefused;
    case 'PW_GW_CONNECT_TIMEOUT':
    case 'PW_GW_DNS_FAILED':
      return Reply.hostUnreachable;
    case 'PW_GW_UNSUPPORTED':
      return Reply.commandNotSupported;
    default:
      return code.endsWith('_DENIED') || code === 'PW_GW_AUTH_REQUIRED'
        ? Reply.notAllowed
        : Reply.generalFailure;
  }
}

type Stage = 'greeting' | 'auth' | 'request' | 'routing' | 'done';

class SocksConnection implements DrainableConnection {
  readonly #ctx: GatewayContext;
  readonly #socket: Socket;
  readonly #id: string;
  readonly #client: string | null;
  readonly #component: Component;
  readonly #onClosed: () => void;
  #stage: Stage = 'greeting';
  #buffer: Buffer = Buffer.alloc(0);
  #flow: GatewayFlow | null = null;
  #tunnel: Tunnel | null = null;
  #timer: NodeJS.Timeout;
  #closed = false;
  #requestBytes = 0;
  /** A client gets one reply to its request (RFC 1928 §6), refusal or success, never two. */
  #replied = false;

  constructor(ctx: GatewayContext, socket: Socket, onClosed: () => void) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#id = nextConnectionId();
    this.#onClosed = onClosed;
    const address = ClientPolicy.addressOf(socket.remoteAddress);
    this.#client = address ? formatIp(address) : (socket.remoteAddress ?? null);
    this.#component = ctx.clients.componentOf(address);
    this.#timer = setTimeout(() => {
      if (this.#stage === 'greeting' && this.#buffer.length === 0) {
        // Sent nothing at all: closed and counted, but there is no request to record.
        ctx.gate.refused('silent');
        this.#socket.destroy();
        return;
      }
      this.#refuse(new GatewayError('PW_GW_HEADERS_TIMEOUT', 'SOCKS negotiation timed out'));
    }, ctx.limits.headersTimeoutMs);
    socket.on('data', this.#onData);
    socket.on('error', this.#onGone);
    socket.on('end', this.#onGone);
    socket.on('close', this.#onClose);
    if (!ctx.clients.isAllowed(address)) {
      this.#refuse(
        new GatewayError('PW_GW_CLIENT_DENIED', `client ${this.#client} is not in the clients allow-list`),
      );
    }
  }

  get busy(): boolean {
    return this.#stage === 'routing' || this.#tunnel !== null;
  }

  closeIfIdle(): void {
    if (!this.busy) this.#socket.destroy();
  }

  abort(code: GatewayErrorCode): void {
    if (this.#tunnel) this.#tunnel.abort(code);
    else {
      if (this.#flow) this.#ctx.recorder.finish(this.#flow, code);
      this.#socket.destroy();
    }
  }

  #onData = (chunk: Buffer): void => {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      if (this.#stage === 'greeting') this.#readGreeting();
      if (this.#stage === 'auth') this.#readAuth();
      if (this.#stage === 'request') this.#readRequest();
    } catch (error) {
      this.#refuse(error);
    }
  };

  #onGone = (): void => {
    if (this.#stage !== 'done') this.#socket.destroy();
  };

  #onClose = (): void => {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#flow && this.#stage === 'routing')
      this.#ctx.recorder.finish(this.#flow, 'PW_GW_CLIENT_ABORTED');
    this.#onClosed();
  };

  #readGreeting(): void {
    const b = this.#buffer;
    if (b.length < 2) return;
    if (b[0] !== VERSION) throw new GatewayError('PW_GW_BAD_REQUEST', 'not a SOCKS5 greeting');
    const count = b[1] as number;
    if (b.length < 2 + count) return;
    const methods = b.subarray(2, 2 + count);
    this.#buffer = b.subarray(2 + count);
    const wanted = this.#ctx.auth ? METHOD_USER_PASSWORD : METHOD_NONE;
    if (!methods.includes(wanted)) {
      this.#socket.end(Buffer.from([VERSION, METHOD_UNACCEPTABLE]));
      this.#stage = 'done';
      this.#socket.destroySoon();
      return;
    }
    this.#socket.write(Buffer.from([VERSION, wanted]));
    this.#stage = wanted === METHOD_USER_PASSWORD ? 'auth' : 'request';
  }

  #readAuth(): void {
    const b = this.#buffer;
    if (b.length < 2) return;
    const userLength = b[1] as number;
    if (b.length < 3 + userLength) return;
    const passwordLength = b[2 + userLength] as number;
    const end = 3 + userLength + passwordLength;
    if (b.length < end) return;
    const user = b.subarray(2, 2 + userLength).toString('utf8');
    const password = b.subarray(3 + userLength, end).toString('utf8');
    this.#buffer = b.subarray(end);
    const credentials = Buffer.from(`${user}:${password}`, 'utf8').toString('base64');
    const ok = b[0] === 1 && this.#ctx.auth?.verify(`Basic ${credentials}`) !== null;
    // Status byte: 0 = success; any other value fails and the server must close (RFC 1929).
    this.#socket.write(Buffer.from([1, ok ? 0 : 1]));
    if (!ok) {
      this.#flow = startFlow(this.#client, this.#id, this.#component);
      this.#flow.record.protocol = 'socks';
      this.#ctx.recorder.finish(this.#flow, 'PW_GW_AUTH_REQUIRED');
      this.#stage = 'done';
      this.#socket.end();
      return;
    }
    this.#stage = 'request';
  }

  #readRequest(): void {
    const b = this.#buffer;
    if (b.length < 5) return;
    const flow = startFlow(this.#client, this.#id, this.#component);
    flow.record.protocol = 'tcp';
    const type = b[3] as number;
    let end: number;
    let host: string;
    if (type === 1) {
      end = 4 + 4 + 2;
      if (b.length < end) return;
      host = `${b[4]}.${b[5]}.${b[6]}.${b[7]}`;
    } else if (type === 4) {
      end = 4 + 16 + 2;
      if (b.length < end) return;
      host = `[${formatIp({ version: 6, bytes: new Uint8Array(b.subarray(4, 20)) })}]`;
    } else if (type === 3) {
      const length = b[4] as number;
      end = 5 + length + 2;
      if (b.length < end) return;
      host = b.toString('latin1', 5, 5 + length);
    } else {
      this.#flow = flow;
      this.#sendReply(Reply.addressTypeNotSupported);
      throw new GatewayError('PW_GW_BAD_REQUEST', `SOCKS address type ${type} is not supported`);
    }
    this.#flow = flow;
    const port = b.readUInt16BE(end - 2);
    this.#requestBytes = end;
    const early = end < b.length ? b.subarray(end) : null;
    this.#buffer = Buffer.alloc(0);
    if (b[0] !== VERSION || b[2] !== 0)
      throw new GatewayError('PW_GW_BAD_REQUEST', 'malformed SOCKS5 request');
    if (b[1] !== COMMAND_CONNECT)
      throw new GatewayError('PW_GW_UNSUPPORTED', `SOCKS command ${b[1]} is not supported (CONNECT only)`);
    const target = parseTarget(host);
    if (typeof target === 'string' || host.includes('/')) {
      throw new GatewayError(
        'PW_GW_BAD_REQUEST',
        `bad SOCKS destination: ${typeof target === 'string' ? target : host}`,
      );
    }
    flow.record.host = target.host;
    flow.record.port = port;
    this.#stage = 'routing';
    this.#socket.pause();
    void this.#connect(flow, { ...target, port }, early);
  }

  async #connect(flow: GatewayFlow, target: Target, early: Buffer | null): Promise<void> {
    const port = target.port as number;
    try {
      const route = await planRoute(this.#ctx, flow, target, port, this.#component);
      if (this.#closed) return;
      const upstream = await dialUpstream(route.egress, route.addresses, port, {
        timeoutMs: this.#ctx.limits.connectTimeoutMs,
        tunnel: true,
        authority: route.authority,
        relay: true,
      });
      if (this.#closed) {
        upstream.socket.destroy();
        return;
      }
      flow.record.connectMs = Math.round(upstream.connectMs);
      if (!route.egress.proxy) flow.record.destination = upstream.address;
      clearTimeout(this.#timer);
      const replyBytes = this.#sendReply(Reply.succeeded);
      this.#stage = 'done';
      this.#socket.off('data', this.#onData);
      this.#socket.off('error', this.#onGone);
      this.#socket.off('end', this.#onGone);
      this.#socket.off('close', this.#onClose);
      this.#tunnel = new Tunnel(this.#ctx, {
        client: this.#socket,
        upstream,
        route,
        flow,
        target,
        component: this.#component,
        early,
        requestBytes: this.#requestBytes,
        replyBytes,
        onClosed: () => {
          this.#tunnel = null;
          this.#onClosed();
        },
      });
    } catch (error) {
      if (!this.#closed) this.#refuse(error);
    }
  }

  /** Writes a reply (bound address 0.0.0.0:0: clients do not use it); returns its length. */
  #sendReply(code: number): number {
    this.#replied = true;
    const reply = Buffer.from([VERSION, code, 0, 1, 0, 0, 0, 0, 0, 0]);
    this.#socket.write(reply);
    return reply.length;
  }

  #refuse(cause: unknown): void {
    if (this.#stage === 'done' && this.#tunnel) return;
    const error = isGatewayError(cause) ? cause : new GatewayError('PW_GW_INTERNAL', String(cause));
    if ((this.#stage === 'routing' || this.#stage === 'request') && !this.#replied) {
      this.#sendReply(replyFor(error.code));
    }
    if (this.#flow) this.#ctx.recorder.finish(this.#flow, error.code);
    this.#stage = 'done';
    clearTimeout(this.#timer);
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }
}

export function createSocksServer(
  ctx: GatewayContext,
  connections: Set<DrainableConnection>,
  onConnectionClosed: () => void,
): Server {
  const server = createServer({ allowHalfOpen: true, noDelay: true });
  server.on('connection', (socket: Socket) => {
    if (!ctx.gate.admit(socket, connections.size)) return;
    let counted = true;
    const connection: SocksConnection = new SocksConnection(ctx, socket, () => {
      if (!counted) return;
      counted = false;
      connections.delete(connection);
      onConnectionClosed();
    });
    connections.add(connection);
  });
  return server;
}
