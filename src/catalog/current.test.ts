// Issue 9, "Done when": `explain --json` gives a non-unknown path, with a current source, for every
// endpoint the first paragraph names (Fabric, OneLake, SQL, Power Query online, the gateway
// relay, today's sign-in hosts, downloads, maps, AppSource and the Office store).
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { runCli } from '../cli/program.js';
import { loadBuiltinCatalog } from './load.js';

/** Sources of the current Microsoft lists (catalog/powerbi.yaml `sources`), each with a date or URL. */
const currentSources = [
  'fabric-allowlist',
  'fabric-pbi-allowlist',
  'gateway-communication',
  'fabric-private-links',
  'm365-endpoints',
];

const named: [target: string, port?: number][] = [
  ['app.fabric.microsoft.com'],
  ['onelake.dfs.fabric.microsoft.com'],
  ['onelake.dfs.fabric.microsoft.com', 1443],
  ['myws.datawarehouse.fabric.microsoft.com', 1433],
  ['myws.datamart.fabric.microsoft.com', 1433],
  ['mashup.prod.powerquery.microsoft.com'],
  ['wabi-west-europe-relay.servicebus.windows.net', 443],
  ['wabi-west-europe-relay.servicebus.windows.net', 5671],
  ['wabi-west-europe-relay.servicebus.windows.net', 5672],
  ['wabi-west-europe-relay.servicebus.windows.net', 9350],
  ['wabi-west-europe-relay.servicebus.windows.net', 9354],
  ['westeurope.frontend.clouddatahub.net'],
  ['gatewayadminportal.azure.com'],
  ['login.windows.net'],
  ['aadcdn.msauth.net'],
  ['logincdn.msauth.net'],
  ['aadcdn.msftauth.net'],
  ['graph.microsoft.com'],
  ['download.microsoft.com'],
  ['atlas.microsoft.com'],
  ['bing.com'],
  ['services.arcgis.com'],
  ['js.esri.com'],
  ['appsource.microsoft.com'],
  ['store.office.com'],
];

async function explain(argv: string[]): Promise<Record<string, unknown>> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (chunk) => {
    out += String(chunk);
  });
  const code = await runCli(['explain', '--json', ...argv], {
    stdin: new PassThrough(),
    stdout,
    stderr: new PassThrough(),
  });
  expect(code).toBe(0);
  return JSON.parse(out) as Record<string, unknown>;
}

describe('current Microsoft endpoints', () => {
  const { catalog } = loadBuiltinCatalog();

  test('every current source names its document with a date and a commit or URL', () => {
    for (const key of currentSources) {
      const source = catalog.sources[key];
      expect(source?.url, key).toMatch(/^https:\/\//);
      if (key !== 'm365-endpoints') {
        expect(source?.date, key).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(source?.url, key).toMatch(/\/blob\/[0-9a-f]{40}\//);
      }
    }
  });

  test.each(named.map(([target, port]) => [target, port ?? 'any'] as const))(
    'explain --json %s (port %s) has a path and a current source',
    async (target, port) => {
      const decision = (await explain(port === 'any' ? [target] : ['--port', String(port), target])) as {
        path: string;
        rule: { source: string } | null;
      };
      expect(decision.path).not.toBe('unknown');
      const source = decision.rule?.source ?? '';
      expect(
        currentSources.some((key) => source.startsWith(key)),
        source,
      ).toBe(true);
    },
  );
});
