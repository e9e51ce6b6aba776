// Reads a topology file for commands that must start fast (`audit`, and each of its worker
// threads): a well-formed file is parsed with the YAML parser alone and checked by hand below,
// without loading zod; anything else (unreadable, not YAML, a schema problem, an address listed
// for both paths) goes to topology.ts, whose schema reports every problem with its location. Both
// ways give the same Topology for the same valid file (src/policy/topology-file.test.ts).
import { readFileSync } from 'node:fs';
import { parseIp, parsePrefix } from '../match/ip.js';
import { plainYaml } from '../util/located-yaml.js';
import type { Topology, TopologyEgress } from './path-resolver.js';

/** `host:port`, IPv6 hosts in brackets: how topology files name proxies. */
export const hostPortPattern = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;
/** A CIDR prefix with no host bits set. */
export const isCidr = (text: string): boolean => typeof parsePrefix(text) !== 'string';
export const isAddress = (text: string): boolean => parseIp(text) !== undefined;

/** The topology in `file`; throws topology.ts's located PW_ERR_TOPOLOGY_INVALID when it is not one. */
export async function readTopologyFile(file: string): Promise<Topology> {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // topology.ts says why
  }
  const plain = text === undefined ? undefined : plainYaml(text);
  const topology = plain === undefined ? undefined : acceptTopology(plain);
  if (topology !== undefined) return topology;
  return (await import('./topology.js')).loadTopologyFile(file);
}

const topologyKeys = new Set(['expressroute', 'internet', 'default', 'region']);
const egressKeys = new Set(['prefixes', 'proxies', 'sourceAddresses']);
const defaults = new Set(['expressroute', 'internet', 'unknown']);

/**
 * The topology `value` (parsed YAML) describes when it has no problem at all, else undefined: the
 * same object, defaults filled in, that topology.ts's schema outputs for it.
 */
export function acceptTopology(value: unknown): Topology | undefined {
  if (!isRecord(value) || !onlyKeys(value, topologyKeys)) return undefined;
  const expressroute = acceptEgress(value.expressroute);
  const internet = acceptEgress(value.internet);
  // Only a missing key takes the default; `default:` (YAML null) is an error, as in the schema.
  const path = value.default === undefined ? 'internet' : value.default;
  const region = value.region;
  if (expressroute === undefined || internet === undefined) return undefined;
  if (typeof path !== 'string' || !defaults.has(path)) return undefined;
  if (region !== undefined && typeof region !== 'string') return undefined;
  for (const field of ['proxies', 'sourceAddresses'] as const) {
    if (internet[field].some((entry) => expressroute[field].includes(entry))) return undefined;
  }
  const topology: Topology = { expressroute, internet, default: path as Topology['default'] };
  if (region !== undefined) topology.region = region;
  return topology;
}

function acceptEgress(value: unknown): TopologyEgress | undefined {
  if (value === undefined) return { prefixes: [], proxies: [], sourceAddresses: [] };
  if (!isRecord(value) || !onlyKeys(value, egressKeys)) return undefined;
  const prefixes = strings(value.prefixes, isCidr);
  const proxies = strings(value.proxies, (text) => hostPortPattern.test(text));
  const sourceAddresses = strings(value.sourceAddresses, isAddress);
  if (prefixes === undefined || proxies === undefined || sourceAddresses === undefined) return undefined;
  return { prefixes, proxies, sourceAddresses };
}

/** A copy of an array of strings that all pass `check` ([] when absent), else undefined. */
function strings(value: unknown, check: (text: string) => boolean): string[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  for (const entry of value) if (typeof entry !== 'string' || !check(entry)) return undefined;
  return [...(value as string[])];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function onlyKeys(value: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  for (const key of Object.keys(value)) if (!keys.has(key)) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
}
