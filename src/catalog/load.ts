// Reads catalog files (YAML or JSON) into typed Catalogs, reporting every problem with its file,
// line, column and field. Also merges a user catalog over the built-in one.
import { readFileSync } from 'node:fs';
import { type Location, PathwardenError, type Problem } from '../errors.js';
import { encodePrefixes, formatPrefix, type IpPrefix, parsePrefix } from '../match/ip.js';
import { parseLocatedYaml, splitField } from '../util/located-yaml.js';
import {
  builtinCatalogFile,
  type CompiledCatalog,
  cacheBuiltinCatalog,
  compiledBuiltinCatalog,
  compiledCatalogFormat,
  type LoadedCatalog,
} from './builtin.js';
import type { Catalog, Rule } from './model.js';
import { catalogSchema } from './schema.js';
import { validateCatalog } from './validate.js';

export { builtinCatalogFile, type LoadedCatalog, packageRoot } from './builtin.js';

export interface ParseResult {
  catalog?: Catalog;
  origins: Map<Rule, Location>;
  problems: Problem[];
}

/** Parses catalog text; never throws on bad input, returns every problem found instead. */
export function parseCatalog(text: string, file: string): ParseResult {
  const origins = new Map<Rule, Location>();
  const parsed = parseLocatedYaml(text, file, catalogSchema);
  if (!parsed.value) return { origins, problems: parsed.problems };
  const { locate } = parsed;
  const catalog = parsed.value as Catalog;
  catalog.rules.forEach((rule, i) => {
    origins.set(rule, locate(['rules', i]));
  });
  const problems = validateCatalog(catalog, (rule, field) => {
    const index = catalog.rules.indexOf(rule);
    if (index < 0) return undefined;
    return field ? locate(['rules', index, ...splitField(field)]) : origins.get(rule);
  });
  return { catalog, origins, problems };
}

export function readCatalogFile(file: string): ParseResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(cause);
    throw new PathwardenError('PW_ERR_CATALOG_READ', `cannot read catalog ${file}: ${reason}`, { cause });
  }
  return parseCatalog(text, file);
}

/** Loads a catalog file, throwing one PathwardenError that carries every problem. */
export function loadCatalogFile(file: string): LoadedCatalog {
  const result = readCatalogFile(file);
  return requireValid(result, file);
}

function requireValid(result: ParseResult, file: string): LoadedCatalog {
  if (!result.catalog || result.problems.length > 0) {
    const count = result.problems.length;
    throw new PathwardenError(
      'PW_ERR_CATALOG_INVALID',
      `catalog ${file} has ${count} problem${count === 1 ? '' : 's'}`,
      { problems: result.problems },
    );
  }
  return { catalog: result.catalog, origins: result.origins };
}

/**
 * The built-in Power BI catalog (once per process): from the form the build compiled it to when
 * that matches the installed YAML, else parsed and validated from the YAML.
 */
export function loadBuiltinCatalog(): LoadedCatalog {
  return compiledBuiltinCatalog() ?? cacheBuiltinCatalog(loadCatalogFile(builtinCatalogFile()));
}

/**
 * The compiled form of the built-in catalog (`npm run build` writes it, see src/catalog/builtin.ts):
 * always from the YAML, parsed and validated here, never from an earlier compiled file.
 */
export function compileBuiltinCatalog(): CompiledCatalog {
  const file = builtinCatalogFile();
  const sourceText = readFileSync(file, 'utf8');
  const { catalog, origins } = requireValid(parseCatalog(sourceText, file), file);
  return {
    format: compiledCatalogFormat,
    sourceText,
    catalog,
    origins: catalog.rules.map((rule) => {
      const { file: _file, ...at } = origins.get(rule) ?? { file };
      return at;
    }),
    prefixes: catalog.rules.map((rule) => {
      const parsed = (rule.prefixes ?? []).map((text) => parsePrefix(text));
      const canonical = parsed.every(
        (prefix, i) => typeof prefix !== 'string' && formatPrefix(prefix) === rule.prefixes?.[i],
      );
      return parsed.length > 0 && canonical ? encodePrefixes(parsed as IpPrefix[]) : null;
    }),
  };
}

/**
 * Lays a user catalog over a base one: user rules with the id of a base rule replace it, the
 * others are added after the base rules. The result is validated again as a whole, so a user rule
 * that conflicts with a built-in one is reported with both locations.
 */
export function mergeCatalogs(base: LoadedCatalog, overlay: LoadedCatalog, file: string): LoadedCatalog {
  const overlayById = new Map(overlay.catalog.rules.map((rule) => [rule.id, rule]));
  const rules: Rule[] = base.catalog.rules.map((rule) => overlayById.get(rule.id) ?? rule);
  const baseIds = new Set(base.catalog.rules.map((rule) => rule.id));
  rules.push(...overlay.catalog.rules.filter((rule) => !baseIds.has(rule.id)));
  const origins = new Map([...base.origins, ...overlay.origins]);
  const catalog: Catalog = {
    ...base.catalog,
    name: `${base.catalog.name}+${overlay.catalog.name}`,
    version: `${base.catalog.version}+${overlay.catalog.version}`,
    sources: { ...base.catalog.sources, ...overlay.catalog.sources },
    notes: [...base.catalog.notes, ...overlay.catalog.notes],
    rules,
    statements: [...base.catalog.statements, ...overlay.catalog.statements],
    // An overlay may add or redefine profiles; its new rules hold in every profile that is defined
    // by `exclude`, and in a `rules` profile only when it names them (docs/model.md, "Profiles").
    ...(base.catalog.profiles || overlay.catalog.profiles
      ? { profiles: { ...base.catalog.profiles, ...overlay.catalog.profiles } }
      : {}),
    ...((overlay.catalog.defaultProfile ?? base.catalog.defaultProfile)
      ? { defaultProfile: overlay.catalog.defaultProfile ?? base.catalog.defaultProfile }
      : {}),
  };
  const problems = validateCatalog(catalog, (rule) => origins.get(rule));
  return requireValid({ catalog, origins, problems }, file);
}

export interface CatalogChoice {
  /** User catalog files, laid over the built-in one in order. */
  files?: readonly string[];
  /** Start from an empty catalog instead of the built-in one. */
  noBuiltin?: boolean;
}

export function resolveCatalog(choice: CatalogChoice = {}): LoadedCatalog {
  const files = choice.files ?? [];
  let current: LoadedCatalog | undefined = choice.noBuiltin ? undefined : loadBuiltinCatalog();
  for (const file of files) {
    const loaded = loadCatalogFile(file);
    current = current ? mergeCatalogs(current, loaded, file) : loaded;
  }
  if (!current) {
    throw new PathwardenError('PW_ERR_USAGE', '--no-builtin-catalog needs at least one --catalog FILE');
  }
  return current;
}
