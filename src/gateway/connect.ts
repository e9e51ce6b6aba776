// CONNECT up to the point where bytes flow: plan the route of the requested `host:port` and dial it
// (tunnel mode, so a next-hop proxy is asked to CONNECT too). The client connection then answers
// 200 and hands both sockets to a Tunnel.
import type { Component } from '../catalog/model.js';
import type { Target } from '../policy/target.js';
import type { GatewayContext } from './context.js';
import type { GatewayFlow } from './flow-recorder.js';
import { planRoute, type Route } from './route.js';
import { dialUpstream, type Upstream } from './upstream-dial.js';

export const connectEstablished = 'HTTP/1.1 200 Connection established\r\n\r\n';

/**
 * Routes and dials a CONNECT target; `stillWanted` is asked between the two awaits so a client
 * that went away does not cause a dial. Returns null then; throws the refusal's GatewayError.
 */
export async function dialConnectTarget(
  ctx: GatewayContext,
  flow: GatewayFlow,
  target: Target,
  component: Component,
  stillWanted: () => boolean,
): Promise<{ route: Route; upstream: Upstream } | null> {
  const route = await planRoute(ctx, flow, target, target.port as number, component);
  if (!stillWanted()) return null;
  const upstream = await dialUpstream(route.egress, route.addresses, route.port, {
    timeoutMs: ctx.limits.connectTimeoutMs,
    tunnel: true,
    authority: route.authority,
    relay: true,
  });
  return { route, upstream };
}
