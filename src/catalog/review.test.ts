// The fixes of the line-by-line review of the built-in catalog against the seed (issue 9, item 2):
// each test pins one reading decision of catalog/powerbi.yaml.
import { describe, expect, test } from 'vitest';
import { Policy } from '../policy/policy.js';
import { loadBuiltinCatalog } from './load.js';
import { components, coversAllComponents } from './model.js';

const { catalog } = loadBuiltinCatalog();
const policy = Policy.compile(catalog);
const covered = components.filter((component) => component !== 'mobile');
const isSeedRule = (source: string) => source.startsWith('seed');

describe('review of the built-in catalog against the seed', () => {
  test('login page assets are an overall exception: every component gets saas.login-page', () => {
    for (const component of covered) {
      for (const host of ['x.mktoresp.com', 'x.aadcdn.microsoftonline-p.com', 'x.msecnd.com']) {
        const decision = policy.decide(host, { component });
        expect(decision.rule?.id, `${component} ${host}`).toBe('saas.login-page');
        expect(decision.path).toBe('internet');
      }
    }
  });

  test('Cortana applies to the gateway like the other SaaS activities', () => {
    expect(policy.rulesWithoutDestinations('gateway').map((rule) => rule.id)).toContain('saas.cortana');
  });

  test('Desktop "Get Data from Web / SaaS" is internet, as the seed says', () => {
    const rule = catalog.rules.find((candidate) => candidate.id === 'desktop.get-data-web');
    expect(rule?.path).toBe('internet');
  });

  test('the three telemetry hosts of the seed follow one decision: either (sent over both)', () => {
    for (const [host, component] of [
      ['dc.services.visualstudio.com', 'saas'],
      ['c.microsoft.com', 'saas'],
      ['c1.microsoft.com', 'paas'],
    ] as const) {
      const decision = policy.decide(host, { component });
      expect(decision.path, host).toBe('either');
      expect(catalog.rules.find((rule) => rule.id === decision.rule?.id)?.data, host).toBe('telemetry');
    }
  });

  test('powerbi.com and www.powerbi.com give the same answer for every component', () => {
    for (const component of covered) {
      const apex = policy.decide('powerbi.com', { component });
      const www = policy.decide('https://www.powerbi.com/', { component });
      expect(www.path, component).toBe(apex.path);
      expect(www.rule?.id, component).toBe(apex.rule?.id);
      expect(apex.path).not.toBe('unknown');
    }
  });

  test('the gateway row maps to every seed rule that carries the gateway component', () => {
    const row = catalog.statements.find((statement) => statement.ref === '§ On-premises data gateway');
    const expected = catalog.rules
      .filter((rule) => isSeedRule(rule.source) && rule.components.includes('gateway'))
      .map((rule) => rule.id);
    expect([...(row?.rules ?? [])].sort()).toEqual([...expected].sort());
  });

  test('no seed statement maps to a rule sourced from a later document', () => {
    const byId = new Map(catalog.rules.map((rule) => [rule.id, rule]));
    for (const statement of catalog.statements) {
      for (const id of statement.rules) {
        const rule = byId.get(id);
        if (rule) expect(rule.source, `${statement.ref} -> ${id}`).toMatch(/^seed/);
      }
    }
  });

  test('SaaS-only rules never silently cover Desktop or PaaS', () => {
    for (const rule of catalog.rules.filter((candidate) => candidate.id.startsWith('saas.'))) {
      if (!coversAllComponents(rule)) expect(rule.components, rule.id).toEqual(['saas', 'gateway']);
    }
  });
});
