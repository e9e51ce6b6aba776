// Options shared by several commands, parsed once: catalog choice and component names.
import { Option } from 'commander';
import { compiledBuiltinCatalog, type LoadedCatalog } from '../catalog/builtin.js';
import { type Component, components } from '../catalog/model.js';
import { selectProfile } from '../catalog/profiles.js';
import { PathwardenError } from '../errors.js';

export interface CatalogOptions {
  catalog?: string[];
  builtinCatalog?: boolean;
  profile?: string;
}

export const catalogOption = () =>
  new Option(
    '--catalog <file>',
    'catalog file (YAML/JSON) laid over the built-in one; rules with a built-in id replace it (repeatable)',
  ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);

export const noBuiltinOption = () =>
  new Option('--no-builtin-catalog', 'start from an empty catalog: only the --catalog files count');

/**
 * The catalog the options choose. The built-in catalog alone comes from its compiled form when
 * there is one; any `--catalog` file loads the parser and validator (src/catalog/load.ts) first.
 */
export async function loadCatalogFromOptions(options: CatalogOptions): Promise<LoadedCatalog> {
  const files = options.catalog ?? [];
  const noBuiltin = options.builtinCatalog === false;
  const compiled = files.length === 0 && !noBuiltin ? compiledBuiltinCatalog() : undefined;
  if (compiled) return compiled;
  const { resolveCatalog } = await import('../catalog/load.js');
  return resolveCatalog({ files, noBuiltin });
}

export const profileOption = () =>
  new Option(
    '--profile <name>',
    'catalog profile: seed (the 2018 document), current (default), private-link (docs/model.md)',
  );

/** The catalog in effect, seen through `--profile` (the catalog's default profile without it). */
export async function loadProfileFromOptions(options: CatalogOptions): Promise<LoadedCatalog> {
  const loaded = await loadCatalogFromOptions(options);
  return { ...loaded, catalog: selectProfile(loaded.catalog, options.profile) };
}

export const componentOption = (description = 'Power BI component of the traffic') =>
  new Option('--component <name>', description).choices(components as unknown as string[]);

export function parseComponent(value: string | undefined, fallback: Component): Component {
  if (value === undefined) return fallback;
  if (!(components as readonly string[]).includes(value)) {
    throw new PathwardenError(
      'PW_ERR_COMPONENT_INVALID',
      `unknown component "${value}" (expected one of ${components.join(', ')})`,
    );
  }
  return value as Component;
}
