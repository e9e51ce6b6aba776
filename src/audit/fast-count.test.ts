// The audit's fast path (flow-counter.ts: Squid native and Zeek conn lines counted without their
// records) against the general path (every record built and classified: fastCount false): the
// JSON reports must be byte-identical on every fixture and sample, alone and together, and on
// logs made to exercise the fast path's edges (repeated keys, leaks past the evidence limit, a full
// destination table, bad lines between good ones, DNS answers, several hierarchy codes).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseCatalog } from '../catalog/load.js';
import { Policy } from '../policy/policy.js';
import type { AuditOptions } from './run-audit.js';
import { fixtureFolders, fixtureInputs, jsonOf, writeDnsAnswerLog } from './test-reports.js';

const both = async (options: Partial<AuditOptions> & { inputs: string[] }) => {
  const general = await jsonOf({ ...options, fastCount: false });
  const fast = await jsonOf({ ...options, fastCount: true });
  return { general, fast };
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-fast-count-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A Squid native log that repeats a few keys with every hierarchy shape the fast path reads. */
function squidLog(lines: number): string {
  const hosts = [
    'api.powerbi.com',
    'App.PowerBI.com',
    'www.example.com',
    'bad_host!',
    'login.microsoftonline.com',
  ];
  const hierarchies = [
    'FIRSTUP_PARENT/10.9.0.1',
    'FIRSTUP_PARENT/10.9.0.2',
    'HIER_DIRECT/13.73.248.9',
    'HIER_DIRECT/93.184.216.34',
    'DIRECT/175.16.199.7',
    'ORIGINAL_DST/10.1.2.3',
    'CARP/unknown-peer',
    'HIER_NONE/-',
    'HIER_DIRECT/2001:db8::1',
  ];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const host = hosts[i % hosts.length] as string;
    const hierarchy = hierarchies[(i * 7) % hierarchies.length] as string;
    const time = (1_700_000_000 + i * 13.25).toFixed(3);
    if (i % 97 === 50) out.push(`${time} garbage line`);
    else if (i % 3 === 0)
      out.push(
        `${time} ${i % 500} 10.1.0.${i % 7} TCP_TUNNEL/200 ${i * 11} CONNECT ${host}:${i % 30 === 0 ? 8443 : 443} - ${hierarchy} -`,
      );
    else
      out.push(
        `${time} ${i % 500} 10.1.0.${i % 7} TCP_MISS/200 ${i * 3} GET http://${host}/p?x=${i} - ${hierarchy} text/html`,
      );
  }
  return `${out.join('\n')}\n`;
}

/** A Zeek conn log (TSV) with a few responders, repeated, and some records the fast path declines. */
function zeekLog(lines: number): string {
  const fields = 'ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto duration orig_bytes resp_bytes'.split(
    ' ',
  );
  const out = ['#separator \\x09', '#path\tconn', `#fields\t${fields.join('\t')}`];
  const responders = ['13.73.248.20', '52.123.1.10', '10.9.9.9', '93.184.216.34', '2001:db8::2', '013.1.1.1'];
  for (let i = 0; i < lines; i++) {
    const responder = responders[(i * 5) % responders.length] as string;
    const proto = i % 11 === 0 ? 'icmp' : i % 4 === 0 ? 'udp' : 'tcp';
    const duration = i % 13 === 0 ? '-' : (i / 7).toFixed(6);
    const up = i % 17 === 0 ? '-' : String(i * 5);
    const down = i % 89 === 0 ? 'x' : String(i * 9);
    out.push(
      [
        (1_700_000_000 + i * 3.5).toFixed(6),
        `C${i}`,
        `10.1.0.${i % 9}`,
        40000 + i,
        responder,
        i % 3 === 0 ? 53 : 443,
        proto,
        duration,
        up,
        down,
      ].join('\t'),
    );
    if (i % 97 === 5) out.push(...zeekOddLines(i));
  }
  return `${out.join('\n')}\n`;
}

/**
 * Lines the byte scanner of the Zeek reader must read as the string path does: short and bad
 * records, CRLF, a JSON record, a section with another separator, field order and unset marker.
 */
function zeekOddLines(i: number): string[] {
  const ts = (1_700_000_000 + i * 3.5).toFixed(6);
  const fields = 'ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto duration orig_bytes resp_bytes';
  return [
    `${ts}\tCshort\t10.1.0.1\t40000\t52.123.1.10`,
    `x${ts}\tCbad\t10.1.0.1\t40000\t52.123.1.10\t443\ttcp\t1.0\t1\t2`,
    `${ts}\tCcrlf\t10.1.0.1\t40000\t52.123.1.10\t443\ttcp\t1.0\t1\t2\r`,
    `{"ts":${ts},"uid":"Cjson","id.orig_h":"10.1.0.2","id.orig_p":1,"id.resp_h":"13.73.248.20","id.resp_p":443,"proto":"tcp","orig_bytes":5}`,
    '#separator |',
    `#path|conn`,
    `#fields|${fields.split(' ').join('|')}`,
    `${ts}|Cpipe|10.1.0.3|40001|13.73.248.20|443|tcp|2.5|10|20`,
    `${ts}|Cpipe2|10.1.0.3|40001|93.184.216.34|443|tcp|2.5|10|20`,
    '#separator \\x09',
    '#path\tconn',
    '#unset_field\t(none)',
    `#fields\t${fields.split(' ').reverse().join('\t')}`,
    ['30', '(none)', '2.000000', 'tcp', '443', '52.123.1.10', '40002', '10.1.0.4', 'Crev', ts].join('\t'),
    ['30', '7', '(none)', 'udp', '(none)', '93.184.216.34', '40002', '10.1.0.4', 'Crev2', ts].join('\t'),
    ['30', '7', '1.5', 'tcp', '443', '-', '40002', '10.1.0.4', 'Crev3', ts].join('\t'),
    '#separator \\x09',
    '#path\tconn',
    `#fields\t${fields.split(' ').join('\t')}`,
  ];
}

describe('fast path of the audit', () => {
  test.each(fixtureInputs())('same JSON report as the general path: %s', async (path) => {
    const { general, fast } = await both({ inputs: [path] });
    expect(fast).toBe(general);
  });

  test('same JSON report on all fixtures audited together', async () => {
    const { general, fast } = await both({ inputs: fixtureFolders() });
    expect(fast).toBe(general);
    expect(general).toContain('"flows"');
  });

  test('same JSON report on repeated keys, leak and destination limits, bad lines', async () => {
    const squid = join(dir, 'access.log');
    const zeek = join(dir, 'conn.log');
    writeFileSync(squid, squidLog(3000));
    writeFileSync(zeek, zeekLog(3000));
    for (const limits of [{}, { leaks: 3, destinations: 4, problems: 5 }]) {
      for (const inputs of [[squid], [zeek], [squid, zeek]]) {
        const { general, fast } = await both({ inputs, limits });
        expect(fast).toBe(general);
        expect(JSON.parse(general).flows).toBeGreaterThan(2000);
      }
    }
  });

  test('same JSON report when the fast path remembers few keys and starts over mid-input', async () => {
    // Many responders, each on several ports, and many names: with a table of 7 keys the counter
    // adds its sums to the aggregate and forgets its keys every few lines; with 600 its tables
    // grow from their first size (1,024 places, half full) and then fill; with the default they grow.
    const squid = join(dir, 'many-keys.log');
    const zeek = join(dir, 'many-keys-conn.log');
    let names = 0;
    const squidText = squidLog(4000).replace(
      /www\.example\.com/g,
      () => `h${(names++ * 7) % 700}.example.com`,
    );
    writeFileSync(squid, squidText);
    const zeekText = zeekLog(2000)
      .split('\n')
      .map((line, i) =>
        line.startsWith('1') && i % 2 === 0
          ? line.replace(
              /\t(52\.123\.1\.10|10\.9\.9\.9)\t\d+\t/,
              `\t52.123.${i % 7}.${i % 211}\t${440 + (i % 5)}\t`,
            )
          : line,
      )
      .join('\n');
    writeFileSync(zeek, zeekText);
    for (const fastCountKeys of [7, 600, 1 << 15]) {
      const general = await jsonOf({ inputs: [squid, zeek], fastCount: false });
      const fast = await jsonOf({ inputs: [squid, zeek], fastCount: true, fastCountKeys });
      expect(fast).toBe(general);
      expect(JSON.parse(general).flows).toBeGreaterThan(3500);
    }
  });

  test('same JSON report under a catalog whose rules depend on the port and on prefixes', async () => {
    const text = `schema: pathwarden.catalog/v1\nname: ports\nversion: '1'\nrules:
  - { id: tls-only, components: all, activity: tls, hosts: [api.powerbi.com], ports: [443], path: expressroute, data: service-data, source: s1 }
  - { id: other-ports, components: all, activity: any, hosts: ['*.powerbi.com'], path: internet, data: web-content, source: s2 }
  - { id: v4, components: all, activity: v4, hosts: [], prefixes: [13.73.248.0/24], ports: [443], path: expressroute, data: service-data, source: s3 }
`;
    const parsed = parseCatalog(text, 'ports.yaml');
    if (!parsed.catalog) throw new Error(JSON.stringify(parsed.problems));
    const policy = Policy.compile(parsed.catalog);
    const squid = join(dir, 'ports.log');
    const zeek = join(dir, 'ports-conn.log');
    writeFileSync(squid, squidLog(600));
    writeFileSync(zeek, zeekLog(600));
    const { general, fast } = await both({ inputs: [squid, zeek], policy });
    expect(fast).toBe(general);
    expect(general).toContain('tls-only');
    expect(general).toContain('other-ports');
  });

  test('DNS answers read first are honoured (the fast path steps aside)', async () => {
    const dns = join(dir, 'dnsmasq.log');
    writeDnsAnswerLog(dns, 'api.powerbi.com', '52.123.1.10');
    const zeek = join(dir, 'conn-dns.log');
    writeFileSync(zeek, zeekLog(500));
    const { general, fast } = await both({ inputs: [dns, zeek] });
    expect(fast).toBe(general);
  });
});
