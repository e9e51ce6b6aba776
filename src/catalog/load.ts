// Reads catalog files (YAML or JSON) into typed Catalogs, reporting every problem with its file,
// line, column and field. Also merges a user catalog over the built-in one.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isNode, isSeq, LineCounter, parseDocument } from 'yaml';
import { type Location, PathwardenError, type Problem } from '../errors.js';
import type { Catalog, Rule } from './model.js';
import { catalogSchema } from './schema.js';
import { validateCatalog } from './validate.js';

export interface LoadedCatalog {
  catalog: Catalog;
  /** Where each rule was written, for messages that point at it. */
  origins: ReadonlyMap<Rule, Location>;
}

export interface ParseResult {
  catalog?: Catalog;
  origins: Map<Rule, Location>;
  problems: Problem[];
}

/** Parses catalog text; never throws on bad input, returns every problem found instead. */
export function parseCatalog(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const origins = new Map<Rule, Location>();
  const problems: Problem[] = doc.errors.map((error) => {
    const [line, column] = error.linePos?.[0] ? [error.linePos[0].line, error.linePos[0].col] : [];
    return {
      message: error.message.split('\n')[0] ?? error.message,
      location: { file, line, column },
    };
  });
  if (problems.length > 0) return { origins, problems };

  const locate = (path: readonly PropertyKey[]): Location => {
    // Walk down as far as the document goes: a missing field is reported at its parent.
    let node: unknown = doc.contents;
    let found = node;
    for (const key of path) {
      if (isMap(node) || isSeq(node)) {
        node = node.get(key as never, true);
        if (node === undefined) break;
        found = node;
      } else {
        break;
      }
    }
    const offset = isNode(found) && found.range ? found.range[0] : 0;
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, field: formatField(path) };
  };

  const parsed = catalogSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push({ message: issue.message, location: locate(issue.path) });
    }
    return { origins, problems };
  }
  const catalog = parsed.data as Catalog;
  catalog.rules.forEach((rule, i) => {
    origins.set(rule, locate(['rules', i]));
  });
  problems.push(
    ...validateCatalog(catalog, (rule, field) => {
      const index = catalog.rules.indexOf(rule);
      if (index < 0) return undefined;
      return field ? locate(['rules', index, ...splitField(field)]) : origins.get(rule);
    }),
  );
  return { catalog, origins, problems };
}

function formatField(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function splitField(field: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const match of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    keys.push(match[2] !== undefined ? Number(match[2]) : (match[1] as string));
  }
  return keys;
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

/** Folder of the installed package (works from src/ under vitest and from dist/src/ when built). */
export function packageRoot(): string {
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

let builtin: LoadedCatalog | undefined;

/** The built-in Power BI catalog (parsed once per process). */
export function loadBuiltinCatalog(): LoadedCatalog {
  builtin ??= loadCatalogFile(builtinCatalogFile());
  return builtin;
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
