// classifyFlow(): the single step that turns a FlowRecord's evidence into an actual path (via the
// topology) and a decision (via the catalog). Audit and gateway both call it; nothing else
// computes verdicts.
import { type Component, components } from '../catalog/model.js';
import { canonicalHostName } from '../match/host.js';
import { type IpAddress, parseIp } from '../match/ip.js';
import type { Decision, Policy } from '../policy/policy.js';
import type { ActualPathResult, PathResolver } from '../policy/topology.js';
import { detach } from '../util/detach.js';
import type { FlowRecord } from './record.js';

export interface ClassifyOptions {
  /** Component of flows whose record does not say (default `saas`). */
  component?: Component;
  /** Host names for addresses, from DNS answers seen in the same audit. */
  nameOf?: (address: string) => string | undefined;
  /** The `privatelink.*` CNAME a DNS answer for the address went through (Private Link evidence). */
  privateLinkOf?: (address: string) => string | undefined;
  /**
   * Memo of earlier results for a long run of flows (an audit): actual paths per upstream,
   * source or destination address and decisions per (name or address text, component, port, actual path).
   * Only ever filled by classifyFlow itself, so the results are exactly those without it.
   */
  cache?: ClassifyCache;
}

/** Entries kept per table before it is emptied and refilled (bounds the memory of a cache). */
const CACHE_LIMIT = 20_000;
/**
 * Destination lookups after which the destination table is given up when most of them missed. An
 * audit that counts by key (src/audit/flow-counter.ts) classifies only the first flow of each
 * key here, so a Squid log's direct flows reach this table with a new address almost every time:
 * 20,000 lookups would take a whole day's log, each a miss that copies and stores its address.
 */
const DESTINATION_TRIAL = 1_024;

/**
 * What classifyFlow() remembers between flows when given one (see ClassifyOptions.cache). Logs
 * repeat the same few hosts, proxies and responders, so most flows are answered by one or two
 * lookups of their text, without canonicalizing, parsing addresses, walking the indexes or
 * building a Decision. Keys are copies of the text (never views of a log line, which would keep the
 * line's whole read chunk alive); each table is emptied when it reaches its limit.
 */
export class ClassifyCache {
  /** Decisions by tier (component, port, actual path; see #tier) and then by the candidate text. */
  #decisions = new Map<number, Record<string, Decision | undefined>>();
  #decisionCount = 0;
  /**
   * Actual paths by upstream proxy text, when the proxy alone decides the path (null: it does not).
   * Squid's parent peers are few; its direct flows' destinations are as many as the addresses of
   * the web, so only the proxy part is worth remembering for them.
   */
  readonly #byProxy: PathTable;
  /**
   * Actual paths by source address and by destination address, for flows whose proxy (if any) does
   * not decide: the topology tries the source, and only when the source is not listed does the
   * destination decide alone, so the two are remembered apart (null: the source does not decide).
   * Zeek's conn logs pair a few thousand sources with a few thousand responders: the pairs are far
   * too many to remember, each side is not.
   */
  readonly #bySource: PathTable;
  readonly #byDestination: PathTable;
  readonly #limit: number;
  /** Lookups of the destination table before it may be given up. */
  readonly #destinationTrial: number;

  constructor(limit = CACHE_LIMIT) {
    this.#limit = limit;
    this.#destinationTrial = Math.min(limit, DESTINATION_TRIAL);
    this.#byProxy = new PathTable(limit, true);
    this.#bySource = new PathTable(limit, true);
    // Given up when most lookups miss (as for Squid's direct flows to the addresses of the web).
    this.#byDestination = new PathTable(limit, false);
  }

  /**
   * @internal The decision table of one (component, port, actual path) tier; undefined for a
   * component outside the model (from an untyped caller), which is then not cached.
   */
  decisionsFor(
    component: Component,
    port: number | null,
    actualPath: FlowRecord['actualPath'],
    kind: 'candidate' | 'destination',
  ): Record<string, Decision | undefined> | undefined {
    const code = componentCodes[component];
    if (code === undefined) return undefined;
    const key =
      ((((port ?? -1) + 1) * 8 + code) * 4 + actualCode(actualPath)) * 2 + (kind === 'candidate' ? 0 : 1);
    let table = this.#decisions.get(key);
    if (table === undefined) {
      table = Object.create(null) as Record<string, Decision | undefined>;
      this.#decisions.set(key, table);
    }
    return table;
  }

  /** @internal */
  rememberDecision(table: Record<string, Decision | undefined>, text: string, decision: Decision): void {
    if (this.#decisionCount >= this.#limit) {
      this.#decisions = new Map();
      this.#decisionCount = 0;
      // The caller's table is no longer reachable from the cache: the entry goes nowhere, once.
      return;
    }
    table[text] = decision;
    this.#decisionCount++;
  }

  /**
   * @internal The actual path of a flow, computed by `resolve` (the topology) only when these texts
   * were not resolved before. The topology answers from the proxy first, then the source address,
   * then the destination, so a proxy that decides the path is remembered alone.
   */
  path(
    upstream: string | null,
    source: string | null,
    destination: string | null,
    resolve: (part: PathPart) => ActualPathResult,
  ): ActualPathResult {
    if (upstream) {
      const byProxy = this.#byProxy.lookup(upstream, 'proxy', resolve);
      if (byProxy !== null) return byProxy;
    }
    if (source) {
      const bySource = this.#bySource.lookup(source, 'source', resolve);
      if (bySource !== null) return bySource;
    }
    const byDestination = this.#byDestination;
    if (byDestination.lookups > this.#destinationTrial && byDestination.misses * 2 > byDestination.lookups)
      return resolve('destination');
    return byDestination.lookup(destination ?? '', 'destination', resolve) as ActualPathResult;
  }
}

/**
 * Actual paths by the text of one piece of evidence (a proxy, a source or a destination address).
 * For evidence that may decide alone (`decidesAlone`), null when it does not. Emptied when it
 * reaches its limit.
 */
class PathTable {
  #entries: Record<string, ActualPathResult | null | undefined> = Object.create(null);
  #count = 0;
  lookups = 0;
  misses = 0;
  readonly #limit: number;
  readonly #decidesAlone: boolean;

  constructor(limit: number, decidesAlone: boolean) {
    this.#limit = limit;
    this.#decidesAlone = decidesAlone;
  }

  lookup(
    text: string,
    part: PathPart,
    resolve: (part: PathPart) => ActualPathResult,
  ): ActualPathResult | null {
    this.lookups++;
    let known = this.#entries[text];
    if (known === undefined) {
      this.misses++;
      const result = resolve(part);
      known =
        this.#decidesAlone && result.path === 'unknown'
          ? null
          : { path: result.path, evidence: detach(result.evidence) };
      if (this.#count >= this.#limit) {
        this.#entries = Object.create(null);
        this.#count = 0;
      }
      this.#entries[detach(text)] = known;
      this.#count++;
    }
    return known;
  }
}

/** Which evidence of a flow the topology is asked about (see ClassifyCache.path). */
type PathPart = 'proxy' | 'source' | 'destination' | 'all';

const componentCodes: Readonly<Record<string, number>> = Object.fromEntries(
  components.map((component, code) => [component, code]),
);

function actualCode(actual: FlowRecord['actualPath']): number {
  return actual === 'unknown' ? 0 : actual === 'expressroute' ? 1 : 2;
}

/**
 * Fills `actualPath` (unless the input already set it), `expectedPath`, `verdict`, `ruleId` and
 * `reason` in place and returns the decision. The destination name is, in order: the requested
 * host, the SNI, the HTTP Host, a DNS name of the destination address, the address itself.
 */
export function classifyFlow(
  flow: FlowRecord,
  policy: Policy,
  resolver: PathResolver,
  options: ClassifyOptions = {},
): Decision {
  const cache = options.cache;
  if (flow.actualPath === 'unknown' && flow.protocol === 'dns') {
    // A lookup travels to the resolver, not to the name it asks about: where the query went says
    // nothing about the path of the name's traffic, so a DNS record never proves a leak.
    flow.actualPathEvidence ??= 'dns lookup';
  } else if (flow.actualPath === 'unknown') {
    const result = actualPathOf(flow, resolver, cache);
    flow.actualPath = result.path;
    if (result.path !== 'unknown' || flow.actualPathEvidence === null)
      flow.actualPathEvidence = result.evidence;
    const via = flow.destination === null ? undefined : options.privateLinkOf?.(flow.destination);
    if (via !== undefined)
      flow.actualPathEvidence = `${flow.actualPathEvidence}; DNS via Private Link ${via}`;
  }
  const component = flow.component ?? options.component ?? 'saas';
  const decision = decideFlow(flow, component, policy, options, cache);
  flow.expectedPath = decision.path;
  flow.verdict = decision.verdict;
  flow.ruleId = decision.rule?.id ?? null;
  flow.reason = decision.reason;
  return decision;
}

/**
 * The actual path of a flow whose input did not say, from its upstream proxy, source and
 * destination address through the topology (and the cache's memo of earlier answers).
 */
export function actualPathOf(
  flow: Pick<FlowRecord, 'upstream' | 'sourceAddress' | 'destination'>,
  resolver: PathResolver,
  cache?: ClassifyCache,
): ActualPathResult {
  const resolve = (part: PathPart) =>
    resolver.resolve({
      proxy: part === 'proxy' || part === 'all' ? (flow.upstream ?? undefined) : undefined,
      source: part === 'source' || part === 'all' ? parseAddress(flow.sourceAddress) : undefined,
      destination: part === 'destination' || part === 'all' ? parseAddress(flow.destination) : undefined,
    });
  return cache === undefined
    ? resolve('all')
    : cache.path(flow.upstream, flow.sourceAddress, flow.destination, resolve);
}

/**
 * The decision of a flow whose actual path is known. With a cache, a name or address text already
 * decided in the same (component, port, actual path) tier returns that decision: the decision is a
 * function of the text and the tier alone (an address text always meets the prefixes, a name is
 * canonicalized first), so the cached one is the one the policy would build again.
 */
function decideFlow(
  flow: FlowRecord,
  component: Component,
  policy: Policy,
  options: ClassifyOptions,
  cache: ClassifyCache | undefined,
): Decision {
  const table =
    cache !== undefined && (flow.host || flow.sni || flow.httpHost)
      ? cache.decisionsFor(component, flow.port, flow.actualPath, 'candidate')
      : undefined;
  if (table !== undefined) {
    // Only the first non-empty candidate: the one the loop below decides unless it is invalid (and
    // invalid texts are never cached).
    const cached = table[(flow.host || flow.sni || flow.httpHost) as string];
    if (cached !== undefined) return cached;
  }
  const decideOptions = { component, port: flow.port ?? undefined, actualPath: flow.actualPath };
  for (const candidate of [flow.host, flow.sni, flow.httpHost]) {
    if (!candidate) continue;
    // Addresses first: a dotted quad is also a syntactically valid name, but must meet the prefixes.
    // With a cache, the text is copied first so that the decision kept holds no view of a log line.
    const text = table === undefined ? candidate : detach(candidate);
    const address = parseAddress(text);
    if (address) {
      const decision = policy.decideAddress(address, text, decideOptions);
      if (table !== undefined) cache?.rememberDecision(table, text, decision);
      return decision;
    }
    const name = canonicalHostName(text);
    if (name !== undefined) {
      const decision = policy.decideHost(name, decideOptions);
      if (table !== undefined) cache?.rememberDecision(table, text, decision);
      return decision;
    }
  }
  if (flow.destination) {
    const name = options.nameOf?.(flow.destination);
    const canonical = name === undefined ? undefined : canonicalHostName(name);
    if (canonical !== undefined) {
      if (flow.host === null) flow.host = canonical;
      return policy.decideHost(canonical, decideOptions);
    }
    // The destination address alone (no name for it): the same address text, the same decision.
    const byAddress = cache?.decisionsFor(component, flow.port, flow.actualPath, 'destination');
    const cached = byAddress?.[flow.destination];
    if (cached !== undefined) return cached;
    const text = byAddress === undefined ? flow.destination : detach(flow.destination);
    const address = parseAddress(text);
    if (address) {
      const decision = policy.decideAddress(address, text, decideOptions);
      if (byAddress !== undefined) cache?.rememberDecision(byAddress, text, decision);
      return decision;
    }
  }
  return policy.decideHost('', decideOptions);
}

/**
 * Whether the flow's first name candidate (host, SNI, HTTP Host) decides it, as decideFlow tries
 * it: an address or a valid host name. When not, the decision comes from a later candidate or the
 * destination address.
 */
export function decidedByFirstName(flow: Pick<FlowRecord, 'host' | 'sni' | 'httpHost'>): boolean {
  const candidate = flow.host || flow.sni || flow.httpHost;
  if (!candidate) return false;
  return parseAddress(candidate) !== undefined || canonicalHostName(candidate) !== undefined;
}

function parseAddress(text: string | null): IpAddress | undefined {
  if (!text) return undefined;
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return parseIp(bare);
}
