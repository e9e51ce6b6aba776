import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Policy } from '../policy/policy.js';
import { renderCatalogDocs } from './docs.js';
import { loadBuiltinCatalog, packageRoot, parseCatalog, readCatalogFile, resolveCatalog } from './load.js';
import { components } from './model.js';

const root = packageRoot();
const { catalog } = loadBuiltinCatalog();
const policy = Policy.compile(catalog);

// The seed's destination tables ("Power BI and ExpressRoute", 2018-11-28), host by host, with the
// path each host gets under the reading decisions of docs/model.md.
const seedTables: { row: string; component: 'saas' | 'paas'; hosts: Record<string, string> }[] = [
  {
    row: 'SaaS: Landing page (prior to login)',
    component: 'saas',
    hosts: {
      'maxcdn.bootstrapcdn.com': 'internet',
      'ajax.aspnetcdn.com': 'internet',
      'netdna.bootstrapcdn.com': 'internet',
      'cdn.optimizely.com': 'internet',
      'google-analytics.com': 'internet',
    },
  },
  {
    row: 'SaaS: Login',
    component: 'saas',
    hosts: {
      'x.mktoresp.com': 'internet',
      'x.aadcdn.microsoftonline-p.com': 'internet',
      'x.msecnd.com': 'internet',
      'x.localytics.com': 'internet',
      'ajax.aspnetcdn.com': 'internet',
    },
  },
  {
    row: 'SaaS: Dashboard, report, dataset management (includes maps and geocoding)',
    component: 'saas',
    hosts: {
      'x.localytics.com': 'internet',
      'x.virtualearth.net': 'internet',
      'platform.bing.com': 'internet',
      'powerbi.microsoft.com': 'internet',
      // Telemetry is "sent over the public Internet and over ExpressRoute" (review of issue 9).
      'c.microsoft.com': 'either',
      'app.powerbi.com': 'either',
      'x.powerbi.com': 'either',
      'dc.services.visualstudio.com': 'either',
    },
  },
  {
    row: 'SaaS: Support',
    component: 'saas',
    hosts: {
      'support.powerbi.com': 'internet',
      'powerbi.uservoice.com': 'internet',
      'go.microsoft.com': 'internet',
    },
  },
  { row: 'PaaS: Public embed (telemetry)', component: 'paas', hosts: { 'c1.microsoft.com': 'either' } },
  { row: 'PaaS: Custom visuals (CDN)', component: 'paas', hosts: { 'x.azureedge.net': 'internet' } },
];

describe('built-in catalog', () => {
  test('loads and validates', () => {
    expect(catalog.rules.length).toBeGreaterThan(25);
    expect(catalog.name).toBe('powerbi');
  });

  for (const table of seedTables) {
    test(`seed table row "${table.row}"`, () => {
      for (const [host, path] of Object.entries(table.hosts)) {
        const decision = policy.decide(host, { component: table.component });
        expect(decision.path, host).toBe(path);
        expect(decision.rule?.source, host).toMatch(/seed § (SaaS|PaaS|Overall)/);
      }
    });
  }

  test('service endpoints the seed implies ride the circuit for every covered component', () => {
    for (const component of components.filter((c) => c !== 'mobile')) {
      for (const host of [
        'login.microsoftonline.com',
        'api.powerbi.com',
        'wabi-west-europe.analysis.windows.net',
        'x.pbidedicated.windows.net',
      ]) {
        expect(policy.decide(host, { component }).path, `${component} ${host}`).toBe('expressroute');
      }
    }
  });

  test('the PowerBI service tag ranges ride the circuit', () => {
    expect(policy.decide('13.73.248.4').rule?.id).toBe('service.powerbi-servicetag');
    expect(policy.decide('13.73.248.4').path).toBe('expressroute');
  });

  test('the issue examples', () => {
    const landing = policy.decide('maxcdn.bootstrapcdn.com');
    expect(landing.path).toBe('internet');
    expect(landing.rule?.id).toBe('saas.landing-page');
    expect(landing.rule?.source).toContain('Landing page');
    expect(policy.decide('https://app.powerbi.com/groups/me').path).toBe('either');
    expect(policy.decide('app.powerbi.com', { component: 'mobile' }).path).toBe('not-covered');
  });

  test('Desktop and PaaS exceptions', () => {
    expect(policy.decide('t0.ssl.ak.dynamic.tiles.virtualearth.net', { component: 'desktop' }).rule?.id).toBe(
      'desktop.maps',
    );
    expect(policy.decide('x.azureedge.net', { component: 'saas' }).path).toBe('unknown');
    expect(policy.decide('visuals.azureedge.net', { component: 'saas' }).path).toBe('internet');
    expect(policy.decide('dc.services.visualstudio.com', { component: 'desktop' }).rule?.id).toBe(
      'overall.telemetry',
    );
  });

  test('rules without fixed destinations are listed for their component', () => {
    const ids = (component: 'saas' | 'desktop' | 'paas' | 'gateway') =>
      policy.rulesWithoutDestinations(component).map((rule) => rule.id);
    expect(ids('saas')).toEqual(
      expect.arrayContaining([
        'saas.custom-links',
        'saas.cortana',
        'saas.bing-news',
        'saas.app-provider-pages',
      ]),
    );
    expect(ids('desktop')).toEqual(expect.arrayContaining(['desktop.update-check', 'desktop.get-data-web']));
    expect(ids('paas')).toEqual(expect.arrayContaining(['paas.third-party-visuals']));
    expect(ids('gateway')).toEqual(expect.arrayContaining(['gateway.compliant']));
    expect(ids('desktop')).not.toContain('saas.cortana');
  });

  test('every rule is carried by a statement or cites a public document other than the seed', () => {
    const carried = new Set(catalog.statements.flatMap((statement) => statement.rules));
    for (const rule of catalog.rules) {
      if (!carried.has(rule.id)) expect(rule.source, rule.id).not.toMatch(/^seed/);
    }
  });

  test('every statement of the seed is mapped (33 sentence groups and table rows)', () => {
    expect(catalog.statements).toHaveLength(33);
    for (const statement of catalog.statements)
      expect(statement.rules.length, statement.ref).toBeGreaterThan(0);
  });

  test('docs/catalog.md is generated from the catalog (run `npm run docs:catalog` when this fails)', () => {
    const committed = readFileSync(join(root, 'docs', 'catalog.md'), 'utf8');
    expect(committed).toBe(renderCatalogDocs(catalog));
  });
});

describe('catalog validation', () => {
  test('reports every problem of a broken catalog with its location', () => {
    const { problems } = readCatalogFile(join(root, 'test/fixtures/catalogs/broken.yaml'));
    const lines = problems.map(
      (problem) => `${problem.location?.line} ${problem.location?.field} ${problem.message}`,
    );
    expect(lines).toEqual([
      expect.stringMatching(/^20 rules\[2\]\.components\[1\] .*saas.*mobile/),
      expect.stringMatching(/^23 rules\[2\]\.path .*expressroute.*either/),
    ]);
  });

  test('semantic problems: duplicate ids and malformed patterns (once the shape is right)', () => {
    const text = readFileSync(join(root, 'test/fixtures/catalogs/broken.yaml'), 'utf8')
      .replace('tablet', 'desktop')
      .replace('sideways', 'internet');
    const { problems } = parseCatalog(text, 'broken.yaml');
    expect(problems.map((p) => `${p.location?.line} ${p.location?.field} ${p.message}`)).toEqual([
      '12 rules[1].id duplicate rule id "ok-rule" (first defined at line 5)',
      '15 rules[1].hosts[0] host pattern "*cdn.example.com" has a wildcard that is not the whole first label (only "*.suffix" is supported)',
    ]);
  });

  test('conflicting rules of equal specificity are an error; prefixes with host bits too', () => {
    const { problems } = readCatalogFile(join(root, 'test/fixtures/catalogs/conflict.yaml'));
    const messages = problems.map((problem) => `${problem.location?.line}: ${problem.message}`);
    expect(messages).toContainEqual(expect.stringContaining('"203.0.113.0/24" is not a valid host name'));
    expect(messages).toContainEqual(expect.stringMatching(/^16: .*host bits set/));
    expect(messages).toContainEqual(
      expect.stringMatching(
        /^12: rule "b" \(expressroute\) conflicts with rule "a" \(internet\) at .*conflict\.yaml:5: both give \*\.example\.com for component saas/,
      ),
    );
  });

  test('a user catalog extends the built-in one; same id replaces', () => {
    const merged = resolveCatalog({ files: [join(root, 'test/fixtures/catalogs/extra.yaml')] });
    const mergedPolicy = Policy.compile(merged.catalog);
    expect(mergedPolicy.decide('ns.servicebus.windows.net', { component: 'gateway' }).rule?.id).toBe(
      'contoso.gateway-relay',
    );
    expect(mergedPolicy.decide('support.powerbi.com').path).toBe('expressroute');
    expect(merged.catalog.rules.filter((rule) => rule.id === 'saas.support')).toHaveLength(1);
    expect(merged.catalog.rules.length).toBe(catalog.rules.length + 1);
  });

  test('a user rule conflicting with a built-in one is reported, not resolved', () => {
    expect(() =>
      resolveCatalog({ files: [join(root, 'test/fixtures/catalogs/overlay-conflict.yaml')] }),
    ).toThrow(expect.objectContaining({ code: 'PW_ERR_CATALOG_INVALID' }));
  });

  test('YAML syntax errors are located', () => {
    const { problems } = parseCatalog('schema: pathwarden.catalog/v1\nrules: [\n  - a\n', 'bad.yaml');
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.location?.file).toBe('bad.yaml');
    expect(problems[0]?.location?.line).toBeGreaterThan(0);
  });
});
