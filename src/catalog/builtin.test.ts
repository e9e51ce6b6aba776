// The compiled built-in catalog (written by `npm run build`, loaded by `explain` without YAML or
// zod) must be exactly what parsing and validating catalog/powerbi.yaml gives, and must be ignored
// as soon as the YAML differs from the text it was compiled from.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { compiledCatalogName, type LoadedCatalog } from './builtin.js';
import { builtinCatalogFile, compileBuiltinCatalog, loadCatalogFile, packageRoot } from './load.js';

const ready = needPeers('build');
const distCatalog = () => join(packageRoot(), 'dist', 'src', 'catalog');

type BuiltinModule = typeof import('./builtin.js');
const importBuilt = (dir: string) =>
  import(pathToFileURL(join(dir, 'builtin.js')).href) as Promise<BuiltinModule>;

describe.skipIf(!ready)('the compiled built-in catalog', () => {
  const temporary: string[] = [];
  afterAll(() => {
    for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
  });

  test('the build wrote what validating catalog/powerbi.yaml gives now', () => {
    const written = JSON.parse(readFileSync(join(distCatalog(), compiledCatalogName), 'utf8')) as unknown;
    // Strict: a field that validation sets to undefined, or a JSON round trip loses, differs here.
    expect(written).toStrictEqual(compileBuiltinCatalog());
  });

  test("the built loader returns the validated catalog and every rule's location", async () => {
    const built = (await importBuilt(distCatalog())).compiledBuiltinCatalog() as LoadedCatalog;
    expect(built).toBeDefined();
    const validated = loadCatalogFile(builtinCatalogFile());
    expect(built.catalog).toStrictEqual(validated.catalog);
    expect(built.catalog.rules.map((rule) => built.origins.get(rule))).toStrictEqual(
      validated.catalog.rules.map((rule) => validated.origins.get(rule)),
    );
  });

  test('a YAML edited after the build is parsed, not answered from the stale compiled file', async () => {
    // A copy of the package as installed: package.json, the catalog, the built module and its JSON.
    const root = mkdtempSync(join(tmpdir(), 'pw-compiled-'));
    temporary.push(root);
    const dir = join(root, 'dist', 'src', 'catalog');
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(root, 'catalog'));
    writeFileSync(join(root, 'package.json'), '{ "name": "pathwarden" }\n');
    for (const name of ['builtin.js', compiledCatalogName])
      copyFileSync(join(distCatalog(), name), join(dir, name));
    // builtin.js hands the pre-parsed prefixes to src/match/ip.ts (no other import of ours).
    mkdirSync(join(root, 'dist', 'src', 'match'));
    copyFileSync(join(distCatalog(), '..', 'match', 'ip.js'), join(root, 'dist', 'src', 'match', 'ip.js'));
    const yaml = readFileSync(builtinCatalogFile(), 'utf8');
    writeFileSync(join(root, 'catalog', 'powerbi.yaml'), yaml);
    expect((await importBuilt(dir)).compiledBuiltinCatalog()).toBeDefined();
    writeFileSync(join(root, 'catalog', 'powerbi.yaml'), `${yaml}\n# edited\n`);
    // A fresh module instance (the query string), so the first one's cache does not answer.
    const fresh = (await import(`${pathToFileURL(join(dir, 'builtin.js')).href}?edited`)) as BuiltinModule;
    expect(fresh.compiledBuiltinCatalog()).toBeUndefined();
  });
});
