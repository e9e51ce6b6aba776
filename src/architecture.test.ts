// The layering of src/, enforced: every import (static, dynamic, re-export) of every file is checked
// against the table below, in which a folder may import only the folders beneath it. The same table
// is printed in docs/architecture.md, and this test fails when the two differ.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

interface Layer {
  /** Folder under src/ (or `errors.ts`, the error catalogue at the top of src/). */
  folder: string;
  /** What it is for, in one line (shown in docs/architecture.md). */
  job: string;
  /** Folders (or single files, `folder/file.ts`) it may import, besides itself. */
  imports: string[];
  /** What its tests (`*.test.ts`, `testing/`, `test-*.ts`) may import on top, and why. */
  testImports?: string[];
}

// Bottom to top. A folder's `imports` name only folders listed before it.
const layers: Layer[] = [
  {
    folder: 'errors.ts',
    job: 'the PW_ERR_* catalogue and PathwardenError',
    imports: [],
    testImports: ['catalog'],
  },
  {
    folder: 'util',
    job: 'small shared helpers (located YAML, listen addresses, seeded random)',
    imports: ['errors.ts'],
  },
  {
    folder: 'match',
    job: 'host-pattern and CIDR matchers, pure',
    imports: ['errors.ts', 'util'],
    testImports: ['catalog'],
  },
  {
    folder: 'catalog',
    job: 'rule model, schema, loading, merge, docs',
    imports: ['errors.ts', 'util', 'match'],
    testImports: ['policy'],
  },
  {
    folder: 'testing',
    job: "helpers every folder's tests may use: external peers, test output",
    imports: ['errors.ts', 'util', 'catalog'],
  },
  {
    folder: 'policy',
    job: 'Policy.compile(), decide(), targets, verdicts, topology',
    imports: ['errors.ts', 'util', 'match', 'catalog'],
    testImports: ['ingest', 'cli'],
  },
  {
    folder: 'flow',
    job: 'FlowRecord, its field vocabulary, classifyFlow()',
    imports: ['errors.ts', 'util', 'match', 'catalog', 'policy'],
  },
  {
    folder: 'protocol',
    job: 'one reader per wire protocol: TLS ClientHello, QUIC Initial, DNS',
    imports: ['errors.ts', 'util', 'match'],
  },
  {
    folder: 'report',
    job: 'charts, escaping, number formats for reports',
    imports: ['errors.ts', 'util', 'policy', 'flow'],
  },
  {
    folder: 'ingest',
    job: 'one streaming parser per input format into FlowRecord',
    imports: ['errors.ts', 'util', 'match', 'flow', 'protocol'],
    testImports: ['audit'],
  },
  {
    folder: 'store',
    job: 'FlowStore interface, DuckDB, JSONL and ClickHouse stores, contract test',
    imports: ['errors.ts', 'util', 'flow'],
    testImports: ['cli'],
  },
  {
    folder: 'audit',
    job: 'ingest -> classify -> aggregate; report writers; demo data',
    imports: [
      'errors.ts',
      'util',
      'match',
      'catalog',
      'policy',
      'flow',
      'protocol',
      'report',
      'ingest',
      'store',
    ],
    testImports: ['cli'],
  },
  {
    folder: 'generate',
    job: 'PAC, Squid, dnsmasq/nftables, iproute, allow-lists',
    imports: ['errors.ts', 'util', 'match', 'catalog', 'policy'],
    testImports: ['cli'],
  },
  {
    folder: 'lab',
    job: 'network-namespace lab: topology, clients, scenarios, proof report',
    imports: ['errors.ts', 'util', 'match', 'catalog', 'policy', 'flow', 'report', 'audit', 'generate'],
  },
  {
    folder: 'gateway',
    job: "the proxy's data path: connections, tunnels, SOCKS5, guard, egress",
    imports: ['errors.ts', 'util', 'match', 'catalog', 'policy', 'flow', 'protocol', 'store'],
  },
  {
    folder: 'admin',
    job: 'admin HTTP API, metrics, health, dashboard routes, API contract',
    imports: ['errors.ts', 'util', 'match', 'catalog', 'policy', 'flow', 'store', 'gateway/contracts.ts'],
  },
  {
    folder: 'server',
    job: 'wires the gateway and the admin server together',
    imports: ['errors.ts', 'util', 'match', 'catalog', 'policy', 'flow', 'store', 'gateway', 'admin'],
    testImports: ['cli'],
  },
  {
    folder: 'cli',
    job: 'one file per command, argument handling only',
    imports: [
      'errors.ts',
      'util',
      'match',
      'catalog',
      'policy',
      'flow',
      'protocol',
      'report',
      'ingest',
      'store',
      'audit',
      'generate',
      'lab',
      'gateway',
      'admin',
      'server',
    ],
  },
  {
    folder: 'web',
    job: 'the dashboard SPA (Vite); only the API contract',
    imports: ['admin/api-contract.ts'],
  },
];

function isTestFile(file: string): boolean {
  return (
    /\.test\.tsx?$/.test(file) || file.split(sep).includes('testing') || /(^|[/\\])test-[^/\\]*$/.test(file)
  );
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const importRe =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

/** Relative specifiers of every import, re-export and dynamic import in `text`. */
function relativeImports(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(importRe)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier?.startsWith('.')) found.push(specifier);
  }
  return found;
}

/**
 * The layer a path under src/ belongs to: its first folder, or `errors.ts` for the files at the top
 * of src/ (the error catalogue, its test and this test).
 */
function layerOf(pathInSrc: string): string | null {
  const [first, second] = pathInSrc.split('/');
  if (second === undefined) return 'errors.ts';
  return first ?? null;
}

function allowed(layer: Layer, target: string, test: boolean): boolean {
  const targetLayer = layerOf(target);
  if (targetLayer === layer.folder) return true;
  // src/testing/ serves the tests of every floor (and is never part of the build).
  if (test && targetLayer === 'testing') return true;
  const permitted = test ? [...layer.imports, ...(layer.testImports ?? [])] : layer.imports;
  return permitted.some((entry) =>
    entry.endsWith('.ts') && entry !== 'errors.ts' ? target === entry : entry === targetLayer,
  );
}

/** Every import in src/ that the table does not allow, as `file: specifier`. */
function layeringViolations(files = sourceFiles(src)): string[] {
  const byFolder = new Map(layers.map((layer) => [layer.folder, layer]));
  const violations: string[] = [];
  for (const file of files) {
    // This file quotes imports as test data (and imports nothing of src/ itself).
    if (file === fileURLToPath(import.meta.url)) continue;
    const inSrc = relative(src, file).split(sep).join('/');
    const folder = layerOf(inSrc);
    const layer = folder === null ? undefined : byFolder.get(folder);
    if (layer === undefined) {
      violations.push(`${inSrc}: not in any layer of src/architecture.test.ts`);
      continue;
    }
    const test = isTestFile(inSrc);
    for (const specifier of relativeImports(readFileSync(file, 'utf8'))) {
      const target = relative(src, resolve(dirname(file), specifier))
        .split(sep)
        .join('/')
        .replace(/\.(js|jsx|tsx)$/, '.ts');
      if (target.startsWith('..')) {
        // Outside src/: test fixtures for tests; nothing for the code itself.
        if (!(test && target.startsWith('../test/'))) violations.push(`${inSrc}: ${specifier}`);
        continue;
      }
      if (!allowed(layer, target, test)) violations.push(`${inSrc}: ${specifier}`);
    }
  }
  return violations;
}

/** The table as docs/architecture.md shows it. */
function layerTable(): string {
  const rows = layers.map((layer) => {
    const name = layer.folder.endsWith('.ts') ? `src/${layer.folder}` : `src/${layer.folder}/`;
    const uses = layer.imports.length === 0 ? '—' : layer.imports.map((entry) => `\`${entry}\``).join(', ');
    const tests = (layer.testImports ?? []).map((entry) => `\`${entry}\``).join(', ') || '—';
    return `| \`${name}\` | ${layer.job} | ${uses} | ${tests} |`;
  });
  return ['| folder | one job | may import | its tests also |', '| --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

describe('architecture', () => {
  test('each layer imports only layers listed before it', () => {
    const order = layers.map((layer) => layer.folder);
    for (const [index, layer] of layers.entries()) {
      for (const entry of layer.imports) {
        const folder = entry === 'errors.ts' ? entry : (entry.split('/')[0] as string);
        expect(order.indexOf(folder), `${layer.folder} -> ${entry}`).toBeGreaterThanOrEqual(0);
        expect(order.indexOf(folder), `${layer.folder} -> ${entry}`).toBeLessThan(index);
      }
    }
  });

  test('no import in src/ goes against the layering', () => {
    expect(layeringViolations()).toEqual([]);
  });

  test('the import reader finds static, type-only, re-exported and dynamic imports', () => {
    const text = [
      "import { a } from '../store/store.js';",
      "import type { B } from './b.js';",
      "export type { C } from '../admin/c.js';",
      "const d = await import('../gateway/d.js');",
      "import './side-effect.js';",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(relativeImports(text)).toEqual([
      '../store/store.js',
      './b.js',
      '../admin/c.js',
      '../gateway/d.js',
      './side-effect.js',
    ]);
  });

  test('docs/architecture.md shows the same table', () => {
    const docs = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
    expect(docs).toContain(layerTable());
  });
});
