// Where the package and its built-in catalog live, and the built-in catalog in the form the build
// compiles it to (`npm run build` writes it next to this module): plain JSON that loads without
// YAML parsing or schema validation, for commands that must start fast (`explain`). Loading it
// needs neither `yaml` nor `zod`; src/catalog/load.ts parses and validates everything else.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Location } from '../errors.js';
import { rememberParsedPrefixes } from '../match/ip.js';
import type { Catalog, Rule } from './model.js';

export interface LoadedCatalog {
  catalog: Catalog;
  /** Where each rule was written, for messages that point at it. */
  origins: ReadonlyMap<Rule, Location>;
}

/** Folder of the installed package (works from src/ under vitest and from dist/src/ when built). */
export function packageRoot(): string {
  root ??= findPackageRoot();
  return root;
}

let root: string | undefined;

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'pathwarden') return dir;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  throw new Error('pathwarden package root not found');
}

export const builtinCatalogFile = (): string => join(packageRoot(), 'catalog', 'powerbi.yaml');

/** The compiled catalog's file name; it sits next to this module (dist/src/catalog/ once built). */
export const compiledCatalogName = 'powerbi.compiled.json';

/** Bumped whenever the compiled form changes shape, so an old file is never misread. */
export const compiledCatalogFormat = 2;

/** What the build writes: the validated catalog, and the text it was validated from. */
export interface CompiledCatalog {
  format: number;
  /** The YAML text this was compiled from: the loader uses the file only while they are equal. */
  sourceText: string;
  catalog: Catalog;
  /** Where each rule was written (the file is filled in at load), in the order of `catalog.rules`. */
  origins: Omit<Location, 'file'>[];
  /**
   * Each rule's prefixes parsed (src/match/ip.ts, encodePrefixes), or `null` for a rule without
   * prefixes or with one whose text is not the canonical form: the policy then parses the texts.
   */
  prefixes: (number[] | null)[];
}

let builtin: LoadedCatalog | undefined;

/**
 * Where the build wrote the compiled catalog: next to this module when it runs as tsc compiled it
 * (dist/src/catalog/), or in dist/src/catalog/ when it runs from the CLI's bundle
 * (dist/src/cli/chunks/, scripts/bundle-cli.ts). From src/ (vitest) there is none.
 */
function compiledCatalogFile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const built = join(packageRoot(), 'dist', 'src');
  return here.startsWith(join(built, 'cli', 'chunks'))
    ? join(built, 'catalog', compiledCatalogName)
    : join(here, compiledCatalogName);
}

/** The built-in catalog once some loader produced it (one object per process, so caches hold). */
export function cachedBuiltinCatalog(): LoadedCatalog | undefined {
  return builtin;
}

export function cacheBuiltinCatalog(loaded: LoadedCatalog): LoadedCatalog {
  builtin ??= loaded;
  return builtin;
}

/**
 * The built-in catalog from its compiled form, or `undefined` when there is none to trust: not
 * built (running from src/), from another format, or compiled from a YAML text other than the one
 * installed now (the YAML was edited after the build). Callers then parse the YAML.
 */
export function compiledBuiltinCatalog(): LoadedCatalog | undefined {
  if (builtin) return builtin;
  let compiled: CompiledCatalog;
  let yaml: string;
  try {
    compiled = JSON.parse(readFileSync(compiledCatalogFile(), 'utf8')) as CompiledCatalog;
    yaml = readFileSync(builtinCatalogFile(), 'utf8');
  } catch {
    return undefined;
  }
  if (compiled.format !== compiledCatalogFormat || compiled.sourceText !== yaml) return undefined;
  const file = builtinCatalogFile();
  const origins = new Map<Rule, Location>();
  compiled.catalog.rules.forEach((rule, i) => {
    origins.set(rule, { file, ...compiled.origins[i] });
    const parsed = compiled.prefixes[i];
    if (parsed && rule.prefixes) rememberParsedPrefixes(rule.prefixes, parsed);
  });
  return cacheBuiltinCatalog({ catalog: compiled.catalog, origins });
}
