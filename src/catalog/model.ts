// The routing model of docs/model.md as TypeScript types: paths, components, rules, catalogs.
// Everything else (matchers, policy, generators, audit) speaks these names.

/** The two ways out: the private circuit and the public Internet. */
export const egressPaths = ['expressroute', 'internet'] as const;
export type EgressPath = (typeof egressPaths)[number];

/** What a rule says about its destinations; `either` = documented on both, or the destination decides. */
export const rulePaths = ['expressroute', 'internet', 'either'] as const;
export type RulePath = (typeof rulePaths)[number];

/** Power BI components named by the seed. `mobile` is named only to say it is not covered. */
export const components = ['saas', 'desktop', 'paas', 'gateway', 'mobile'] as const;
export type Component = (typeof components)[number];

/** Components the seed does not cover: their flows get the verdict `not-covered`. */
export const uncoveredComponents: ReadonlySet<Component> = new Set(['mobile']);

/** What kind of data a rule's traffic carries. */
export const dataKinds = [
  'static-content',
  'telemetry',
  'credentials',
  'service-data',
  'map-data',
  'search',
  'feedback',
  'web-content',
  'third-party',
  'updates',
  'none',
  'other',
] as const;
export type DataKind = (typeof dataKinds)[number];

export interface Rule {
  id: string;
  components: readonly Component[];
  activity: string;
  hosts: readonly string[];
  prefixes?: readonly string[];
  ports?: readonly number[];
  path: RulePath;
  data: DataKind;
  note?: string;
  source: string;
}

/** A numbered statement of a source document and the rules (or catalog notes) that carry it. */
export interface Statement {
  ref: string;
  says: string;
  rules: readonly string[];
}

export interface SourceDocument {
  title: string;
  url?: string;
  date?: string;
}

/**
 * A named view of a catalog (docs/model.md, "Profiles"): `rules` lists exactly the rules that hold
 * (ids, or `prefix.*`), else every rule holds except those `exclude` names.
 */
export interface ProfileDefinition {
  title: string;
  description?: string;
  rules?: readonly string[];
  exclude?: readonly string[];
}

export interface Catalog {
  schema: 'pathwarden.catalog/v1';
  name: string;
  version: string;
  title?: string;
  description?: string;
  sources: Readonly<Record<string, SourceDocument>>;
  notes: readonly { id: string; text: string; source: string }[];
  rules: readonly Rule[];
  statements: readonly Statement[];
  /** Named views of the rules; a catalog without them has one implicit profile, `current`. */
  profiles?: Readonly<Record<string, ProfileDefinition>>;
  /** The profile used when none is asked for (`current` when absent). */
  defaultProfile?: string;
  /** Set on the view a profile selects (see selectProfile): the profile that answers. */
  profile?: string;
}

export function coversAllComponents(rule: Pick<Rule, 'components'>): boolean {
  return components.every((component) => rule.components.includes(component));
}
