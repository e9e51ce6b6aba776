// readTopologyFile (the audit's start-up path, no zod) and loadTopologyFile (the schema) must agree:
// the same Topology for every valid file, and the schema's located problems for every other one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { isPathwardenError } from '../errors.js';
import { loadTopologyFile, topologySchema } from './topology.js';
import { acceptTopology, readTopologyFile } from './topology-file.js';

const dir = mkdtempSync(join(tmpdir(), 'pw-topology-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
function file(text: string): string {
  const path = join(dir, `t${count++}.yaml`);
  writeFileSync(path, text);
  return path;
}

const valid = [
  'expressroute:\n  prefixes: [13.73.248.0/24, 20.190.160.0/24]\n  proxies: [10.9.0.1:3128]\n  sourceAddresses: [10.20.0.5]\ninternet:\n  proxies: [10.9.0.2:3128]\n  sourceAddresses: [10.20.0.6]\ndefault: internet\n',
  'default: unknown\n',
  '{}\n',
  'expressroute:\n  prefixes: [fd00::/64]\n  proxies: ["[fd00::1]:3128"]\nregion: westeurope\n',
  '{"internet": {"proxies": ["proxy.example.com:8080"]}, "default": "expressroute"}\n',
];

const invalid: [string, string][] = [
  ['not a mapping', '- a\n- b\n'],
  ['unknown key', 'expresroute: {}\n'],
  ['unknown egress key', 'internet:\n  proxy: [10.9.0.2:3128]\n'],
  ['bad prefix (host bits)', 'expressroute:\n  prefixes: [13.73.248.1/24]\n'],
  ['bad proxy', 'expressroute:\n  proxies: [10.9.0.1]\n'],
  ['bad address', 'internet:\n  sourceAddresses: [10.20.0.300]\n'],
  ['number instead of string', 'internet:\n  sourceAddresses: [7]\n'],
  ['bad default', 'default: circuit\n'],
  ['empty default (YAML null, never the internet by default)', 'default:\n'],
  ['null default', 'default: ~\n'],
  ['region not a string', 'region: 4\n'],
  ['null egress', 'expressroute:\n'],
  [
    'listed for both paths',
    'expressroute:\n  proxies: [10.9.0.1:3128]\ninternet:\n  proxies: [10.9.0.1:3128]\n',
  ],
  ['duplicate key', 'default: internet\ndefault: unknown\n'],
  ['not YAML', 'expressroute: [\n'],
  ['empty', ''],
];

describe('readTopologyFile', () => {
  test.each(valid)('a valid topology reads as the schema reads it: %#', async (text) => {
    const path = file(text);
    const fast = await readTopologyFile(path);
    expect(fast).toEqual(loadTopologyFile(path));
    expect(JSON.stringify(fast)).toBe(JSON.stringify(loadTopologyFile(path)));
    expect(acceptTopology(JSON.parse(JSON.stringify(fast)))).toEqual(fast);
  });

  test.each(invalid)('%s: the schema path reports it, with its location', async (_name, text) => {
    const path = file(text);
    const expected = (() => {
      try {
        loadTopologyFile(path);
      } catch (error) {
        return error;
      }
      throw new Error('the schema accepted it');
    })();
    expect(isPathwardenError(expected)).toBe(true);
    await expect(readTopologyFile(path)).rejects.toEqual(expected);
    const error = await readTopologyFile(path).catch((caught: unknown) => caught);
    expect(isPathwardenError(error) && error.code).toBe('PW_ERR_TOPOLOGY_INVALID');
    if (text !== '') expect(isPathwardenError(error) && error.problems[0]?.location?.file).toBe(path);
  });

  test('an unreadable file is the schema path error', async () => {
    await expect(readTopologyFile(join(dir, 'missing.yaml'))).rejects.toMatchObject({
      code: 'PW_ERR_TOPOLOGY_INVALID',
    });
  });

  test('defaults are filled in as the schema fills them', () => {
    expect(acceptTopology({})).toEqual(topologySchema.parse({}));
    expect(acceptTopology({ default: 'unknown' })).toEqual(topologySchema.parse({ default: 'unknown' }));
  });
});
