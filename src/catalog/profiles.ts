// Profiles: named views of one catalog (docs/model.md, "Profiles"). `seed` holds exactly the 2018
// document's rules, `current` adds Microsoft's current lists, `private-link` models Power BI /
// Fabric Private Link with public access blocked. A view is a Catalog whose `profile` says which.
import { PathwardenError } from '../errors.js';
import type { Catalog, ProfileDefinition, Rule } from './model.js';

/** The profile of a catalog that defines none: every rule holds. */
export const implicitProfile = 'current';

/** True when a selector (`id` or `prefix.*`) names the rule. */
export function selectorMatches(selector: string, id: string): boolean {
  return selector.endsWith('.*') ? id.startsWith(selector.slice(0, -1)) : selector === id;
}

export function profileNames(catalog: Catalog): string[] {
  return catalog.profiles ? Object.keys(catalog.profiles) : [implicitProfile];
}

export function defaultProfileOf(catalog: Catalog): string {
  return catalog.defaultProfile ?? implicitProfile;
}

/** The rules a profile holds, in catalog order. */
export function rulesOfProfile(catalog: Catalog, definition: ProfileDefinition): Rule[] {
  const only = definition.rules;
  const exclude = definition.exclude ?? [];
  return catalog.rules.filter((rule) =>
    only
      ? only.some((selector) => selectorMatches(selector, rule.id))
      : !exclude.some((selector) => selectorMatches(selector, rule.id)),
  );
}

const views = new WeakMap<Catalog, Map<string, Catalog>>();

/**
 * The view of `catalog` under a profile (the default one when `name` is undefined); the same
 * object for the same catalog and name, so compiled policies can be cached per view.
 */
export function selectProfile(catalog: Catalog, name?: string): Catalog {
  const profile = name ?? defaultProfileOf(catalog);
  let cached = views.get(catalog);
  const hit = cached?.get(profile);
  if (hit) return hit;
  let rules: readonly Rule[];
  if (!catalog.profiles) {
    if (profile !== implicitProfile) throw unknownProfile(catalog, profile);
    rules = catalog.rules;
  } else {
    const definition = catalog.profiles[profile];
    if (!definition) throw unknownProfile(catalog, profile);
    rules = rulesOfProfile(catalog, definition);
  }
  const view: Catalog = { ...catalog, rules, profile };
  if (!cached) {
    cached = new Map();
    views.set(catalog, cached);
  }
  cached.set(profile, view);
  return view;
}

function unknownProfile(catalog: Catalog, name: string): PathwardenError {
  return new PathwardenError(
    'PW_ERR_PROFILE_UNKNOWN',
    `catalog ${catalog.name} has no profile "${name}" (profiles: ${profileNames(catalog).join(', ')})`,
  );
}
