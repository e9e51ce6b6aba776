// The WebAssembly scanner of Squid native lines and Zeek conn records (wasm-scan.ts, wasm/scan.ts) against the
// JavaScript fast path it stands in for (wasmScan false) and the general path (fastCount false):
// the JSON reports must be byte-identical on the samples, the demo logs and logs made to hit its
// edges, with one job and with two; each kind of line it declines must come back to JavaScript;
// TimeSeries.addRun must give what add() per flow gives. Needs `npm run build` (dist/src/audit/scan.wasm).
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { packageRoot } from '../catalog/builtin.js';
import { FILE_CHUNK_BYTES } from '../ingest/file-chunks.js';
import type { FlowFacts } from '../ingest/flow-facts.js';
import { PathResolver } from '../policy/path-resolver.js';
import { zeekConnFields, zeekHeader } from './demo/zeek-logs.js';
import { AuditCounter } from './flow-counter.js';
import type { AuditOptions } from './run-audit.js';
import { fixtureInputs, jsonOf, reportTopology, writeDnsAnswerLog } from './test-reports.js';
import { TimeSeries } from './time-series.js';
import { routeRanges, scanModule, WasmScanner } from './wasm-scan.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-wasm-scan-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The report with the scanner, without it (JS fast path) and, unless `general` is false, without
 * any fast path: all equal. (Past 2^53 the JS fast path's sums per key round otherwise than the
 * general path's sums per flow: the scanner must equal the JS fast path it stands in for.)
 */
async function expectSame(
  options: Partial<AuditOptions> & { inputs: string[] },
  general = true,
): Promise<string> {
  // The lines the scanner counted (on this thread) against the lines the JS fast path counts by a
  // learned key without it (count()): the scanner stands in for the latter, so it must count at
  // least 80 % as many, or the reports are equal only because it never ran.
  let scanned = 0;
  const scan = WasmScanner.prototype.scan; // (a test's own spy, if any)
  WasmScanner.prototype.scan = function (this: WasmScanner, ...args: Parameters<WasmScanner['scan']>) {
    const stop = scan.apply(this, args);
    scanned += this.lines;
    return stop;
  };
  let wasm: string;
  try {
    wasm = await jsonOf({ ...options, wasmScan: true });
  } finally {
    WasmScanner.prototype.scan = scan;
  }
  let counted = 0;
  const count = AuditCounter.prototype.count;
  AuditCounter.prototype.count = function (this: AuditCounter, facts: FlowFacts) {
    const taken = count.call(this, facts);
    if (taken) counted++;
    return taken;
  };
  let js: string;
  try {
    js = await jsonOf({ ...options, wasmScan: false });
  } finally {
    AuditCounter.prototype.count = count;
  }
  expect(wasm).toBe(js);
  // (A few lines either way are noise: the first flow of a key, a line with DNS answers known.)
  if (counted >= 100) {
    expect(
      scanned,
      `the scanner counted ${scanned} lines, the JS fast path ${counted}`,
    ).toBeGreaterThanOrEqual(counted * 0.8);
  }
  if (general) expect(wasm).toBe(await jsonOf({ ...options, fastCount: false }));
  return wasm;
}

/** Hosts, hierarchy fields and odd lines: every shape the scanner reads or leaves to JS. */
function squidLog(lines: number, seed = 1, names = 40): string {
  const hierarchies = [
    'FIRSTUP_PARENT/10.9.0.1',
    'FIRSTUP_PARENT/10.9.0.2',
    'DEFAULT_PARENT/10.9.0.2',
    'TIMEOUT_CARP/10.9.0.1',
    'HIER_DIRECT/13.73.248.9',
    'HIER_DIRECT/93.184.216.34',
    'HIER_DIRECT/10.1.2.3',
    'DIRECT/175.16.199.7',
    'ORIGINAL_DST/10.1.2.3',
    'CLOSEST_DIRECT/175.16.199.70',
    'CARP/unknown-peer',
    'HIER_NONE/-',
    'HIER_DIRECT/',
    'HIER_DIRECT/2001:db8::1',
    'HIER_DIRECT/013.73.248.9',
    'WEIRD_CODE/10.9.0.1',
    'HIER_DIRECT/r\u00e9seau.example',
  ];
  const hosts = ['api.powerbi.com', 'App.PowerBI.com', 'login.microsoftonline.com', 'www.example.com'];
  let state = seed;
  const next = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  const odd = [
    (t: string) => `${t} 12 10.1.0.1 TCP_MISS/200 - GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) => `${t} - 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t} 12 10.1.0.1 TCP_MISS/200 123456789012345 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t} 12 10.1.0.1 TCP_MISS/200 12345678901234567890 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t} 99999999999999999 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://[2001:db8::5]:8443/x - HIER_DIRECT/2001:db8::5 -`,
    (t: string) =>
      `${t} 12 fe80::1 TCP_MISS/200 5 GET http://api.powerbi.com:99999/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) => `${t} 12 10.1.0.1 TCP_TUNNEL/200 5 CONNECT api.powerbi.com - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://user@api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/caf\u00e9 - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://b\u00fccher.example/ - HIER_DIRECT/93.184.216.34 -`,
    (t: string) => `${t} 12 10.1.0.1 NONE/400 0 NONE error:invalid-request - HIER_NONE/- -`,
    (t: string) =>
      `${t}    12   10.1.0.1  TCP_MISS/200   7  GET   https://api.powerbi.com:443/p  -  FIRSTUP_PARENT/10.9.0.1  -`,
    (t: string) => `${t} 12 10.1.0.1 TCP_MISS/200 5 GET ftp://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) => `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1`,
    (t: string) => `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/`,
    (t: string) =>
      `${t.slice(2)} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t}1234 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t.replace('.', '.12345')} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t.split('.')[0]} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -`,
    (t: string) =>
      `${t.split('.')[0]}.5 12 10.1.0.1 TCP_MISS/200 5 GET http://API.POWERBI.COM/ - FIRSTUP_PARENT/10.9.0.1 -`,
    () => '',
    () => '   ',
    () => '# a comment',
    (t: string) =>
      `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -\r`,
    (t: string) =>
      `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.1 -\r\r`,
    (t: string) => `${t} 12 10.1.0.1 TCP_MISS/200 5 GET http://api.powerbi.com/ - FIRSTUP_PARENT/10.9.0.77 -`,
  ];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const seconds = 1_700_000_000 + Math.floor(i * 0.37);
    const time = `${seconds}.${String(next(1000)).padStart(3, '0')}`;
    if (next(23) === 0) {
      out.push((odd[next(odd.length)] as (t: string) => string)(time));
      continue;
    }
    const host = next(3) === 0 ? `h${next(names)}.example.com` : (hosts[next(hosts.length)] as string);
    const hierarchy = hierarchies[next(hierarchies.length)] as string;
    const elapsed = next(90_000);
    const bytes = next(5) === 0 ? 0 : next(5_000_000);
    if (next(3) === 0) {
      const port = next(10) === 0 ? 8443 : 443;
      out.push(
        `${time} ${elapsed} 10.1.0.${next(9)} TCP_TUNNEL/200 ${bytes} CONNECT ${host}:${port} - ${hierarchy} -`,
      );
    } else {
      const scheme = next(2) === 0 ? 'http' : 'https';
      const port = next(15) === 0 ? ':8080' : '';
      out.push(
        `${time} ${elapsed} 10.1.0.${next(9)} TCP_MISS/200 ${bytes} GET ${scheme}://${host}${port}/p?x=${i} - ${hierarchy} text/html`,
      );
    }
  }
  return out.join('\n');
}

/** A conn header block with `fields` and the unset marker `unset` (the demo's, but for that). */
const connHeader = (unset: string, fields: readonly string[]) =>
  zeekHeader(
    'conn',
    fields,
    fields.map(() => 'string'),
  )
    .map((line) => (line === '#unset_field\t-' ? `#unset_field\t${unset}` : line))
    .join('\n');

/** A second header block's columns (and unset marker `--`): the scanner must follow the header. */
const zeekFieldsAgain = zeekConnFields.slice(0, 11).reverse();

/** Odd values of one field each (`-` is the section's unset marker), some counted, some declined. */
const oddFields: [string, string][] = [
  ['id.resp_p', '-'],
  ['duration', '-'],
  ['orig_bytes', '-'],
  ['id.resp_h', '2001:db8::7'],
  ['id.resp_h', '-'],
  ['id.resp_h', '013.73.248.9'],
  ['proto', 'icmp'],
  ['proto', 'sctp'],
  ['proto', '-'],
  ['id.resp_p', '70000'],
  ['id.resp_p', '0000000000000443'],
  ['orig_bytes', '(empty)'],
  ['resp_bytes', '12345678901234567'],
  ['resp_bytes', '98765432109'],
  ['ts', '1700000000.1234567'],
  ['ts', '1700000000'],
  ['ts', '1.7e9'],
  ['ts', ''],
  ['duration', '0.1.2'],
  ['duration', '12'],
  ['duration', '99999999999.9999999'],
];

/**
 * A Zeek conn log of `lines` records to `addresses` destinations (ExpressRoute, internet and
 * private), with odd records among them and, half way, a second header block with other columns.
 */
function zeekConnLog(lines: number, seed = 1, addresses = 40): string {
  let state = seed;
  const next = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  const destination = () => {
    const k = next(addresses);
    const kind = k % 3;
    if (kind === 0) return `13.73.248.${k % 250}`;
    if (kind === 1) return `93.${(k >> 8) & 255}.${k & 255}.7`;
    return `10.2.${(k >> 8) & 255}.${k & 255}`;
  };
  const record = (fields: readonly string[], unset: string, i: number): string => {
    const f: Record<string, string> = {
      ts: `${1_700_000_000 + Math.floor(i * 0.37)}.${String(next(1_000_000)).padStart(6, '0')}`,
      uid: `C${i.toString(36)}`,
      'id.orig_h': `10.1.0.${next(9)}`,
      'id.orig_p': String(1024 + next(60000)),
      'id.resp_h': destination(),
      'id.resp_p': next(7) === 0 ? '8443' : '443',
      proto: next(5) === 0 ? 'udp' : 'tcp',
      service: next(2) === 0 ? 'ssl' : unset,
      duration: `${next(100)}.${String(next(1_000_000)).padStart(6, '0')}`,
      orig_bytes: String(next(100_000)),
      resp_bytes: next(5) === 0 ? '0' : String(next(5_000_000)),
      conn_state: 'SF',
    };
    if (next(17) === 0) {
      const [name, value] = oddFields[next(oddFields.length)] as [string, string];
      f[name] = value;
    }
    return fields.map((name) => (f[name] === undefined || f[name] === '-' ? unset : f[name])).join('\t');
  };
  const out: string[] = [connHeader('-', zeekConnFields)];
  for (let i = 0; i < lines; i++) {
    if (i === Math.floor(lines / 2))
      out.push('#close\t2026-12-06-11-00-00', connHeader('--', zeekFieldsAgain));
    const again = i >= Math.floor(lines / 2);
    const fields = again ? zeekFieldsAgain : zeekConnFields;
    const k = next(40);
    if (k === 0)
      out.push(
        record(fields, again ? '--' : '-', i)
          .split('\t')
          .slice(0, 4)
          .join('\t'),
      );
    else if (k === 1) out.push('');
    else if (k === 2) out.push(`${record(fields, again ? '--' : '-', i)}\r`);
    else if (k === 3)
      out.push(
        JSON.stringify({
          ts: 1_700_000_000.5 + i,
          uid: 'Cj',
          'id.orig_h': '10.1.0.1',
          'id.resp_h': '13.73.248.9',
          'id.resp_p': 443,
          proto: 'tcp',
          duration: 1.25,
          orig_bytes: 10,
          resp_bytes: 20,
        }),
      );
    else out.push(record(fields, again ? '--' : '-', i));
  }
  return out.join('\n');
}

describe('WebAssembly scanner of Squid native lines', () => {
  test('is built and compiles', () => {
    expect(scanModule()).not.toBeNull();
  });

  test('same JSON report on the Squid and Zeek samples and the demo logs', async () => {
    const demo = join(packageRoot(), 'demo', 'logs');
    const inputs = [
      ...fixtureInputs().filter((path) => /squid|zeek|access/.test(path)),
      ...readdirSync(demo, { recursive: true })
        .map((name) => join(demo, String(name)))
        .filter((path) => statSync(path).isFile() && /squid|zeek/.test(path)),
    ];
    expect(inputs.length).toBeGreaterThan(3);
    for (const path of inputs) await expectSame({ inputs: [path] });
    await expectSame({ inputs });
  });

  test('same JSON report on odd lines, many keys, chunk boundaries, no last newline, one and two jobs', async () => {
    // Over 2 MiB: lines cross the reader's 1 MiB chunks, and two jobs cut the file in two.
    const squid = join(dir, 'access.log');
    const text = `\ufeff${squidLog(30_000, 7, 3000)}`;
    expect(text.length).toBeGreaterThan(2 << 20);
    writeFileSync(squid, text);
    const crlf = join(dir, 'crlf.log');
    writeFileSync(crlf, `${squidLog(2000, 9).replaceAll('\n', '\r\n')}\r\n`);
    for (const fastCountKeys of [7, 600, undefined]) {
      for (const jobs of [1, 2]) {
        const json = await expectSame({
          inputs: [squid, crlf],
          fastCountKeys,
          jobs,
          splitBytes: 1,
          threadBytes: 1,
        });
        expect(JSON.parse(json).flows).toBeGreaterThan(25_000);
      }
    }
    // Past the leak evidence limit, and with few destinations kept.
    await expectSame({ inputs: [squid], limits: { leaks: 3, destinations: 4, problems: 5 } });
  });

  test('same JSON report when the time series sums pass 2^53 (15-digit byte counts)', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const bytes = i % 7 === 0 ? '12345678901234567890' : String(987654321098765 - i * 1_234_567);
      const host = i % 3 === 0 ? 'api.powerbi.com' : 'www.example.com';
      lines.push(
        `${1_700_000_000 + Math.floor(i / 4)}.${i % 1000} ${i % 50} 10.1.0.1 TCP_MISS/200 ${bytes} GET http://${host}/ - FIRSTUP_PARENT/10.9.0.${1 + (i % 2)} -`,
      );
    }
    const squid = join(dir, 'huge.log');
    writeFileSync(squid, `${lines.join('\n')}\n`);
    const json = await expectSame({ inputs: [squid] }, false);
    expect(JSON.parse(json).flows).toBe(3000 - Math.ceil(3000 / 7)); // 20 digits: a bad field
    expect(JSON.parse(json).bytes.down).toBeGreaterThan(2 ** 53);
  });

  test('a run opened before the series widens takes no flow of another time (review: width)', async () => {
    // Lines 1-3 open runs at 1-second buckets; line 4, 29 billion seconds later, widens the series
    // (in JS: a line the scanner has no key for) so far that the next chunk's index of a flow can
    // equal an open run's index at the old width.
    const line = (seconds: number, bytes: number, host: string) =>
      `${seconds}.000 0 10.1.0.1 TCP_MISS/200 ${bytes} GET http://${host}/ - FIRSTUP_PARENT/10.9.0.1 -`;
    const squid = join(dir, 'widen.log');
    writeFileSync(
      squid,
      `${[
        line(1_000_000_000, 100, 'www.example.com'),
        line(1_000_000_000, 200, 'www.example.com'),
        line(1_000_100_000, 300, 'other.example.com'),
        line(30_000_000_000, 400, 'www.example.com'),
      ].join('\n')}\n`,
    );
    const json = JSON.parse(await expectSame({ inputs: [squid] }));
    expect(json.timeSeries.buckets[0].flows).toBe(3);
    expect(
      Object.values(json.timeSeries.buckets[0].bytesByPath).reduce((a: number, b) => a + Number(b), 0),
    ).toBe(600);
  });

  test('same JSON report past 2^53 whatever order the buckets were made in (review: order)', async () => {
    // The scanner adds its runs after the lines JS reads, so its series makes buckets in another
    // order; summing them in that order rounds otherwise past 2^53.
    const s = 1_700_000_000;
    const line = (seconds: number, bytes: number | string, host = 'www.example.com') =>
      `${seconds}.000 0 10.1.0.1 TCP_MISS/200 ${bytes} GET http://${host}/ - FIRSTUP_PARENT/10.9.0.1 -`;
    const lines = [line(s, 0), line(s + 1, 0), line(s + 2, 0, 'www2.example.com')];
    for (let i = 0; i < 9; i++) lines.push(line(s, '999999999999999'));
    lines.push(
      line(s, '7199254740998'),
      line(s + 1, 1),
      line(s + 2, 4, 'www2.example.com'),
      line(s + 300, 0),
    );
    const squid = join(dir, 'order.log');
    writeFileSync(squid, `${lines.join('\n')}\n`);
    const json = JSON.parse(await expectSame({ inputs: [squid] }, false));
    expect(json.flows).toBe(16);
  });

  test('one scanner per thread for many small inputs, none with DNS answers (review: instances)', async () => {
    const inputs: string[] = [];
    for (let i = 0; i < 30; i++) {
      const path = join(dir, `small-${i}.log`);
      writeFileSync(path, `${squidLog(6, 100 + i, 5 + i)}\n`);
      inputs.push(path);
    }
    const create = vi.spyOn(WasmScanner, 'create');
    try {
      await expectSame({ inputs });
      expect(create.mock.calls.length).toBeLessThanOrEqual(1);
      create.mockClear();
      // Each input alone, then with DNS answers (the scanner could not count a line).
      for (const path of inputs.slice(0, 5)) await expectSame({ inputs: [path] });
      expect(create.mock.calls.length).toBeLessThanOrEqual(1);
      create.mockClear();
      const dns = join(dir, 'instances-dnsmasq.log');
      writeDnsAnswerLog(dns, 'api.powerbi.com', '13.73.248.9');
      await expectSame({ inputs: [dns, ...inputs] });
      expect(create).not.toHaveBeenCalled();
    } finally {
      create.mockRestore();
    }
  });

  test('expectSame fails when the scanner counts nothing (review: a scanner that never ran)', async () => {
    const squid = join(dir, 'no-scanner.log');
    writeFileSync(squid, `${squidLog(2000, 4)}\n`);
    await expectSame({ inputs: [squid] });
    const acquire = vi.spyOn(WasmScanner, 'acquire').mockReturnValue(null);
    try {
      await expect(expectSame({ inputs: [squid] })).rejects.toThrow(/scanner counted/);
    } finally {
      acquire.mockRestore();
    }
  });

  test('steps aside when DNS answers are known (count() would decline every flow)', async () => {
    const dns = join(dir, 'dnsmasq.log');
    writeDnsAnswerLog(dns, 'api.powerbi.com', '13.73.248.9');
    const squid = join(dir, 'dns-squid.log');
    writeFileSync(squid, `${squidLog(500, 3)}\n`);
    const scan = vi.spyOn(WasmScanner.prototype, 'scan');
    try {
      await expectSame({ inputs: [dns, squid] });
      expect(scan).not.toHaveBeenCalled();
      await expectSame({ inputs: [squid] });
      expect(scan).toHaveBeenCalled();
    } finally {
      scan.mockRestore();
    }
  });
});

/**
 * Scans `counted`, then `line`, then `counted` (Zeek conn records when `zeek`, else Squid native
 * lines): returns where it stopped and what it said.
 */
function scanBetween(made: WasmScanner, counted: string, line: string, zeek: boolean, leakFull: boolean) {
  const bytes = Buffer.from(`${counted}\n${line}\n${counted}\n`);
  expect(made.load(bytes)).toBe(true);
  const stop = made.scan(0, bytes.length, leakFull, 1000, 2 ** 53, zeek);
  return {
    stop,
    lines: made.lines,
    declined: made.declined,
    second: counted.length + 1,
    length: bytes.length,
  };
}

describe('lines the scanner leaves to JavaScript', () => {
  const resolver = new PathResolver(reportTopology);
  const codes: Record<string, number> = { expressroute: 0, internet: 1, unknown: 2 };
  const counted =
    '1700000000.100 5 10.1.0.1 TCP_MISS/200 10 GET http://known.example/ - FIRSTUP_PARENT/10.9.0.1 -';

  /** A scanner that knows the name `known.example` on port 80 via the proxy 10.9.0.1 (row 0, verdict `verdict`). */
  function scanner(verdict = 0): WasmScanner {
    const module = scanModule();
    if (module === null) throw new Error('no scan.wasm: run npm run build');
    const made = WasmScanner.create(module, 64) as WasmScanner;
    expect(made.setRoutes(routeRanges(resolver, (path) => codes[path] as number))).toBe(true);
    const proxy = Buffer.from('10.9.0.1');
    made.learnUpstream(proxy, 0, proxy.length, 0);
    const name = Buffer.from('known.example');
    const number = (80 + 1) | (0 << 17);
    made.learnName(name, 0, name.length, number, 0, 0, verdict);
    return made;
  }

  const scanTwo = (made: WasmScanner, line: string, leakFull = false) =>
    scanBetween(made, counted, line, false, leakFull);

  test('a line it knows is counted, into the shared sums and one run', () => {
    const made = scanner();
    const bytes = Buffer.from(`${counted}\n${counted}\n`);
    made.load(bytes);
    expect(made.scan(0, bytes.length, false, 1000, 2 ** 53, false)).toBe(bytes.length);
    expect(made.declined).toBe(false);
    expect(made.lines).toBe(2);
    expect([...made.sums.subarray(0, 3)]).toEqual([2, 0, 20]);
    made.flushRuns();
    expect(made.runCount).toBe(1);
    expect([...made.runs.subarray(0, 8)]).toEqual([
      2, 1_700_000_000, 20, 1_700_000_000_095, 1_700_000_000_095, 1_700_000_000_100, 0, 0,
    ]);
  });

  test.each([
    ['an odd line', 'not a squid line at all'],
    ['an unknown name', counted.replace('known.example', 'other.example')],
    ['a known name on another port', counted.replace('known.example/', 'known.example:8080/')],
    ['an unknown upstream', counted.replace('10.9.0.1 -', '10.9.0.9 -')],
    ['an unknown hierarchy code', counted.replace('FIRSTUP_PARENT', 'SOMETHING_ELSE')],
    ['no peer', counted.replace('FIRSTUP_PARENT/10.9.0.1', 'HIER_NONE/-')],
    ['a destination that is not IPv4', counted.replace('FIRSTUP_PARENT/10.9.0.1', 'HIER_DIRECT/2001:db8::1')],
    ['a byte above ASCII', `${counted}\u00e9`],
    ['16 digits of bytes', counted.replace(' 10 GET', ' 1234567890123456 GET')],
    ['an IPv6 literal', counted.replace('known.example', '[2001:db8::1]')],
  ])('%s', (_name, line) => {
    const made = scanner();
    const { stop, lines, declined, second } = scanTwo(made, line);
    expect({ stop, lines, declined }).toEqual({ stop: second, lines: 1, declined: true });
  });

  test('a leak while its evidence is kept; counted once the evidence is full', () => {
    const leak = 1;
    expect(scanTwo(scanner(leak), counted)).toMatchObject({ stop: 0, lines: 0, declined: true });
    const full = scanTwo(scanner(leak), counted, true);
    expect(full).toMatchObject({ declined: false, lines: 3 });
    expect(full.stop).toBe(full.length);
  });

  test('a key it was told about before clearKeys() (the counter started over)', () => {
    const made = scanner();
    made.clearKeys();
    expect(scanTwo(made, counted)).toMatchObject({ stop: 0, lines: 0, declined: true });
  });

  test('a chunk larger than its input area', () => {
    const made = scanner();
    expect(made.load(Buffer.alloc(5 << 20))).toBe(false);
  });

  test('routeRanges gives destinationPath4 of every address it was probed with', () => {
    const ranges = routeRanges(resolver, (path) => codes[path] as number);
    let state = 99;
    for (let k = 0; k < 20_000; k++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      // Random addresses, and addresses next to every range's bounds.
      const base = k % 2 === 0 ? state : (ranges.starts[k % ranges.starts.length] as number);
      const address = (base + (k % 3) - 1) >>> 0;
      let range = 0;
      while (range + 1 < ranges.starts.length && (ranges.starts[range + 1] as number) <= address) range++;
      expect(ranges.paths[range], `address ${address}`).toBe(codes[resolver.destinationPath4(address | 0)]);
    }
  });
});

describe('WebAssembly scanner of Zeek conn records', () => {
  test('same JSON report on the Zeek samples and demo logs, counted by the scanner', async () => {
    const demo = join(packageRoot(), 'demo', 'logs', 'zeek');
    const inputs = [
      ...fixtureInputs().filter((path) => /zeek/.test(path)),
      ...readdirSync(demo).map((name) => join(demo, name)),
    ];
    expect(inputs.length).toBeGreaterThan(8);
    const scan = vi.spyOn(WasmScanner.prototype, 'scan');
    try {
      for (const path of inputs) await expectSame({ inputs: [path] });
      await expectSame({ inputs });
      expect(scan.mock.calls.some((call) => call[5] === true)).toBe(true);
    } finally {
      scan.mockRestore();
    }
  });

  test('same JSON report on odd records, many keys, two header blocks, chunk boundaries, one and two jobs', async () => {
    // Over 2 MiB: records cross the reader's 1 MiB chunks, and two jobs cut the file in two.
    const conn = join(dir, 'conn.log');
    const text = zeekConnLog(30_000, 5, 3000);
    expect(text.length).toBeGreaterThan(2 << 20);
    writeFileSync(conn, text); // no last newline
    const crlf = join(dir, 'conn-crlf.log');
    writeFileSync(crlf, `${zeekConnLog(2000, 11).replaceAll('\n', '\r\n')}\r\n`);
    for (const fastCountKeys of [7, 600, undefined]) {
      for (const jobs of [1, 2]) {
        const json = await expectSame({
          inputs: [conn, crlf],
          fastCountKeys,
          jobs,
          splitBytes: 1,
          threadBytes: 1,
        });
        expect(JSON.parse(json).flows).toBeGreaterThan(25_000);
      }
    }
    await expectSame({ inputs: [conn], limits: { leaks: 3, destinations: 4, problems: 5 } });
    // Most records are the scanner's (one job: the audit runs on this thread).
    const scan = WasmScanner.prototype.scan;
    let scanned = 0;
    const spy = vi.spyOn(WasmScanner.prototype, 'scan').mockImplementation(function (
      this: WasmScanner,
      ...args: Parameters<WasmScanner['scan']>
    ) {
      const stop = scan.apply(this, args);
      if (args[5]) scanned += this.lines;
      return stop;
    });
    try {
      await jsonOf({ inputs: [conn], wasmScan: true });
    } finally {
      spy.mockRestore();
    }
    expect(scanned).toBeGreaterThan(20_000);
  }, 120_000);

  test('same JSON report past sections it refuses: a long unset marker across a chunk boundary, 256+ columns, a non-tab separator', async () => {
    const lines = (text: string) => text.split('\n');
    // A section the scanner reads, ending 150 bytes or so before the reader's first 1 MiB
    // chunk ends, so that the next header block runs across the chunk boundary.
    const first: string[] = [];
    let bytes = 0;
    for (const line of lines(zeekConnLog(20_000, 21, 500))) {
      if (bytes + line.length + 1 > FILE_CHUNK_BYTES - 150) break;
      first.push(line);
      bytes += line.length + 1;
    }
    expect(bytes).toBeGreaterThan(0.9 * FILE_CHUNK_BYTES);
    // setZeek() refuses a 65-byte unset marker and a column past 255 (JavaScript reads those
    // sections; the next chunk must not be scanned as the last one); `|` separates the third.
    const longUnset = zeekConnLog(600, 22).replace('#unset_field\t-\n', `#unset_field\t${'u'.repeat(65)}\n`);
    const filler = Array.from({ length: 260 }, (_, i) => `extra_${i}`);
    const wide = lines(zeekConnLog(600, 23))
      .map((line) =>
        line.startsWith('#fields\t') || line.startsWith('#types\t')
          ? line.replace(
              '\t',
              `\t${(line.startsWith('#fields') ? filler : filler.map(() => 'string')).join('\t')}\t`,
            )
          : line.startsWith('#')
            ? line
            : `${filler.map(() => '-').join('\t')}\t${line}`,
      )
      .join('\n');
    const bars = zeekConnLog(600, 24).replaceAll('\t', '|').replace('#separator \\x09', '#separator \\x7c');
    const text = [
      ...first,
      longUnset,
      zeekConnLog(3000, 25, 500),
      wide,
      bars,
      zeekConnLog(3000, 26, 500),
    ].join('\n');
    expect(text.indexOf(`#unset_field\t${'u'.repeat(65)}`)).toBeLessThan(FILE_CHUNK_BYTES);
    expect(text.indexOf('\n', text.indexOf('#types', bytes))).toBeGreaterThan(FILE_CHUNK_BYTES);
    const conn = join(dir, 'conn-refused.log');
    writeFileSync(conn, `${text}\n`);
    const scan = vi.spyOn(WasmScanner.prototype, 'scan');
    try {
      const json = await expectSame({ inputs: [conn], jobs: 1 });
      expect(JSON.parse(json).flows).toBeGreaterThan(16_000);
      expect(scan.mock.calls.some((call) => call[5] === true)).toBe(true);
    } finally {
      scan.mockRestore();
    }
  });

  test('a run opened before the series widens takes no flow of another time (review: width)', async () => {
    // ts uid orig_h orig_p resp_h resp_p proto duration orig_bytes resp_bytes
    const fields = zeekConnFields.slice(0, 11).filter((name) => name !== 'service');
    const record = (seconds: number, bytes: number, address: string) =>
      `${seconds}.000000\tC1\t10.1.0.1\t5000\t${address}\t443\ttcp\t0.000000\t0\t${bytes}`;
    const conn = join(dir, 'widen-conn.log');
    writeFileSync(
      conn,
      `${[
        connHeader('-', fields),
        record(100_000_000, 100, '93.184.216.34'),
        record(100_000_000, 200, '93.184.216.34'),
        record(100_100_000, 300, '93.184.216.35'),
        record(3_000_000_000, 400, '93.184.216.34'),
      ].join('\n')}\n`,
    );
    const json = JSON.parse(await expectSame({ inputs: [conn] }));
    expect(json.flows).toBe(4);
    expect(json.timeSeries.buckets[0].flows).toBe(3);
    expect(
      Object.values(json.timeSeries.buckets[0].bytesByPath).reduce((a: number, b) => a + Number(b), 0),
    ).toBe(600);
  });
});

describe('Zeek conn records the scanner leaves to JavaScript', () => {
  // ts uid orig_h orig_p resp_h resp_p proto duration orig_bytes resp_bytes
  const counted = '1700000000.100200\tCa\t10.1.0.1\t5000\t13.73.248.9\t443\ttcp\t0.5\t10\t20';
  const layout = {
    separator: 9,
    unset: Buffer.from('-'),
    columns: Int32Array.of(9, 0, 4, 5, 6, 7, 8, 9),
  };

  /** A scanner that knows 13.73.248.9 on port 443 (row 0, verdict `verdict`). */
  function scanner(verdict = 0): WasmScanner {
    const module = scanModule();
    if (module === null) throw new Error('no scan.wasm: run npm run build');
    const made = WasmScanner.create(module, 64) as WasmScanner;
    expect(made.setZeek(layout)).toBe(true);
    const address = (13 << 24) | (73 << 16) | (248 << 8) | 9;
    made.learnAddress(address, (443 + 1) | (1 << 20), 0, 0, verdict);
    made.sums.set([0, 0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]); // as AuditCounter's emptyRow
    return made;
  }

  const scanTwo = (made: WasmScanner, line: string, leakFull = false) =>
    scanBetween(made, counted, line, true, leakFull);

  test('a record it knows is counted, into the shared sums and one run', () => {
    const made = scanner();
    const bytes = Buffer.from(`${counted}\n${counted}\r\n\n${counted}`);
    made.load(bytes);
    expect(made.scan(0, bytes.length, false, 1000, 2 ** 53, true)).toBe(bytes.length);
    expect(made.declined).toBe(false);
    expect(made.lines).toBe(4);
    expect([...made.sums.subarray(0, 5)]).toEqual([3, 30, 60, 1_700_000_000_100, 1_700_000_000_600]);
    made.flushRuns();
    expect(made.runCount).toBe(1);
    expect([...made.runs.subarray(0, 8)]).toEqual([
      3, 1_700_000_000, 90, 1_700_000_000_100, 1_700_000_000_100, 1_700_000_000_600, 0, 0,
    ]);
  });

  const field = (index: number, value: string) =>
    counted
      .split('\t')
      .map((old, i) => (i === index ? value : old))
      .join('\t');
  test.each([
    ['a header line', '#close\t2026-12-06-11-00-00'],
    ['a JSON record', '{"ts":1700000000.5,"id.resp_h":"13.73.248.9"}'],
    ['too few fields', counted.split('\t').slice(0, 6).join('\t')],
    ['an IPv6 responder', field(4, '2001:db8::7')],
    ['an unset responder', field(4, '-')],
    ['a responder with a leading zero', field(4, '013.73.248.9')],
    ['an unknown responder', field(4, '13.73.248.10')],
    ['a known responder on another port', field(5, '8443')],
    ['an unset port (another key)', field(5, '-')],
    ['a port past 65535', field(5, '70000')],
    ['icmp', field(6, 'icmp')],
    ['an unset proto', field(6, '-')],
    ['a bad ts', field(0, '1.7e9')],
    ['an empty ts', field(0, '')],
    ['a bad duration', field(7, '0.1.2')],
    ['an (empty) byte count', field(8, '(empty)')],
    ['17 digits of bytes', field(9, '12345678901234567')],
    ['a byte above ASCII', `${counted}\u00e9`],
  ])('%s', (_name, line) => {
    const { stop, lines, declined, second } = scanTwo(scanner(), line);
    expect({ stop, lines, declined }).toEqual({ stop: second, lines: 1, declined: true });
  });

  test.each([
    ['unset bytes and duration', `${field(7, '-').split('\t').slice(0, 8).join('\t')}\t-\t-`],
    ['16 digits of a port with leading zeros', field(5, '0000000000000443')],
    ['a ts without decimals', field(0, '1700000000')],
    ['7 decimals of ts (cut)', field(0, '1700000000.1234567')],
  ])('counted: %s', (_name, line) => {
    const result = scanTwo(scanner(), line);
    expect(result).toMatchObject({ stop: result.length, lines: 3, declined: false });
  });

  test('a leak while its evidence is kept; counted once the evidence is full', () => {
    const leak = 1;
    expect(scanTwo(scanner(leak), counted)).toMatchObject({ stop: 0, lines: 0, declined: true });
    const full = scanTwo(scanner(leak), counted, true);
    expect(full).toMatchObject({ declined: false, lines: 3 });
  });

  test('a layout beyond it is refused (JavaScript reads the lines)', () => {
    const made = scanner();
    expect(made.setZeek({ ...layout, columns: Int32Array.of(300, 0, 4, 5, 6, 7, 8, 299) })).toBe(false);
    expect(made.setZeek({ ...layout, columns: Int32Array.of(9, 0, 4, 5, -1, 7, 8, 9) })).toBe(false);
  });

  test.each([
    ['a port past the last column', [9, 0, 4, 5_000_000, 6, 7, 8, 9]],
    ['ts past the last column', [9, 10, 4, 5, 6, 7, 8, 9]],
    ['a byte count past the last column', [9, 0, 4, 5, 6, 7, 8, 255]],
    ['a port below -1', [9, 0, 4, -2, 6, 7, 8, 9]],
    ['a duration below -1', [9, 0, 4, 5, 6, -5_000_000, 8, 9]],
    ['sent bytes below -1', [9, 0, 4, 5, 6, 7, -2, 9]],
    ['received bytes below -1', [9, 0, 4, 5, 6, 7, 8, -2]],
  ])('a layout with %s is refused, and scanning after it does not trap', (_name, columns) => {
    const made = scanner();
    expect(made.setZeek({ ...layout, columns: Int32Array.from(columns) })).toBe(false);
    const bytes = Buffer.from(`${counted}\n`);
    made.load(bytes);
    expect(made.scan(0, bytes.length, false, 1000, 2 ** 53, true)).toBe(bytes.length);
    expect({ lines: made.lines, declined: made.declined }).toEqual({ lines: 1, declined: false });
    expect([...made.sums.subarray(0, 3)]).toEqual([1, 10, 20]);
  });
});

describe('TimeSeries.addRun', () => {
  test('equals add() per flow, grouped by bucket in any order, through the ladder widening', () => {
    for (const seed of [1, 2, 3]) {
      let state = seed;
      const next = (n: number) => {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        return state % n;
      };
      const flows = Array.from({ length: 3000 }, (_, i) => ({
        // a spread that widens a 16-bucket series several times, and back in time
        time: 1_700_000_000_000 + i * 997 * (1 + (i % 5)) - next(5) * 3_600_000,
        path: next(3),
        verdict: next(6),
        bytes: next(10) === 0 ? 0 : next(1_000_000),
      }));
      const single = new TimeSeries(16);
      for (const flow of flows) single.add(flow.time, flow.path, flow.verdict, flow.bytes);
      // Runs as the scanner makes them: by bucket index at the width when the run starts, with
      // path and verdict, handed over in an order that is not the flows'.
      const runs = new TimeSeries(16);
      const open = new Map<
        string,
        { time: number; path: number; verdict: number; flows: number; bytes: number }
      >();
      flows.forEach((flow, i) => {
        const key = `${Math.floor(flow.time / runs.bucketMs)}/${flow.path}/${flow.verdict}`;
        const run = open.get(key);
        if (run) {
          run.flows++;
          run.bytes += flow.bytes;
        } else open.set(key, { ...flow, flows: 1 });
        if (i % 97 === 96) {
          for (const r of [...open.values()].reverse())
            runs.addRun(r.time, r.path, r.verdict, r.flows, r.bytes);
          open.clear();
        }
      });
      for (const r of open.values()) runs.addRun(r.time, r.path, r.verdict, r.flows, r.bytes);
      expect(single.bucketMs).toBeGreaterThanOrEqual(3_600_000);
      expect(runs.bucketMs).toBe(single.bucketMs);
      expect(runs.result()).toEqual(single.result());
      expect(runs.result(4000)).toEqual(single.result(4000));
      expect(runs.bytesAdded).toBe(single.bytesAdded);
    }
  });

  test('sums buckets in the order of their times, not of their making (review: order)', () => {
    // 2^53 + 1 rounds to 2^53: (2^53 + 1) + 1 is 2^53, 1 + 1 + 2^53 is 2^53 + 2.
    const make = (order: number[]) => {
      const series = new TimeSeries(4);
      for (const k of order) series.add(k * 1000, 0, 0, k === 0 ? 2 ** 53 : 1);
      return series;
    };
    const ascending = make([0, 1, 2]);
    const descending = make([2, 1, 0]);
    expect(descending.result(1)).toEqual(ascending.result(1));
    expect(ascending.result(1).buckets[0]?.flows).toBe(3);
    // Widening (5 buckets at 1 s do not fit in 4) and merging too.
    ascending.add(4000, 0, 0, 0);
    descending.add(4000, 0, 0, 0);
    expect(descending.result()).toEqual(ascending.result());
    const merged = new TimeSeries(4);
    merged.merge(make([2, 1, 0]).snapshot());
    const mergedAscending = new TimeSeries(4);
    mergedAscending.merge(make([0, 1, 2]).snapshot());
    expect(merged.result(1)).toEqual(mergedAscending.result(1));
  });

  test('runs opened before a width change are handed over before a flow joins a run (review: width)', () => {
    // As the scanner and JS share a series: some flows are JS's (add(), which may widen), the
    // others go into runs keyed by bucket index at the width when the run opened.
    const flows = [
      { time: 1_000_000_000_000, bytes: 100, js: true },
      { time: 1_000_000_000_000, bytes: 200, js: false },
      { time: 1_000_100_000_000, bytes: 300, js: true },
      { time: 30_000_000_000_000, bytes: 400, js: false },
    ];
    const single = new TimeSeries();
    for (const flow of flows) single.add(flow.time, 0, 0, flow.bytes);
    const model = (handOver: boolean) => {
      const series = new TimeSeries();
      const open = new Map<number, { time: number; flows: number; bytes: number }>();
      let width = series.bucketMs;
      const handAll = () => {
        for (const r of open.values()) series.addRun(r.time, 0, 0, r.flows, r.bytes);
        open.clear();
      };
      for (const flow of flows) {
        if (flow.js) {
          series.add(flow.time, 0, 0, flow.bytes);
          continue;
        }
        if (handOver && series.bucketMs !== width) handAll(); // scan.ts: scan() at a new width
        width = series.bucketMs;
        const index = Math.floor(flow.time / width);
        const run = open.get(index);
        if (run) {
          run.flows++;
          run.bytes += flow.bytes;
        } else open.set(index, { time: flow.time, flows: 1, bytes: flow.bytes });
      }
      handAll();
      return series;
    };
    expect(model(true).result()).toEqual(single.result());
    // Without the hand-over, the last flow joins the first run, 29 billion seconds away.
    expect(model(false).result()).not.toEqual(single.result());
  });
});
