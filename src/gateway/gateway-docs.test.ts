// docs/gateway.md against the code: every key of the config schema (walked through the zod shape)
// has a row with its default, no row names a key that does not exist, every wire error code is
// documented with its status and outcome, and the sample config is valid.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { z } from 'zod';
import { packageRoot } from '../catalog/load.js';
import { gatewayConfigSchema, parseGatewayConfig } from './config.js';
import { gatewayErrorCodes } from './errors.js';

const root = packageRoot();
const docs = readFileSync(join(root, 'docs', 'gateway.md'), 'utf8');

interface KeyInfo {
  path: string;
  defaultValue?: unknown;
}

type AnySchema = z.ZodType & { def: Record<string, unknown> & { type: string } };

/** Every key path of the schema: `limits.headerBytes`, `components[].clients`, `egress.<path>.proxy`. */
function walk(schema: AnySchema, path: string, out: KeyInfo[], defaultValue?: unknown): void {
  const def = schema.def;
  switch (def.type) {
    case 'default':
      walk(
        def.innerType as AnySchema,
        path,
        out,
        typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue,
      );
      return;
    case 'optional':
      walk(def.innerType as AnySchema, path, out, defaultValue);
      return;
    case 'object': {
      if (path) out.push({ path, defaultValue });
      for (const [key, child] of Object.entries((schema as unknown as z.ZodObject).shape)) {
        walk(child as AnySchema, path ? `${path}.${key}` : key, out);
      }
      return;
    }
    case 'union': {
      out.push({ path, defaultValue });
      const options = def.options as AnySchema[];
      for (const option of options) {
        if (option.def.type !== 'object') continue;
        for (const [key, child] of Object.entries((option as unknown as z.ZodObject).shape)) {
          walk(child as AnySchema, `${path}.${key}`, out);
        }
      }
      return;
    }
    case 'array': {
      const element = def.element as AnySchema;
      if (element.def.type === 'object') {
        out.push({ path, defaultValue });
        for (const [key, child] of Object.entries((element as unknown as z.ZodObject).shape)) {
          walk(child as AnySchema, `${path}[].${key}`, out);
        }
        return;
      }
      out.push({ path, defaultValue });
      return;
    }
    default:
      out.push({ path, defaultValue });
  }
}

const keys: KeyInfo[] = [];
walk(gatewayConfigSchema as unknown as AnySchema, '', keys);
/** The two egress paths share one set of rows, written with `<path>`. */
const documentedName = (path: string) => path.replace(/\.(expressroute|internet)(?=\.|$)/, '.<path>');
/** Rows of the table in the "Configuration" section. */
const configSection = docs.slice(
  docs.indexOf('\n## Configuration'),
  docs.indexOf('\n## ', docs.indexOf('\n## Configuration') + 1),
);
const rows = new Map<string, string>();
for (const line of configSection.split('\n')) {
  const match = /^\| `([A-Za-z<>[\].]+)` \|/.exec(line);
  if (match) rows.set(match[1] as string, line);
}

function formatDefault(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value))
    return value.every((item) => typeof item !== 'object') ? `[${value.join(', ')}]` : undefined;
  if (typeof value === 'object') return undefined;
  return String(value);
}

describe('docs/gateway.md documents the config', () => {
  test('the walk found the schema', () => {
    expect(keys.map((key) => key.path)).toEqual(
      expect.arrayContaining([
        'listen',
        'egress.expressroute.localAddress',
        'limits.drainTimeoutMs',
        'components[].component',
        'health.internet.failures',
      ]),
    );
  });

  test.each(keys.map((key) => [key.path, key] as const))('%s has a row with its default', (_path, key) => {
    const row = rows.get(documentedName(key.path));
    expect(row, `no row "| \`${documentedName(key.path)}\` |" in docs/gateway.md`).toBeDefined();
    const expected = formatDefault(key.defaultValue);
    if (expected !== undefined) expect(row).toContain(`\`${expected}\``);
  });

  test('no row documents a key the schema does not have', () => {
    const known = new Set(keys.map((key) => documentedName(key.path)));
    expect(rows.size).toBeGreaterThan(40);
    for (const name of rows.keys()) expect(known, `docs row ${name}`).toContain(name);
  });

  test('examples/gateway.yaml is a valid config', () => {
    const file = join(root, 'examples', 'gateway.yaml');
    const config = parseGatewayConfig(readFileSync(file, 'utf8'), file);
    expect(config.listen).toBe('127.0.0.1:3128');
    expect(config.egress).toEqual({
      expressroute: { localAddress: '127.0.0.2' },
      internet: { localAddress: '127.0.0.3' },
    });
  });
});

describe('docs/gateway.md documents the wire error codes', () => {
  test.each(Object.entries(gatewayErrorCodes))('%s with its status and outcome', (code, spec) => {
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, code).toBeDefined();
    expect(row).toContain(`| ${spec.status} | ${spec.outcome} |`);
  });

  test('no undocumented code is used and no documented code is missing', () => {
    const documented = new Set([...docs.matchAll(/`(PW_GW_[A-Z_]+)`/g)].map((match) => match[1]));
    for (const code of documented) expect(Object.keys(gatewayErrorCodes)).toContain(code);
    // Every folder that answers proxy or admin requests: the proxy, the admin API and its wiring.
    const files = ['gateway', 'admin', 'admin/dashboard', 'server'].flatMap((folder) =>
      readdirSync(join(root, 'src', folder))
        .filter((file) => file.endsWith('.ts'))
        .map((file) => `${folder}/${file}`),
    );
    expect(files.length).toBeGreaterThan(40);
    for (const name of files) {
      for (const match of readFileSync(join(root, 'src', name), 'utf8').matchAll(/'(PW_GW_[A-Z_]+)'/g)) {
        expect(Object.keys(gatewayErrorCodes), `${name} uses ${match[1]}`).toContain(match[1]);
      }
    }
  });
});
