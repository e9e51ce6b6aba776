// The lab end to end (root only: namespaces, veth links, tcpdump) and its pure parts. The
// end-to-end tests run the built CLI and its processes: `npm run build` first.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadBuiltinCatalog, resolveCatalog } from '../catalog/load.js';
import { Policy } from '../policy/policy.js';
import { needPeers } from '../testing/peers.js';
import { cliMain } from './environment.js';
import { catalogOverlay, writeCatalogFiles } from './lab-files.js';
import { activities, labAddresses, labHosts, labNaming, placeNames, standInHosts } from './plan.js';
import { checkPrerequisites } from './prerequisites.js';
import { labReportJson } from './report.js';
import { parseScenarios, runLab } from './run.js';
import { runCommand } from './system.js';

// Fails (naming the package) when a program is missing, instead of skipping: see src/testing/peers.ts.
/** The built-in catalog with the lab overlay, as a lab run compiles it. */
function labPolicy(): Policy {
  const dir = mkdtempSync(join(tmpdir(), 'pwlab-unit-'));
  try {
    const { catalogFiles } = writeCatalogFiles(dir, loadBuiltinCatalog().catalog);
    return Policy.compile(resolveCatalog({ files: catalogFiles }).catalog);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ready = needPeers('root', 'build', 'ip', 'tcpdump', 'dnsmasq', 'squid', 'openssl', 'curl', 'chromium');

/** What a lab run could leave behind: namespaces, links (root namespace), processes using its folder. */
async function leftovers(id: string, dir: string): Promise<string[]> {
  const found: string[] = [];
  const netns = await runCommand('ip', ['netns', 'list']);
  found.push(...netns.stdout.split('\n').filter((line) => line.includes(`pwlab-${id}`)));
  const links = await runCommand('ip', ['-o', 'link', 'show']);
  found.push(...links.stdout.split('\n').filter((line) => line.includes(`pwl${id}`)));
  const ps = await runCommand('ps', ['-eo', 'pid,args']);
  found.push(...ps.stdout.split('\n').filter((line) => line.includes(dir) && !line.includes(' ps ')));
  if (existsSync(`/etc/netns/pwlab-${id}-client`)) found.push('/etc/netns leftovers');
  return found;
}

describe.skipIf(!ready)('lab run (root, namespaces)', () => {
  test('lab run --json passes every scenario and leaves nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwlab-test-'));
    const child = spawn(process.execPath, [cliMain(), 'lab', 'run', '--json', '--out', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Say why when the lab printed no report (a crash or an error exit), instead of a bare JSON error.
    expect(stdout.trim(), `lab run exited ${code} without a JSON report; stderr:\n${stderr}`).toMatch(/^\{/);
    const report = JSON.parse(stdout) as {
      passed: boolean;
      scenarios: {
        name: string;
        passed: boolean;
        checks: { name: string; passed: boolean; detail: string }[];
      }[];
      statements: { id: string; proven: boolean; evidence: string[]; note: string }[];
      lab: { id: string };
    };
    const failed = report.scenarios.flatMap((s) =>
      s.checks.filter((c) => !c.passed).map((c) => `${s.name}: ${c.name}: ${c.detail}`),
    );
    expect(failed, stderr).toEqual([]);
    expect(code).toBe(0);
    expect(report.passed).toBe(true);
    expect(report.scenarios.map((s) => [s.name, s.passed])).toEqual([
      ['baseline', true],
      ['circuit-down', true],
      ['leaky-client', true],
      ['pac-only', true],
      ['private-link', true],
    ]);
    // Every traffic statement is proven with evidence; the two that are not are said why.
    const catalog = loadBuiltinCatalog().catalog;
    expect(report.statements.map((s) => s.id)).toEqual(catalog.statements.map((s) => s.ref));
    for (const statement of report.statements) {
      if (statement.proven) expect(statement.evidence.length, statement.id).toBeGreaterThan(0);
      else expect(statement.note, statement.id).not.toBe('');
    }
    expect(report.statements.filter((s) => !s.proven).map((s) => s.id)).toEqual(['intro ¶3', 'intro NOTE']);
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
    expect(await leftovers(report.lab.id, dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
    // The timeout stops a hung run; how long the lab takes is not a test's business (a busy CI machine
    // must not fail it).
  }, 240_000);

  test('a PAC that sends a circuit-bound host to the Internet proxy fails the lab, naming that host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pwlab-test-'));
    const report = await runLab({
      scenarios: ['pac-only'],
      outDir: dir,
      // The breakage: api.powerbi.com goes to the Squid of the Internet uplink.
      mutatePac: (pac, proxies) =>
        pac.replace(
          /host = host\.toLowerCase\(\);/,
          `host = host.toLowerCase();\n  if (host == "api.powerbi.com") return "PROXY ${proxies.internet}";`,
        ),
    });
    expect(report.passed).toBe(false);
    const failed = report.scenarios[0]?.checks.filter((c) => !c.passed) ?? [];
    const leak = failed.find((c) => c.name === 'no circuit-bound byte on the Internet uplink');
    expect(leak?.detail).toContain('api.powerbi.com');
    expect(failed.find((c) => c.name === 'the audit of both captures reports 0 leaks')?.detail).toContain(
      'leak api.powerbi.com',
    );
    // Nothing else broke: every other host stayed on its uplink.
    expect(leak?.detail).not.toMatch(/login\.microsoftonline\.com|analysis\.windows\.net/);
    expect(await leftovers(report.lab.id, dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});

describe('lab plan and report', () => {
  test('prerequisites name what is missing and the apt-get command', () => {
    const report = checkPrerequisites({
      platform: 'linux',
      uid: 1000,
      find: (name) => (name === 'squid' || name === 'tcpdump' ? null : `/usr/bin/${name}`),
    });
    expect(report.ok).toBe(false);
    expect(report.problems).toContain(
      'the lab needs root (network namespaces, veth links, tcpdump): run it with sudo',
    );
    expect(report.install).toBe('apt-get install -y tcpdump squid');
    expect(
      checkPrerequisites({
        platform: 'linux',
        uid: 0,
        needSquid: false,
        find: (n) => (n === 'squid' ? null : n),
      }).ok,
    ).toBe(true);
  });

  test('namespace and link names are random per run and fit IFNAMSIZ', () => {
    const a = labNaming();
    const b = labNaming();
    expect(a.id).not.toBe(b.id);
    expect(a.ns.branch).toMatch(/^pwlab-[0-9a-f]{6}-branch$/);
    for (const link of Object.values(a.links)) {
      expect(link.branch.length).toBeLessThanOrEqual(15);
      expect(link.peer.length).toBeLessThanOrEqual(15);
    }
  });

  test('lab addresses stay in 198.18.0.0/15 and the documentation ranges, placed by the catalog', () => {
    const allowed = /^(198\.(18|19)\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.)/;
    const policy = labPolicy();
    const names = placeNames((host, component) => policy.decideHost(host, { component }).path);
    const side = (host: string) => names.find((n) => n.host === host)?.side;
    expect(side('api.powerbi.com')).toBe('circuit');
    expect(side('login.microsoftonline.com')).toBe('circuit');
    expect(side('maxcdn.bootstrapcdn.com')).toBe('internet');
    expect(side('app.powerbi.com')).toBe('both');
    // The circuit's prefix comes from the lab's Service Tags file through the importer.
    const circuitAddress = labAddresses.circuitPrefix.replace(/0\/24$/, '77');
    const byAddress = policy.decide(circuitAddress, { component: 'desktop' });
    expect(byAddress.path).toBe('expressroute');
    expect(byAddress.rule?.id).toBe('servicetag.powerbi');
    expect(new Set(names.map((n) => n.address)).size).toBe(names.length);
    for (const value of [
      ...names.map((n) => n.address),
      ...Object.values(labAddresses).filter((v) => typeof v === 'string'),
    ])
      expect(value, String(value)).toMatch(allowed);
  });

  test('every host-less rule a statement cites gets a stand-in host, and every activity has an origin', () => {
    const catalog = loadBuiltinCatalog().catalog;
    const overlay = catalogOverlay(catalog) as { rules: { id: string; hosts: string[] }[] };
    const cited = new Set(catalog.statements.flatMap((s) => s.rules));
    const hostless = catalog.rules
      .filter((r) => r.hosts.length === 0 && !r.prefixes && cited.has(r.id))
      .map((r) => r.id);
    const given = new Set(overlay.rules.filter((r) => r.hosts.length > 0).map((r) => r.id));
    // mobile.not-covered needs no host: any mobile flow is not covered.
    expect(hostless.filter((id) => !given.has(id))).toEqual(['mobile.not-covered']);
    for (const id of given) expect(standInHosts[id]).toBeDefined();
    const names = new Set(labHosts);
    for (const activity of activities)
      expect(names.has(new URL(activity.url).hostname), activity.url).toBe(true);
    // Every rule a statement cites is the catalog's answer for some client activity.
    const policy = labPolicy();
    const exercised = new Set(
      activities.map((a) => policy.decideHost(new URL(a.url).hostname, { component: a.component }).rule?.id),
    );
    const citedRules = [...cited].filter((id) => catalog.rules.some((r) => r.id === id));
    expect(citedRules.filter((id) => !exercised.has(id))).toEqual([]);
  });

  test('unknown scenarios are a usage error', () => {
    expect(parseScenarios(undefined)).toEqual([
      'baseline',
      'circuit-down',
      'leaky-client',
      'pac-only',
      'private-link',
    ]);
    expect(() => parseScenarios(['baseline', 'nope'])).toThrow(/unknown scenario "nope"/);
  });

  test('the JSON report has exactly the documented shape', () => {
    const json = labReportJson({
      passed: false,
      scenarios: [
        {
          name: 'baseline',
          passed: false,
          ms: 5,
          checks: [{ name: 'c', passed: false, detail: 'd' }],
          clients: [],
          audits: {},
          gatewayFlows: [],
        },
      ],
      statements: [{ id: 's', proven: false, evidence: [], note: 'n' }],
      lab: { id: 'abcdef', dir: '/tmp/x', ms: 9, kept: false },
    });
    expect(json).toEqual({
      passed: false,
      scenarios: [
        { name: 'baseline', passed: false, ms: 5, checks: [{ name: 'c', passed: false, detail: 'd' }] },
      ],
      statements: [{ id: 's', proven: false, evidence: [], note: 'n' }],
      lab: { id: 'abcdef', dir: '/tmp/x', ms: 9, kept: false },
    });
  });
});
