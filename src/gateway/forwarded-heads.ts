// The heads the proxy writes on behalf of others: a client's request as the origin (or the next
// proxy) gets it, and an origin's response as the client gets it, hop-by-hop fields dropped, with
// the framer that delimits the response body. Pure functions of the parsed heads and the route.
import { formatIp } from '../match/ip.js';
import { type BodyFramer, ChunkedFramer, LengthFramer, UntilCloseFramer } from './http-body.js';
import { isHopByHop, type RequestHead, type ResponseHead, wantsKeepAlive } from './http-head.js';
import type { Route } from './route.js';

/** Response heads are the origin's; allow more than client heads, but not without bound. */
export const MAX_RESPONSE_HEAD = 65536;

/** Upstream connections are kept and reused only for the same egress and destination. */
export function upstreamKeyOf(route: Route): string {
  const egress = route.egress;
  return egress.proxy
    ? `${egress.path}|proxy`
    : `${egress.path}|${route.addresses.map(formatIp).join(',')}|${route.port}`;
}

/** The request head sent upstream: origin-form to an origin, absolute-form to a next-hop proxy. */
export function upstreamRequestHead(head: RequestHead, route: Route, path: string): string {
  const port = route.port;
  const hostHeader =
    port === 80 ? route.authority.slice(0, route.authority.lastIndexOf(':')) : route.authority;
  const proxy = route.egress.proxy;
  const requestTarget = proxy ? `http://${route.authority}${path}` : path;
  let text = `${head.method} ${requestTarget} HTTP/1.${head.minor}\r\nHost: ${hostHeader}\r\n`;
  for (const field of head.fields) {
    if (field.lower === 'host' || isHopByHop(field, head.connectionTokens)) continue;
    text += `${field.name}: ${field.value}\r\n`;
  }
  if (proxy) text += proxy.authorization;
  return `${text}\r\n`;
}

export interface ResponsePlan {
  body: BodyFramer;
  keepUpstream: boolean;
  keepClient: boolean;
  /** The response head as the client gets it. */
  head: Buffer;
}

/**
 * How a final response travels to the client: its body framing, whether either connection can be
 * kept, and the rewritten head. `clientMayStay` is false once the client half-closed or the gateway
 * drains.
 */
export function planResponse(request: RequestHead, head: ResponseHead, clientMayStay: boolean): ResponsePlan {
  let body: BodyFramer;
  if (request.method === 'HEAD' || head.status === 204 || head.status === 304) body = new LengthFramer(0);
  else if (head.chunked) body = new ChunkedFramer('PW_GW_BAD_UPSTREAM_RESPONSE', MAX_RESPONSE_HEAD);
  else if (head.contentLength !== null) body = new LengthFramer(head.contentLength);
  else body = new UntilCloseFramer();
  const delimited = !(body instanceof UntilCloseFramer);
  const keepUpstream = delimited && wantsKeepAlive(head) && request.minor === 1;
  const keepClient = delimited && wantsKeepAlive(request) && clientMayStay;
  let text = `${head.statusLine}\r\n`;
  for (const field of head.fields) {
    if (!isHopByHop(field, head.connectionTokens)) text += `${field.name}: ${field.value}\r\n`;
  }
  if (!keepClient) text += 'Connection: close\r\n';
  else if (request.minor === 0) text += 'Connection: keep-alive\r\n';
  return { body, keepUpstream, keepClient, head: Buffer.from(`${text}\r\n`, 'latin1') };
}
