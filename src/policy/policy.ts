// The one place where a destination meets the catalog: Policy.compile() builds the indexes once,
// decide() answers "which path must this take, which path did it take, and what does that mean".
// Audit, generators and the gateway all call decide(); none of them has its own copy of the rules.
import {
  type Catalog,
  type Component,
  components,
  coversAllComponents,
  type EgressPath,
  type Rule,
  type RulePath,
  uncoveredComponents,
} from '../catalog/model.js';
import { selectProfile } from '../catalog/profiles.js';
import { PathwardenError } from '../errors.js';
import { canonicalPlainName, formatHostPattern, parseHostPattern } from '../match/host.js';
import { HostIndex } from '../match/host-index.js';
import {
  formatIp,
  formatPrefix,
  type IpAddress,
  type IpPrefix,
  ipv4Word,
  isIPv4Mapped,
  parsePrefix,
  readIPv6,
  rememberedPrefixes,
  writeIPv4,
} from '../match/ip.js';
import { PrefixTable } from '../match/prefix-table.js';
import { parseTarget, type Target } from './target.js';
import { type ActualPath, type Verdict, verdictOf } from './verdict.js';

/** The expected path of a decision: a rule's path, or why there is none. */
export type ExpectedPath = RulePath | 'unknown' | 'not-covered';

export interface RuleRef {
  id: string;
  activity: string;
  source: string;
  note: string | null;
  path: RulePath;
  /** The host pattern or prefix that matched; `null` for rules without fixed destinations. */
  matched: string | null;
}

export interface Decision {
  /** The catalog profile that answered (docs/model.md, "Profiles"). */
  profile: string;
  input: string;
  host: string;
  component: Component;
  port: number | null;
  path: ExpectedPath;
  actualPath: ActualPath;
  verdict: Verdict;
  rule: RuleRef | null;
  reason: string;
}

export interface DecideOptions {
  component?: Component;
  port?: number;
  actualPath?: ActualPath;
}

/** The default options, shared: a fresh `{}` per call is garbage the hot path does not need. */
const noOptions: DecideOptions = Object.freeze({});

/** The address decide(text) looks up for a dotted quad; lookups never keep it. */
const scratchIPv4: IpAddress = { version: 4, bytes: new Uint8Array(4) };
/** The same for a bare IPv6 literal. */
const scratchIPv6: IpAddress = { version: 6, bytes: new Uint8Array(16) };

/** One rule as reached through one of its patterns. */
interface MatchEntry {
  rule: Rule;
  ref: RuleRef;
  ports: ReadonlySet<number> | undefined;
  /** The reason text per actual path (see actualSlot), built on first use and then shared. */
  reasons: (string | undefined)[];
}

/** The rules of one pattern for one component, best first. */
type Candidates = MatchEntry[];

const componentSlot: Readonly<Record<Component, number>> = Object.fromEntries(
  components.map((component, slot) => [component, slot]),
) as Record<Component, number>;

/** uncoveredComponents by slot: an array load instead of a Set lookup per decision. */
const uncoveredSlots: readonly boolean[] = components.map((component) => uncoveredComponents.has(component));

/**
 * Reason texts are cached by small integers rather than by composed string keys: building and
 * hashing a key string cost more than the rest of a decision.
 */
function actualSlot(actual: ActualPath): number {
  return actual === 'unknown' ? 0 : actual === 'expressroute' ? 1 : 2;
}

export class Policy {
  readonly catalog: Catalog;
  /** The profile the compiled catalog is a view of (`current` for a catalog without profiles). */
  readonly profile: string;
  readonly #hosts = new HostIndex<Candidates>(components.length);
  /** Built on the first address lookup (see #prefixTable); until then, the rules with prefixes, best first. */
  #prefixes: PrefixTable<Candidates> | undefined;
  #prefixRules: { rule: Rule; entry: (matched: string) => MatchEntry }[] | undefined = [];
  readonly #openRules = new Map<Component, Rule[]>();
  readonly #hasPorts: boolean;
  /** Unknown-destination reasons by component slot * 2 + (address ? 1 : 0). */
  readonly #unknownReasons: (string | undefined)[] = [];
  /** Rule and reason of the components outside the catalog's source (see #notCoveredAnswer). */
  readonly #notCoveredAnswers = new Map<Component, { ref: RuleRef | null; reason: string }>();

  private constructor(catalog: Catalog) {
    this.catalog = catalog;
    this.profile = catalog.profile ?? catalog.defaultProfile ?? 'current';
    this.#hasPorts = catalog.rules.some((rule) => rule.ports !== undefined);
    const ranked = catalog.rules
      .map((rule, order) => ({ rule, order }))
      // Best first within a pattern: component-specific, then port-restricted, then catalog order.
      .sort(
        (a, b) =>
          Number(coversAllComponents(a.rule)) - Number(coversAllComponents(b.rule)) ||
          Number(a.rule.ports === undefined) - Number(b.rule.ports === undefined) ||
          a.order - b.order,
      );
    for (const { rule } of ranked) {
      const ports = rule.ports ? new Set(rule.ports) : undefined;
      const entry = (matched: string | null): MatchEntry => ({
        rule,
        ports,
        reasons: [undefined, undefined, undefined],
        ref: {
          id: rule.id,
          activity: rule.activity,
          source: rule.source,
          note: rule.note ?? null,
          path: rule.path,
          matched,
        },
      });
      if (rule.hosts.length === 0 && (rule.prefixes?.length ?? 0) === 0) {
        for (const component of rule.components) {
          const list = this.#openRules.get(component) ?? [];
          list.push(rule);
          this.#openRules.set(component, list);
        }
      }
      for (const host of rule.hosts) {
        const pattern = parseHostPattern(host);
        if (typeof pattern === 'string') throw invalid(rule, pattern);
        const matchEntry = entry(formatHostPattern(pattern));
        for (const component of rule.components) {
          const slot = componentSlot[component];
          const existing = this.#hosts.lookupPattern(pattern, slot);
          if (existing) existing.push(matchEntry);
          else this.#hosts.set(pattern, slot, [matchEntry]);
        }
      }
      if (rule.prefixes?.length) this.#prefixRules?.push({ rule, entry });
    }
  }

  /**
   * The prefix table, built when the first address is decided: a process that decides only names
   * (`pathwarden explain HOST`) parses and inserts none of the catalog's hundreds of prefixes.
   * Catalog loaders validate every prefix; an unvalidated catalog with a bad one gets its
   * PW_ERR_CATALOG_INVALID from the first address decided.
   */
  #prefixTable(): PrefixTable<Candidates> {
    if (this.#prefixes) return this.#prefixes;
    const slots = components.length;
    const prefixes: IpPrefix[] = [];
    /** Candidates by prefix index * slots + slot. */
    const values: (Candidates | undefined)[] = [];
    const indexByText = new Map<string, number>();
    for (const { rule, entry } of this.#prefixRules ?? []) {
      const texts = rule.prefixes ?? [];
      // The compiled built-in catalog's prefixes come parsed (and canonical): no parsing here.
      const known = rememberedPrefixes(texts);
      for (let i = 0; i < texts.length; i++) {
        const text = texts[i] as string;
        const prefix = known?.[i] ?? parsePrefix(text);
        if (typeof prefix === 'string') throw invalid(rule, prefix);
        const canonical = known ? text : formatPrefix(prefix);
        const matchEntry = entry(canonical);
        let index = indexByText.get(canonical);
        if (index === undefined) {
          index = prefixes.length;
          indexByText.set(canonical, index);
          prefixes.push(prefix);
          for (let slot = 0; slot < slots; slot++) values.push(undefined);
        }
        for (const component of rule.components) {
          const at = index * slots + componentSlot[component];
          const existing = values[at];
          if (existing) existing.push(matchEntry);
          else values[at] = [matchEntry];
        }
      }
    }
    const table = new PrefixTable(prefixes, values, slots);
    this.#prefixes = table;
    this.#prefixRules = undefined;
    return table;
  }

  /**
   * Compiles a (validated) catalog into the lookup structures. A catalog with profiles that is not
   * already a profile's view is seen through its default profile: rules of different profiles may
   * disagree, so they are never compiled together.
   */
  static compile(catalog: Catalog): Policy {
    return new Policy(catalog.profile === undefined && catalog.profiles ? selectProfile(catalog) : catalog);
  }

  /**
   * Decides a target given as text (URL, host, host:port, IP). Throws PW_ERR_TARGET_INVALID for
   * text that is none of those; use `decideText` (or `decideTarget` with `parseTarget`) to handle
   * that yourself.
   */
  decide(input: string, options: DecideOptions = noOptions): Decision {
    const decision = this.decideText(input, options);
    if (typeof decision === 'string') throw new PathwardenError('PW_ERR_TARGET_INVALID', decision);
    return decision;
  }

  /**
   * `decide`, with a sentence naming the problem returned instead of thrown: what `explain -`
   * calls per line. Equal to `decideTarget(parseTarget(input), options)` for every text.
   */
  decideText(input: string, options: DecideOptions = noOptions): Decision | string {
    // The two common forms, a plain name and a dotted quad, are decided without building a
    // Target (the text is all a Decision keeps): what parseTarget gives for them, minus the garbage.
    // Every option is read here, before the shortcuts fill their shared scratch addresses: a getter
    // that decided another address in between would overwrite them.
    const component = options.component ?? 'saas';
    const actualPath = options.actualPath ?? 'unknown';
    const port = options.port;
    const name = canonicalPlainName(input);
    if (name !== undefined) return this.#decide(input, name, undefined, component, port, actualPath);
    const word = ipv4Word(input);
    if (word >= 0) {
      writeIPv4(word, scratchIPv4.bytes);
      return this.#decide(input, input, scratchIPv4, component, port, actualPath);
    }
    // An IPv6 literal, bare or in brackets and nothing else (no port, spaces or URL around it:
    // readIPv6 takes none of them), is parsed in place into a scratch address, as parseTarget's
    // IPv6 path parses it, but without its trim and scans, the Target and the copy of the address
    // bytes; an IPv4-mapped one is decided as its IPv4 address, as there. (6% of the benchmark's
    // lines: the general path's glue they took was compiled last, about line 48,000 of `explain -`:
    // docs/performance.md, "explain -, session 9".)
    const v6 = scratchIPv6.bytes;
    const bracketed = input.charCodeAt(0) === 0x5b && input.charCodeAt(input.length - 1) === 0x5d;
    if (readIPv6(input, bracketed ? 1 : 0, bracketed ? input.length - 1 : input.length, v6)) {
      let address = scratchIPv6;
      if (isIPv4Mapped(v6)) {
        const v4 = scratchIPv4.bytes;
        for (let i = 0; i < 4; i++) v4[i] = v6[12 + i] as number;
        address = scratchIPv4;
      }
      return this.#decide(input, formatIp(address), address, component, port, actualPath);
    }
    const target = parseTarget(input);
    if (typeof target === 'string') return target;
    return this.decideTarget(target, options);
  }

  decideTarget(target: Target, options: DecideOptions = noOptions): Decision {
    return this.#decide(
      target.input,
      target.host,
      target.address,
      options.component ?? 'saas',
      options.port ?? target.port,
      options.actualPath ?? 'unknown',
    );
  }

  /**
   * Decides a host already in canonical form (lower-case ASCII name without trailing dot, as
   * `canonicalHostName` returns it) — the hot path for parsers that normalize names themselves.
   */
  decideHost(host: string, options: DecideOptions = noOptions): Decision {
    return this.#decide(
      host,
      host,
      undefined,
      options.component ?? 'saas',
      options.port,
      options.actualPath ?? 'unknown',
    );
  }

  /** Decides an IP address (e.g. a flow log's destination). */
  decideAddress(address: IpAddress, text: string, options: DecideOptions = noOptions): Decision {
    return this.#decide(
      text,
      text,
      address,
      options.component ?? 'saas',
      options.port,
      options.actualPath ?? 'unknown',
    );
  }

  /** Rules without fixed destinations that apply to a component (custom links, provider pages...). */
  rulesWithoutDestinations(component: Component): readonly Rule[] {
    return this.#openRules.get(component) ?? [];
  }

  #decide(
    input: string,
    host: string,
    address: IpAddress | undefined,
    component: Component,
    port: number | undefined,
    actualPath: ActualPath,
  ): Decision {
    const slot = componentSlot[component];
    if (uncoveredSlots[slot] === true) return this.#notCovered(input, host, component, port, actualPath);
    const accept =
      this.#hasPorts && port !== undefined ? (c: Candidates) => pick(c, port) !== undefined : undefined;
    const candidates =
      address === undefined
        ? this.#hosts.lookup(host, slot, accept)
        : this.#prefixTable().lookup(address, slot, accept);
    const entry = candidates === undefined ? undefined : pick(candidates, port);
    if (entry === undefined) {
      return {
        profile: this.profile,
        input,
        host,
        component,
        port: port ?? null,
        path: 'unknown',
        actualPath,
        verdict: 'unknown',
        rule: null,
        reason: this.#unknownReason(component, slot, address !== undefined),
      };
    }
    const verdict = verdictOf(entry.rule.path, actualPath);
    return {
      profile: this.profile,
      input,
      host,
      component,
      port: port ?? null,
      path: entry.rule.path,
      actualPath,
      verdict,
      rule: entry.ref,
      reason: reasonFor(entry, verdict, actualPath),
    };
  }

  #notCovered(
    input: string,
    host: string,
    component: Component,
    port: number | undefined,
    actualPath: ActualPath,
  ): Decision {
    const { ref, reason } = this.#notCoveredAnswer(component);
    return {
      profile: this.profile,
      input,
      host,
      component,
      port: port ?? null,
      path: 'not-covered',
      actualPath,
      verdict: 'not-covered',
      rule: ref,
      reason,
    };
  }

  /**
   * The rule and reason of a component outside the catalog's source, built once per component:
   * shared by its decisions as a matched rule's are (a fresh RuleRef per decision made `explain -`
   * serialize the rule and reason again for every line).
   */
  #notCoveredAnswer(component: Component): { ref: RuleRef | null; reason: string } {
    let answer = this.#notCoveredAnswers.get(component);
    if (answer === undefined) {
      const rule = this.rulesWithoutDestinations(component)[0];
      answer = {
        ref: rule
          ? {
              id: rule.id,
              activity: rule.activity,
              source: rule.source,
              note: rule.note ?? null,
              path: rule.path,
              matched: null,
            }
          : null,
        reason: `The catalog's source does not cover the ${component} component, so no path is expected for its traffic${rule ? ` (${rule.source})` : ''}.`,
      };
      this.#notCoveredAnswers.set(component, answer);
    }
    return answer;
  }

  #unknownReason(component: Component, slot: number, isAddress: boolean): string {
    const key = slot * 2 + (isAddress ? 1 : 0);
    let reason = this.#unknownReasons[key];
    if (reason === undefined) {
      const open = this.rulesWithoutDestinations(component);
      reason = `No catalog rule matches this ${isAddress ? 'address' : 'host'} for the ${component} component, so pathwarden cannot say which path it must take.`;
      if (open.length > 0) {
        reason += ` It may belong to an activity without fixed destinations: ${open.map((rule) => rule.id).join(', ')}.`;
      }
      // A component outside the model (from an untyped caller) has no slot: not cached.
      if (key >= 0) this.#unknownReasons[key] = reason;
    }
    return reason;
  }
}

function invalid(rule: Rule, message: string): PathwardenError {
  return new PathwardenError('PW_ERR_CATALOG_INVALID', `rule ${rule.id}: ${message}`);
}

function pick(candidates: Candidates, port: number | undefined): MatchEntry | undefined {
  if (port === undefined) return candidates[0];
  for (const candidate of candidates) {
    if (candidate.ports === undefined || candidate.ports.has(port)) return candidate;
  }
  return undefined;
}

const pathWords: Record<RulePath, string> = {
  expressroute: 'must ride the ExpressRoute circuit',
  internet: 'is a documented exception that crosses the public Internet',
  either: 'may take either path (documented on both, or the destination decides)',
};

function reasonFor(entry: MatchEntry, verdict: Verdict, actual: ActualPath): string {
  // The verdict follows from the rule's path and the actual path, so the latter is the whole key.
  const key = actualSlot(actual);
  let reason = entry.reasons[key];
  if (reason !== undefined) return reason;
  const { rule, ref } = entry;
  reason = `${ref.matched} matches rule ${rule.id} (${rule.activity}): this traffic ${pathWords[rule.path]}. Source: ${rule.source}.`;
  switch (verdict) {
    case 'ok':
      reason +=
        rule.path === 'internet'
          ? ' It rode the circuit, which is allowed but unusual for an exception (noted).'
          : ' It took the ExpressRoute circuit as expected.';
      break;
    case 'leak':
      reason += ' It crossed the public Internet: a leak.';
      break;
    case 'exception':
      reason += ' It crossed the public Internet as a documented exception.';
      break;
    case 'unverified':
      reason += ' The path it actually took is not known, so it is unverified.';
      break;
    default:
      break;
  }
  entry.reasons[key] = reason;
  return reason;
}

export type { EgressPath };
