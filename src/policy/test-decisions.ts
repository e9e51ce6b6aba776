// Test helpers for decisions: the general serializer the fast ones are compared with, and random
// targets of every kind (src/policy/serialize.test.ts, src/cli/cli.test.ts). Not part of the build.
import { loadBuiltinCatalog } from '../catalog/load.js';
import type { Random } from '../util/random.js';
import type { Decision } from './policy.js';

/** The general serializer: the documented fields, in order, through JSON.stringify. */
export function generalJson(decision: Decision): string {
  const { input, host, component, port, path, actualPath, verdict, rule, reason, profile } = decision;
  return JSON.stringify({ input, host, component, port, path, actualPath, verdict, rule, reason, profile });
}

/** Hosts and prefixes of the catalog, to make targets that match rules. */
function catalogNames(): { names: string[]; addresses: string[] } {
  const catalog = loadBuiltinCatalog().catalog;
  const names: string[] = [];
  const addresses: string[] = [];
  for (const rule of catalog.rules) {
    for (const host of rule.hosts) names.push(host.replace(/^\*\./, 'x.'));
    for (const prefix of rule.prefixes ?? []) addresses.push(prefix.slice(0, prefix.indexOf('/')));
  }
  return { names, addresses };
}

/** Random targets: catalog names and addresses written every way, URLs, and text JSON must escape. */
export function randomTargets(random: Random, count: number): string[] {
  const { names, addresses } = catalogNames();
  const oddText = ['"', '\\u00e9', 'ü', '€', '😀', '\t', '%22', "'", '<', '\u2028', '\u0001'];
  const targets: string[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random.next();
    let target: string;
    if (roll < 0.3) {
      target = random.pick(names);
      if (random.next() < 0.3) target = target.toUpperCase();
      if (random.next() < 0.2) target += '.';
    } else if (roll < 0.45) {
      target = random.pick(addresses);
      if (target.includes(':') && random.next() < 0.5) target = `[${target}]`;
    } else if (roll < 0.55) {
      target = `${random.int(1, 223)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(0, 255)}`;
    } else if (roll < 0.7) {
      const path = Array.from({ length: random.int(0, 3) }, () => random.pick(oddText)).join('');
      target = `https://${random.pick(names).replace(/^x\./, 'app.')}${random.next() < 0.3 ? `:${random.int(1, 65535)}` : ''}/${path}`;
    } else if (roll < 0.8) {
      target = `${random.pick(['bücher', 'straße', 'ÄPFEL', 'xn--bcher-kva'])}.${random.pick(['example', 'de', 'powerbi.com'])}`;
    } else if (roll < 0.9) {
      target = `${random.pick(names).replace(/^x\./, 'a.')}:${random.int(1, 65535)}`;
    } else {
      target = `name-${random.int(0, 1e6).toString(36)}.${random.pick(['com', 'net', 'example'])}`;
    }
    targets.push(target);
  }
  return targets;
}
