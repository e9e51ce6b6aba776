// The route of one flow, in the order the checks must run: port, resolve once, every address
// through the guard (and never the gateway itself), decide() on the catalog, the egress decision
// table, the path's health. Shared by plain HTTP, CONNECT and SOCKS; throws a GatewayError that
// names the first check that refused.
import type { Component } from '../catalog/model.js';
import type { IpPrefix } from '../match/ip.js';
import { formatIp, type IpAddress, prefixContains } from '../match/ip.js';
import type { Target } from '../policy/target.js';
import type { GatewayContext } from './context.js';
import { chooseEgress, decideDestination } from './egress.js';
import { GatewayError } from './errors.js';
import { applyDecision, type GatewayFlow, isDecided } from './flow-recorder.js';
import { authorityOfHost, type Egress, egressEvidence } from './upstream-dial.js';

export interface Route {
  /** Every address of the destination, all checked; a direct dial uses these and nothing else. */
  addresses: IpAddress[];
  port: number;
  /** `host:port` as requested (the name, or the address), for upstream proxies and Host headers. */
  authority: string;
  egress: Egress;
}

const loopback4 = { version: 4, bytes: new Uint8Array([127, 0, 0, 0]), length: 8 } as IpPrefix;

export async function planRoute(
  ctx: GatewayContext,
  flow: GatewayFlow,
  target: Target,
  port: number,
  component: Component,
): Promise<Route> {
  try {
    checkPort(ctx, port);
    const addresses = target.address ? [target.address] : await ctx.resolver.resolve(target.host);
    return routeTo(ctx, flow, target, port, component, addresses);
  } catch (error) {
    classifyRefused(ctx, flow, target, port, component);
    throw error;
  }
}

/**
 * planRoute without a promise when no check waits on I/O (an address, or a name of the static
 * `resolve` map): the route itself, or planRoute's promise when the name needs the resolver. Throws
 * at once what planRoute would reject with, after the same checks in the same order.
 */
export function planRouteNow(
  ctx: GatewayContext,
  flow: GatewayFlow,
  target: Target,
  port: number,
  component: Component,
): Route | Promise<Route> {
  const addresses = target.address ? [target.address] : ctx.resolver.resolveStatic(target.host);
  if (addresses === undefined) return planRoute(ctx, flow, target, port, component);
  try {
    checkPort(ctx, port);
    return routeTo(ctx, flow, target, port, component, addresses);
  } catch (error) {
    classifyRefused(ctx, flow, target, port, component);
    throw error;
  }
}

/**
 * Refused before decide() ran (port, DNS, guard): still classify the record by what was asked for,
 * so audits and the dashboard see which rule a refused flow belonged to. A tunnel rerouted by its
 * SNI was settled already: a failed reroute keeps the first decision.
 */
function classifyRefused(
  ctx: GatewayContext,
  flow: GatewayFlow,
  target: Target,
  port: number,
  component: Component,
): void {
  if (isDecided(flow)) return;
  const { decision, redecide } = decideDestination(
    ctx.policy,
    target,
    target.address ? [target.address] : [],
    component,
    port,
  );
  applyDecision(flow, decision, redecide);
}

function checkPort(ctx: GatewayContext, port: number): void {
  if (!ctx.ports.has(port)) {
    throw new GatewayError(
      'PW_GW_PORT_DENIED',
      `port ${port} is not in the allowed ports (${[...ctx.ports].join(', ')})`,
    );
  }
}

/** The checks after the name is resolved: the guard, never the gateway itself, decide(), health. */
function routeTo(
  ctx: GatewayContext,
  flow: GatewayFlow,
  target: Target,
  port: number,
  component: Component,
  addresses: IpAddress[],
): Route {
  const record = flow.record;
  record.destination = formatIp(addresses[0] as IpAddress);
  ctx.guard.checkAll(target.host, addresses);
  for (const address of addresses) {
    if (isSelf(ctx, address, port)) {
      throw new GatewayError('PW_GW_DESTINATION_DENIED', `${target.host}:${port} is this gateway itself`);
    }
  }
  const started = performance.now();
  const { decision, redecide } = decideDestination(ctx.policy, target, addresses, component, port);
  applyDecision(flow, decision, redecide);
  const path = chooseEgress(decision, ctx.config.decisions);
  ctx.metrics.decisionObserved((performance.now() - started) / 1000);
  if (ctx.health.isDown(path)) {
    const why = ctx.health.lastError(path);
    throw path === 'expressroute'
      ? new GatewayError(
          'PW_GW_CIRCUIT_DOWN',
          `${target.host} must ride the ExpressRoute circuit and the circuit egress is down${why ? ` (${why})` : ''}; pathwarden fails closed and does not send it over the Internet`,
        )
      : new GatewayError(
          'PW_GW_INTERNET_DOWN',
          `${target.host} goes over the Internet egress, which is down${why ? ` (${why})` : ''}`,
        );
  }
  const egress = ctx.egresses[path];
  const evidence = egressEvidence(egress);
  record.egressPath = path;
  record.sourceAddress = evidence.sourceAddress;
  record.upstream = evidence.upstream;
  flow.actualPathEvidence = evidence.evidence;
  return { addresses, port, authority: authorityOfHost(target.host, port), egress };
}

function isSelf(ctx: GatewayContext, address: IpAddress, port: number): boolean {
  return ctx.selfEndpoints.some((self) => {
    if (self.port !== port) return false;
    if (formatIp(self.address) === formatIp(address)) return true;
    const unspecified = self.address.bytes.every((byte) => byte === 0);
    return unspecified && (prefixContains(loopback4, address) || formatIp(address) === '::1');
  });
}
