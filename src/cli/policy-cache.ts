// One compiled Policy per catalog object for the life of a CLI process.
import type { Catalog } from '../catalog/model.js';
import { Policy } from '../policy/policy.js';

const compiled = new WeakMap<Catalog, Policy>();

export function compilePolicy(catalog: Catalog): Policy {
  let policy = compiled.get(catalog);
  if (!policy) {
    policy = Policy.compile(catalog);
    compiled.set(catalog, policy);
  }
  return policy;
}
