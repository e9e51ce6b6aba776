// The benchmark's target mix, generated deterministically from a catalog and a seed: catalog
// hosts, deep names under catalog wildcards, unknown names (some built to trip a matcher that is
// not label-aligned), IPv4 and IPv6 addresses inside and outside the catalog's prefixes, written
// with mixed case, trailing dots and brackets the way logs and users write them.
import type { Catalog } from '../../src/catalog/model.js';
import { parseHostPattern } from '../../src/match/host.js';
import { formatIp, type IpPrefix, parsePrefix } from '../../src/match/ip.js';
import type { Random } from '../../src/util/random.js';

export type TargetKind =
  | 'catalog-host'
  | 'deep-subdomain'
  | 'unknown-host'
  | 'label-trap'
  | 'ipv4-in-prefix'
  | 'ipv4-other'
  | 'ipv6';

/** Share of each kind in the mix (sums to 1); documented in docs/performance.md. */
export const targetMix: Readonly<Record<TargetKind, number>> = {
  'catalog-host': 0.28,
  'deep-subdomain': 0.24,
  'unknown-host': 0.14,
  'label-trap': 0.08,
  'ipv4-in-prefix': 0.1,
  'ipv4-other': 0.1,
  ipv6: 0.06,
};

/** How often a host name is written in mixed case, or with the trailing dot of a FQDN. */
const MIXED_CASE_SHARE = 0.25;
const TRAILING_DOT_SHARE = 0.1;

export interface TargetSet {
  targets: string[];
  counts: Record<TargetKind, number>;
}

const tlds = ['com', 'net', 'org', 'io', 'de', 'co.uk', 'fr', 'cloud'];
const labelStart = 'abcdefghijklmnopqrstuvwxyz';
const labelRest = 'abcdefghijklmnopqrstuvwxyz0123456789-';

export function generateTargets(catalog: Catalog, count: number, prng: Random): TargetSet {
  const exactNames: string[] = [];
  const wildcardSuffixes: string[] = [];
  const v4: IpPrefix[] = [];
  const v6: IpPrefix[] = [];
  for (const rule of catalog.rules) {
    for (const host of rule.hosts) {
      const pattern = parseHostPattern(host);
      if (typeof pattern === 'string') throw new Error(`catalog pattern ${host}: ${pattern}`);
      if (pattern.kind === 'exact') exactNames.push(pattern.name);
      else wildcardSuffixes.push(pattern.suffix);
    }
    for (const text of rule.prefixes ?? []) {
      const prefix = parsePrefix(text);
      if (typeof prefix === 'string') throw new Error(`catalog prefix ${text}: ${prefix}`);
      (prefix.version === 4 ? v4 : v6).push(prefix);
    }
  }
  if (exactNames.length === 0 || wildcardSuffixes.length === 0 || v4.length === 0 || v6.length === 0) {
    throw new Error('the catalog needs exact names, wildcards and IPv4 and IPv6 prefixes for this mix');
  }
  const allNames = [...exactNames, ...wildcardSuffixes];

  const label = (): string => {
    const length = 1 + prng.below(12);
    let text = labelStart[prng.below(labelStart.length)] as string;
    for (let i = 1; i < length; i++) {
      // A label never ends in a hyphen; keep the generated names valid.
      const alphabet = i === length - 1 ? labelStart : labelRest;
      text += alphabet[prng.below(alphabet.length)];
    }
    return text;
  };
  const labels = (min: number, max: number): string => {
    const parts: string[] = [];
    const n = min + prng.below(max - min + 1);
    for (let i = 0; i < n; i++) parts.push(label());
    return parts.join('.');
  };
  const writeName = (name: string): string => {
    let text = name;
    if (prng.chance(MIXED_CASE_SHARE)) {
      let mixed = '';
      for (const char of text) mixed += prng.chance(0.5) ? char.toUpperCase() : char;
      text = mixed;
    }
    if (prng.chance(TRAILING_DOT_SHARE)) text += '.';
    return text;
  };

  const generators: Record<TargetKind, () => string> = {
    'catalog-host': () => writeName(prng.pick(exactNames)),
    'deep-subdomain': () => writeName(`${labels(1, 4)}.${prng.pick(wildcardSuffixes)}`),
    'unknown-host': () => writeName(`${labels(1, 3)}.${prng.pick(tlds)}`),
    'label-trap': () => {
      const name = prng.pick(allNames);
      switch (prng.below(4)) {
        case 0:
          return writeName(`evil${name}`); // evilpowerbi.com vs *.powerbi.com
        case 1:
          return writeName(prng.pick(wildcardSuffixes)); // *.x never matches x itself
        case 2:
          return writeName(`${name}.${label()}.net`); // app.powerbi.com.attacker.net
        default:
          return writeName(`${label()}-${name}`); // x-analysis.windows.net
      }
    },
    'ipv4-in-prefix': () => formatIp(randomAddressIn(prng.pick(v4), prng)),
    'ipv4-other': () => {
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, prng.uint32());
      return formatIp({ version: 4, bytes });
    },
    ipv6: () => {
      const roll = prng.below(6);
      if (roll === 0) {
        // IPv4-mapped form of a PowerBI address: decided as the IPv4 address it stands for.
        return `[::ffff:${formatIp(randomAddressIn(prng.pick(v4), prng))}]`;
      }
      let bytes: Uint8Array;
      if (roll <= 3) {
        bytes = randomAddressIn(prng.pick(v6), prng).bytes;
      } else {
        bytes = new Uint8Array(16);
        for (let i = 0; i < 16; i++) bytes[i] = prng.below(256);
        bytes[0] = 0x20;
      }
      let text = formatIp({ version: 6, bytes });
      if (prng.chance(0.3)) text = text.toUpperCase();
      return prng.chance(0.3) ? `[${text}]` : text;
    },
  };

  const kinds = Object.keys(targetMix) as TargetKind[];
  const cumulative: number[] = [];
  let sum = 0;
  for (const kind of kinds) {
    sum += targetMix[kind];
    cumulative.push(sum);
  }
  const counts = Object.fromEntries(kinds.map((kind) => [kind, 0])) as Record<TargetKind, number>;
  const targets = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const roll = prng.next() * sum;
    let k = 0;
    while (k < kinds.length - 1 && roll >= (cumulative[k] as number)) k++;
    const kind = kinds[k] as TargetKind;
    counts[kind]++;
    // Re-encoded so each target is one flat string, as text read from a file or socket is; the
    // concatenations above leave rope strings that are slower to read and would skew the figures.
    targets[i] = Buffer.from(generators[kind](), 'latin1').toString('latin1');
  }
  return { targets, counts };
}

/** A random address inside `prefix` (its first `length` bits kept, the rest random). */
function randomAddressIn(prefix: IpPrefix, prng: Random): { version: 4 | 6; bytes: Uint8Array } {
  const bytes = new Uint8Array(prefix.bytes);
  for (let bit = prefix.length; bit < bytes.length * 8; bit++) {
    const mask = 1 << (7 - (bit & 7));
    if (prng.chance(0.5)) bytes[bit >> 3] = (bytes[bit >> 3] as number) | mask;
    else bytes[bit >> 3] = (bytes[bit >> 3] as number) & ~mask;
  }
  return { version: prefix.version, bytes };
}
