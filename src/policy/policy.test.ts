import { describe, expect, test } from 'vitest';
import { parseCatalog } from '../catalog/load.js';
import type { Catalog } from '../catalog/model.js';
import { canonicalPlainName } from '../match/host.js';
import { ipv4Word, readIPv6 } from '../match/ip.js';
import { Policy } from './policy.js';
import { parseTarget, parseTargetGeneral } from './target.js';
import { verdictOf } from './verdict.js';

function catalogOf(rulesYaml: string): Catalog {
  const text = `schema: pathwarden.catalog/v1\nname: test\nversion: '1'\nrules:\n${rulesYaml}`;
  const result = parseCatalog(text, 'test.yaml');
  if (!result.catalog || result.problems.length > 0) throw new Error(JSON.stringify(result.problems));
  return result.catalog;
}

const policy = Policy.compile(
  catalogOf(`
  - { id: portal, components: all, activity: portal, hosts: ['*.powerbi.com', app.powerbi.com], path: either, data: service-data, source: s1 }
  - { id: api, components: all, activity: api, hosts: [api.powerbi.com], path: expressroute, data: service-data, source: s2 }
  - { id: support, components: [saas], activity: support, hosts: [support.powerbi.com], path: internet, data: web-content, source: s3 }
  - { id: deep, components: all, activity: deep, hosts: ['*.eu.powerbi.com'], path: expressroute, data: service-data, source: s4 }
  - { id: maps-desktop, components: [desktop], activity: maps, hosts: ['*.powerbi.com'], path: internet, data: map-data, source: s5 }
  - { id: unicode, components: all, activity: idn, hosts: ['bücher.example'], path: internet, data: web-content, source: s6 }
  - { id: v4, components: all, activity: v4, hosts: [], prefixes: [13.73.248.0/24], path: expressroute, data: service-data, source: s7 }
  - { id: v4-narrow, components: all, activity: v4n, hosts: [], prefixes: [13.73.248.4/31], path: internet, data: service-data, source: s8 }
  - { id: v6, components: all, activity: v6, hosts: [], prefixes: ['2001:db8:e5::/48'], path: expressroute, data: service-data, source: s9 }
  - { id: tls-only, components: all, activity: tls, hosts: [ports.example.com], ports: [443], path: expressroute, data: service-data, source: s10 }
  - { id: ports-any, components: all, activity: any, hosts: ['*.example.com'], path: internet, data: web-content, source: s11 }
  - { id: mobile, components: [mobile], activity: mobile, hosts: [], path: either, data: none, source: s12 }
`),
);

const ruleOf = (target: string, options = {}) => policy.decide(target, options).rule?.id ?? null;

describe('host patterns (docs/model.md)', () => {
  test('matching is case-insensitive and ignores one trailing dot', () => {
    expect(ruleOf('API.PowerBI.COM')).toBe('api');
    expect(ruleOf('api.powerbi.com.')).toBe('api');
    expect(() => policy.decide('api.powerbi.com..')).toThrow(/not a valid host name/);
  });

  test('Unicode names match in their punycode form', () => {
    expect(ruleOf('bücher.example')).toBe('unicode');
    expect(ruleOf('BÜCHER.example')).toBe('unicode');
    expect(ruleOf('xn--bcher-kva.example')).toBe('unicode');
  });

  test('*.suffix matches any depth but never the suffix itself', () => {
    expect(ruleOf('app.powerbi.com')).toBe('portal');
    expect(ruleOf('x.app.powerbi.com')).toBe('portal');
    expect(ruleOf('powerbi.com')).toBeNull();
  });

  test('label-aligned: evilpowerbi.com is not *.powerbi.com', () => {
    expect(ruleOf('evilpowerbi.com')).toBeNull();
    expect(ruleOf('app.evilpowerbi.com')).toBeNull();
    expect(ruleOf('powerbi.com.evil.net')).toBeNull();
  });

  test('most specific wins: exact, then longest wildcard suffix', () => {
    expect(ruleOf('api.powerbi.com')).toBe('api');
    expect(ruleOf('x.api.powerbi.com')).toBe('portal');
    expect(ruleOf('wabi.eu.powerbi.com')).toBe('deep');
    expect(ruleOf('eu.powerbi.com')).toBe('portal');
  });

  test('a rule for the flow component beats one for all components at equal specificity', () => {
    expect(ruleOf('app.powerbi.com', { component: 'desktop' })).toBe('portal'); // exact still beats wildcard
    expect(ruleOf('x.powerbi.com', { component: 'desktop' })).toBe('maps-desktop');
    expect(ruleOf('x.powerbi.com', { component: 'saas' })).toBe('portal');
    expect(ruleOf('support.powerbi.com', { component: 'paas' })).toBe('portal');
    expect(ruleOf('support.powerbi.com', { component: 'saas' })).toBe('support');
  });

  test('URLs, host:port and bracketed forms reduce to the host', () => {
    expect(policy.decide('https://API.powerbi.com:8443/v1.0/myorg?x=1').host).toBe('api.powerbi.com');
    expect(policy.decide('https://API.powerbi.com:8443/v1.0/myorg').port).toBe(8443);
    expect(policy.decide('https://app.powerbi.com/groups/me').port).toBe(443);
    expect(policy.decide('app.powerbi.com/groups/me').host).toBe('app.powerbi.com');
    expect(policy.decide('api.powerbi.com:443').port).toBe(443);
  });
});

describe('ports', () => {
  test('a port-restricted rule applies to its ports and to flows whose port is unknown', () => {
    expect(ruleOf('ports.example.com', { port: 443 })).toBe('tls-only');
    expect(ruleOf('ports.example.com')).toBe('tls-only');
  });
  test('on another port the next most specific rule applies', () => {
    expect(ruleOf('ports.example.com', { port: 80 })).toBe('ports-any');
    expect(ruleOf('http://ports.example.com/')).toBe('ports-any');
  });
});

describe('IP prefixes', () => {
  test('longest prefix wins (IPv4)', () => {
    expect(ruleOf('13.73.248.9')).toBe('v4');
    expect(ruleOf('13.73.248.5')).toBe('v4-narrow');
    expect(ruleOf('13.73.249.1')).toBeNull();
  });
  test('IPv6 prefixes, bracketed and URL forms', () => {
    expect(ruleOf('2001:db8:e5::10')).toBe('v6');
    expect(ruleOf('[2001:db8:e5::10]:443')).toBe('v6');
    expect(ruleOf('https://[2001:DB8:E5::10]/')).toBe('v6');
    expect(ruleOf('2001:db8:e6::10')).toBeNull();
  });
  test('IPv4-mapped IPv6 and numeric host forms are the IPv4 address', () => {
    expect(ruleOf('::ffff:13.73.248.9')).toBe('v4');
    expect(policy.decide('127.1').host).toBe('127.0.0.1');
    expect(policy.decide('0x7f.1').host).toBe('127.0.0.1');
    expect(policy.decide('[::ffff:127.0.0.1]').host).toBe('127.0.0.1');
  });
});

describe('verdicts', () => {
  test('the verdict table of docs/model.md', () => {
    expect(verdictOf('expressroute', 'expressroute')).toBe('ok');
    expect(verdictOf('expressroute', 'internet')).toBe('leak');
    expect(verdictOf('expressroute', 'unknown')).toBe('unverified');
    expect(verdictOf('internet', 'expressroute')).toBe('ok');
    expect(verdictOf('internet', 'internet')).toBe('exception');
    expect(verdictOf('internet', 'unknown')).toBe('unverified');
    expect(verdictOf('either', 'expressroute')).toBe('ok');
    expect(verdictOf('either', 'internet')).toBe('exception');
    expect(verdictOf('either', 'unknown')).toBe('unverified');
    expect(verdictOf(undefined, 'expressroute')).toBe('unknown');
    expect(verdictOf(undefined, 'internet')).toBe('unknown');
    expect(verdictOf(undefined, 'unknown')).toBe('unknown');
  });

  test('decide() applies it with the actual path', () => {
    expect(policy.decide('api.powerbi.com', { actualPath: 'internet' }).verdict).toBe('leak');
    expect(policy.decide('api.powerbi.com', { actualPath: 'expressroute' }).verdict).toBe('ok');
    const noted = policy.decide('support.powerbi.com', { actualPath: 'expressroute' });
    expect(noted.verdict).toBe('ok');
    expect(noted.reason).toContain('(noted)');
    expect(policy.decide('support.powerbi.com', { actualPath: 'internet' }).verdict).toBe('exception');
    expect(policy.decide('nowhere.example.org', { actualPath: 'internet' }).verdict).toBe('unknown');
  });

  test('a component the source does not cover is not-covered whatever the path', () => {
    for (const actualPath of ['expressroute', 'internet', 'unknown'] as const) {
      const decision = policy.decide('api.powerbi.com', { component: 'mobile', actualPath });
      expect(decision.verdict).toBe('not-covered');
      expect(decision.path).toBe('not-covered');
      expect(decision.rule?.id).toBe('mobile');
    }
  });

  test('not-covered decisions share their rule and reason, as matched decisions do', () => {
    // One RuleRef per component, not one per decision: `explain --component mobile -` serializes
    // the rule and reason once instead of once per line.
    const a = policy.decide('api.powerbi.com', { component: 'mobile' });
    const b = policy.decide('203.0.113.7', { component: 'mobile', actualPath: 'internet' });
    expect(b.rule).toBe(a.rule);
    expect(b.reason).toBe(a.reason);
    expect(a.rule).toEqual({
      id: 'mobile',
      activity: a.rule?.activity,
      source: a.rule?.source,
      note: a.rule?.note ?? null,
      path: a.rule?.path,
      matched: null,
    });
    expect(a.reason).toBe(
      `The catalog's source does not cover the mobile component, so no path is expected for its traffic (${a.rule?.source}).`,
    );
  });
});

describe('invalid targets', () => {
  test.each(['', 'bad host!', 'http://', '1::2::3', '[::1', 'a.com:99999', 'https://exa mple.com/'])(
    '%j',
    (target) => {
      expect(() => policy.decide(target)).toThrow(expect.objectContaining({ code: 'PW_ERR_TARGET_INVALID' }));
    },
  );
});

describe('decide(text) shortcuts agree with the general path', () => {
  // Texts near every boundary the shortcuts draw: case, trailing dots, label and name lengths,
  // numeric last labels (IPv4 in its legacy forms), ports, URLs, brackets, spaces, Unicode.
  const alphabet = [
    'a',
    'Z',
    'x',
    'powerbi',
    'Api',
    '.com',
    '.net',
    '0',
    '1',
    '9',
    '.',
    '.',
    '-',
    '_',
    ':',
    '/',
    '[',
    ']',
    ' ',
    'é',
    '0x',
    '255',
    '13.73.248.',
  ];
  const crafted = [
    '',
    '.',
    'a.',
    'a..b',
    'API.PowerBI.COM.',
    '13.73.248.4',
    '13.73.248.04',
    '13.73.248.4.',
    '1.2.3',
    '0x7f.1',
    'a.0x1f',
    'a.1b',
    '1e100.net',
    ` ${'a'.repeat(10)}.com`,
    `${'a'.repeat(63)}.com`,
    `${'a'.repeat(64)}.com`,
    `${'abcdefghi.'.repeat(25)}com`,
    `${'abcdefghi.'.repeat(24)}abcdefghijk.`,
    'api.powerbi.com:443',
    'https://api.powerbi.com/x',
    '[2001:db8:e5::1]',
    'bücher.example',
    // Bare IPv6 literals (decideText's third shortcut) and texts next to them.
    '2001:db8::1',
    '2001:DB8:0:0:0:0:0:1',
    '::',
    '::1',
    ' ::1',
    '::1 ',
    '::ffff:20.37.195.66',
    '::FFFF:14.1.2.3',
    '::ffff:1.2.3',
    '::ffff:0:1.2.3.4',
    '0:0:0:0:0:ffff:1402:c342',
    '2603:1030:f05::49',
    '2603:1030:f05::49.',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    'fe80::1%eth0',
    '2001:db8::1/64',
    '2001:db8::1:443',
    '[2001:db8::1]',
    '[::ffff:20.37.195.66]',
    '[::1',
    '::1]',
    '[::1]:443',
    '[[::1]]',
    '[]',
    '[ ::1]',
    '[::1] ',
    '[::1]]',
  ];
  let seed = 1234567;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    return (seed >>> 8) / 2 ** 24;
  };
  const texts = [...crafted];
  for (let i = 0; i < 20_000; i++) {
    let text = '';
    const parts = 1 + Math.floor(random() * 12);
    for (let j = 0; j < parts; j++) text += alphabet[Math.floor(random() * alphabet.length)];
    texts.push(text);
  }
  // IPv6-like texts: 1-8 groups, a `::` somewhere or none, a dotted-quad tail (inside the
  // catalog's prefixes) or none, mixed case, and now and then a character no address has.
  const groups = ['2603', '1030', 'F05', 'ffff', 'FFFF', '0', '49', '1'];
  const stray = [' ', 'g', '.', '[', ']', '%', '/', ':'];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  let ipv6Like = 0;
  for (let i = 0; i < 5_000; i++) {
    const parts: string[] = [];
    const count = 1 + Math.floor(random() * 8);
    for (let j = 0; j < count; j++) parts.push(pick(groups));
    const gap = random() < 0.6 ? Math.floor(random() * (count + 1)) : -1;
    let text = gap < 0 ? parts.join(':') : `${parts.slice(0, gap).join(':')}::${parts.slice(gap).join(':')}`;
    if (random() < 0.3) text += `${text.endsWith(':') ? '' : ':'}20.37.195.66`;
    if (random() < 0.25) text = `[${text}]`;
    if (random() < 0.15) {
      const at = Math.floor(random() * (text.length + 1));
      text = text.slice(0, at) + pick(stray) + text.slice(at);
    }
    texts.push(text);
    const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
    if (readIPv6(inner, 0, inner.length, new Uint8Array(16))) ipv6Like++;
  }
  const outcome = (run: () => unknown) => {
    try {
      return run();
    } catch (error) {
      return { threw: (error as Error).message };
    }
  };

  test('parseTarget equals parseTargetGeneral, and decide(text) and decideText equal decideTarget of it, for every text', () => {
    let shortcuts = 0;
    for (const text of texts) {
      const general = parseTargetGeneral(text);
      expect(parseTarget(text), JSON.stringify(text)).toStrictEqual(general);
      if (canonicalPlainName(text) !== undefined || ipv4Word(text) >= 0) shortcuts++;
      for (const options of [
        {},
        { component: 'desktop' as const, port: 443, actualPath: 'internet' as const },
      ]) {
        const expected = outcome(() => {
          if (typeof general === 'string') throw new Error(general);
          return policy.decideTarget(general, options);
        });
        expect(
          outcome(() => policy.decide(text, options)),
          JSON.stringify(text),
        ).toStrictEqual(expected);
        // decideText: the same decision, or the problem sentence instead of the error.
        expect(policy.decideText(text, options), JSON.stringify(text)).toStrictEqual(
          typeof general === 'string' ? general : expected,
        );
      }
    }
    // The random texts reach the shortcuts often enough for the comparison to mean something.
    expect(shortcuts).toBeGreaterThan(1_500);
    expect(ipv6Like).toBeGreaterThan(300);
  });

  test('options read while a shortcut holds its scratch address cannot change the decision', () => {
    // A port getter that decides other addresses (a caller's proxy object, a logging wrapper):
    // the shortcuts keep the address in shared scratch bytes, so the options are read first.
    const reentrant = {
      get port() {
        policy.decideText('2001:db9::1');
        policy.decideText('9.9.9.9');
        return undefined;
      },
    };
    for (const text of ['2001:db8:e5::7', '[2001:db8:e5::7]', '::ffff:13.73.248.4', '13.73.248.9']) {
      const general = parseTargetGeneral(text);
      if (typeof general === 'string') throw new Error(general);
      const expected = policy.decideTarget(general, {});
      expect(expected.rule).not.toBeNull();
      expect(policy.decideText(text, reentrant), text).toStrictEqual(expected);
    }
  });
});
