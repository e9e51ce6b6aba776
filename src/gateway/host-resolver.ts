// Resolves a destination name exactly once per connection: the config's static `resolve` map first
// (exact names and `*.suffix` patterns, for labs, tests and split-horizon DNS), then the system
// resolver with every address it returns. The caller checks all of them and dials one of them, so
// no second lookup can answer differently (no DNS rebinding).
import { lookup as dnsLookup } from 'node:dns/promises';
import { parseHostPattern } from '../match/host.js';
import { HostIndex } from '../match/host-index.js';
import { type IpAddress, parseIp, unmapIPv4 } from '../match/ip.js';
import { GatewayError } from './errors.js';

export type LookupAll = (name: string) => Promise<readonly { address: string }[]>;

const systemLookup: LookupAll = (name) => dnsLookup(name, { all: true, verbatim: true });

export class HostResolver {
  readonly #static = new HostIndex<IpAddress[]>(1);
  readonly #lookup: LookupAll;

  /** `map` is the validated `resolve` section: name or `*.suffix` -> address(es). */
  constructor(map: Readonly<Record<string, string | readonly string[]>>, lookup: LookupAll = systemLookup) {
    this.#lookup = lookup;
    for (const [key, value] of Object.entries(map)) {
      const pattern = parseHostPattern(key);
      if (typeof pattern === 'string') throw new Error(`resolve: ${pattern}`);
      const texts = typeof value === 'string' ? [value] : value;
      this.#static.set(
        pattern,
        0,
        texts.map((text) => unmapIPv4(parseIp(text) as IpAddress)),
      );
    }
  }

  /** Static answer for a canonical name, if the map has one (no I/O). */
  resolveStatic(name: string): IpAddress[] | undefined {
    return this.#static.lookup(name, 0);
  }

  /** Every address of a canonical name; throws PW_GW_DNS_FAILED when there is none. */
  async resolve(name: string): Promise<IpAddress[]> {
    const fixed = this.#static.lookup(name, 0);
    if (fixed !== undefined) return fixed;
    let answers: readonly { address: string }[];
    try {
      answers = await this.#lookup(name);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
      throw new GatewayError('PW_GW_DNS_FAILED', `${name} does not resolve (${code})`, { cause });
    }
    const addresses: IpAddress[] = [];
    for (const answer of answers) {
      // Zone ids (fe80::1%eth0) never parse: such an answer is dropped, not dialed unchecked.
      const address = parseIp(answer.address);
      if (address) addresses.push(unmapIPv4(address));
    }
    if (addresses.length === 0) throw new GatewayError('PW_GW_DNS_FAILED', `${name} has no usable address`);
    return addresses;
  }
}
