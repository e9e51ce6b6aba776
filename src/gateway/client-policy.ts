// Who may use the proxy and which Power BI component their traffic is: the `clients` allow-list
// and the `components` table, both by client address, compiled once.
import type { Component } from '../catalog/model.js';
import {
  type IpAddress,
  type IpPrefix,
  parseIp,
  parsePrefix,
  prefixContains,
  unmapIPv4,
} from '../match/ip.js';
import type { GatewayConfig } from './config.js';

export class ClientPolicy {
  readonly #allowed: IpPrefix[] | null;
  readonly #components: { clients: IpPrefix[]; component: Component }[];

  constructor(config: Pick<GatewayConfig, 'clients' | 'components'>) {
    this.#allowed = config.clients ? config.clients.map((text) => parsePrefix(text) as IpPrefix) : null;
    this.#components = config.components.map((entry) => ({
      clients: entry.clients.map((text) => parsePrefix(text) as IpPrefix),
      component: entry.component,
    }));
  }

  /** The socket's remote address as an address (`::ffff:a.b.c.d` from a dual-stack listener unmapped). */
  static addressOf(remote: string | undefined): IpAddress | undefined {
    const parsed = remote === undefined ? undefined : parseIp(remote);
    return parsed ? unmapIPv4(parsed) : undefined;
  }

  isAllowed(address: IpAddress | undefined): boolean {
    if (this.#allowed === null) return true;
    return address !== undefined && this.#allowed.some((prefix) => prefixContains(prefix, address));
  }

  /** First matching `components` entry wins; `saas` when none matches. */
  componentOf(address: IpAddress | undefined): Component {
    if (address !== undefined) {
      for (const entry of this.#components) {
        if (entry.clients.some((prefix) => prefixContains(prefix, address))) return entry.component;
      }
    }
    return 'saas';
  }
}
