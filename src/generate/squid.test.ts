// The generated Squid fragment: its first-match logic against decide() on many names, accepted by
// `squid -k parse`, and run by Debian's Squid on loopback with fake parents and a fake origin,
// checking the parent or source address each request used, the logged path, and fail-closed.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EgressPath } from '../catalog/model.js';
import type { Topology } from '../policy/topology.js';
import { needPeers } from '../testing/peers.js';
import { generateSquid } from './squid.js';
import {
  builtinPolicy,
  documentedEgress,
  exampleTopology,
  sampleHosts,
  seededRandom,
  topology,
} from './testing/fixtures.js';
import { freePort, type Recorder, startRecorder } from './testing/loopback.js';
import { type Daemon, run, runOk, startDaemon, waitFor } from './testing/processes.js';

const squidPath = '/usr/sbin/squid';
const namespaces = needPeers('squid', 'ip', 'dnsmasq', 'curl', 'root');
const policy = builtinPolicy();
const example = exampleTopology();

function documentedPath(host: string, either: EgressPath = 'expressroute'): EgressPath {
  return documentedEgress(policy, host, 'saas', either);
}

/** Squid's view of the fragment: dstdomain ACLs and the `note pathwarden-path` lines, evaluated. */
function squidPathOf(config: string, host: string): string | undefined {
  const acls = new Map<string, string[]>();
  for (const [, name, values] of config.matchAll(/^acl (\S+) dstdomain (.+)$/gm)) {
    acls.set(name as string, [...(acls.get(name as string) ?? []), ...(values as string).split(' ')]);
  }
  const matches = (acl: string) =>
    (acls.get(acl) ?? []).some((domain) =>
      domain.startsWith('.') ? host === domain.slice(1) || host.endsWith(domain) : host === domain,
    );
  const paths = new Set<string>();
  for (const [, path, line] of config.matchAll(/^note pathwarden-path (\S+) (.+)$/gm)) {
    const all = (line as string)
      .split(' ')
      .every((term) =>
        term === 'all' ? true : term.startsWith('!') ? !matches(term.slice(1)) : matches(term),
      );
    if (all) paths.add(path as string);
  }
  return paths.size === 1 ? [...paths][0] : `ambiguous: ${[...paths].join(',')}`;
}

describe('generate squid', () => {
  test('matches the snapshot for the built-in catalog and examples/topology.yaml', async () => {
    await expect(generateSquid(policy, example)).toMatchFileSnapshot('./__snapshots__/squid-saas.conf');
  });

  test.each(['expressroute', 'internet'] as const)(
    "its ACL steps give decide()'s path for catalog names and 10,000 random names (--either %s)",
    (either) => {
      const config = generateSquid(policy, example, { either });
      const random = seededRandom(31);
      const bases = sampleHosts(policy);
      const names = [...bases];
      const labels = ['api', 'app', 'support', 'ideas', 'www', 'x1', 'deep'];
      while (names.length < 10_000 + bases.length) {
        let name = bases[Math.floor(random() * bases.length)] as string;
        const depth = Math.floor(random() * 3);
        for (let i = 0; i < depth; i++) name = `${labels[Math.floor(random() * labels.length)]}.${name}`;
        names.push(name);
      }
      const wrong = names
        .filter((name) => squidPathOf(config, name) !== documentedPath(name, either))
        .map(
          (name) => `${name}: squid ${squidPathOf(config, name)}, decide() ${documentedPath(name, either)}`,
        );
      expect(wrong).toEqual([]);
    },
  );

  test('marks every domain ACL -n: IP-literal requests are never reverse-resolved', () => {
    const config = generateSquid(policy, example);
    const acls = [...config.matchAll(/^acl \S+ dstdomain (.*)$/gm)].map((m) => m[1] as string);
    expect(acls.length).toBeGreaterThan(5);
    for (const values of acls) expect(values.startsWith('-n ')).toBe(true);
  });

  test('binds the circuit source address of both families, or refuses and says why', () => {
    const both = generateSquid(
      policy,
      topology({ expressroute: { sourceAddresses: ['10.20.0.5', '2001:db8::5'] }, internet: {} }),
    );
    expect(both).toMatch(/^tcp_outgoing_address 10\.20\.0\.5 /m);
    expect(both).toMatch(/^tcp_outgoing_address 2001:db8::5 /m);
    for (const sourceAddresses of [['10.20.0.5'], ['2001:db8::5']]) {
      expect(() =>
        generateSquid(policy, topology({ expressroute: { sourceAddresses }, internet: {} })),
      ).toThrow(
        expect.objectContaining({
          code: 'PW_ERR_GENERATE_INVALID',
          message: expect.stringMatching(/IPv[46]/),
        }),
      );
    }
  });

  test('a path with proxies sends no source address: the parent connection stays out of the circuit table', () => {
    const config = generateSquid(policy, example);
    expect(config).not.toMatch(/^tcp_outgoing_address/m);
    expect(config).toContain('cache_peer 10.9.0.1 parent 3128');
  });

  test('refuses a topology that gives the circuit no egress', () => {
    expect(() => generateSquid(policy, topology({ internet: { proxies: ['10.9.0.2:3128'] } }))).toThrow(
      expect.objectContaining({ code: 'PW_ERR_GENERATE_INVALID' }),
    );
  });
});

describe.skipIf(!needPeers('squid'))('generate squid with Debian Squid', () => {
  let dir: string;
  const hosts = sampleHosts(policy);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pathwarden-squid-'));
    // Squid drops to the `proxy` user: it must be able to write its logs and pid file here.
    await chmod(dir, 0o777);
    await writeFile(join(dir, 'hosts'), `${hosts.map((host) => `127.0.0.1 ${host}`).join('\n')}\n`);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A complete squid.conf around the fragment: loopback only, no cache, no real DNS. */
  async function writeConfig(name: string, fragment: string, port: number): Promise<string> {
    const fragmentFile = join(dir, `${name}-pathwarden.conf`);
    await writeFile(fragmentFile, fragment);
    const file = join(dir, `${name}.conf`);
    await writeFile(
      file,
      [
        `http_port 127.0.0.1:${port}`,
        `pid_filename ${dir}/${name}.pid`,
        `cache_log ${dir}/${name}-cache.log`,
        `coredump_dir ${dir}`,
        'cache_effective_user proxy',
        'netdb_filename none',
        `hosts_file ${dir}/hosts`,
        'dns_nameservers 127.0.0.1',
        'visible_hostname pathwarden-test',
        'shutdown_lifetime 0 seconds',
        'connect_retries 0',
        `include ${fragmentFile}`,
        'http_access allow localhost',
        'http_access deny all',
        '',
      ].join('\n'),
    );
    return file;
  }

  async function startSquid(name: string, fragment: string): Promise<{ port: number; daemon: Daemon }> {
    const port = await freePort();
    const file = await writeConfig(name, fragment, port);
    const daemon = startDaemon(squidPath, ['-N', '-f', file]);
    try {
      await waitFor(() => canConnect(port), 15_000, `squid on port ${port}\n${daemon.output()}`);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return { port, daemon };
  }

  test('squid -k parse accepts the fragment for the example topology without warnings', async () => {
    const file = await writeConfig('parse', generateSquid(policy, example), 3128);
    const result = await run(squidPath, ['-k', 'parse', '-f', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/WARNING|ERROR|FATAL/);
    expect(result.stderr).toMatch(/Processing: never_direct allow pw_\d+_expressroute/);
  });

  test('squid -k parse accepts a circuit parent with a direct Internet path, and source addresses only', async () => {
    for (const [name, paths] of [
      [
        'mixed',
        { expressroute: { proxies: ['10.9.0.1:3128'] }, internet: { sourceAddresses: ['10.20.0.6'] } },
      ],
      ['sources', { expressroute: { sourceAddresses: ['10.20.0.5', '2001:db8::5'] }, internet: {} }],
    ] as const) {
      const file = await writeConfig(`parse-${name}`, generateSquid(policy, loopbackTopology(paths)), 3128);
      const result = await run(squidPath, ['-k', 'parse', '-f', file]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr, name).not.toMatch(/WARNING|ERROR|FATAL/);
    }
  });

  test('sends each request to the parent of its path and fails closed without the circuit parent', async () => {
    const parents: Record<EgressPath, Recorder> = {
      expressroute: await startRecorder('expressroute parent'),
      internet: await startRecorder('internet parent'),
    };
    const origin = await startRecorder('origin');
    const logFile = join(dir, 'peers-access.log');
    const fragment = generateSquid(
      policy,
      loopbackTopology({
        expressroute: { proxies: [`127.0.0.1:${parents.expressroute.port}`] },
        internet: { proxies: [`127.0.0.1:${parents.internet.port}`] },
      }),
      { accessLog: `stdio:${logFile}` },
    );
    const squid = await startSquid('peers', fragment);
    try {
      for (const host of hosts) {
        const response = await get(squid.port, `http://${host}:${origin.port}/check`);
        expect(response.body, host).toContain(`answered by ${documentedPath(host)} parent`);
      }
      // Browsers send the name as typed: mixed case and a trailing dot must not change the path.
      for (const variant of ['API.PowerBI.com', 'support.powerbi.com.', 'Wabi-Test.Analysis.Windows.Net.']) {
        const response = await get(squid.port, `http://${variant}:${origin.port}/variant`);
        expect(response.body, variant).toContain(`answered by ${documentedPath(variant)} parent`);
      }
      const requested = [
        ...hosts,
        'api.powerbi.com',
        'support.powerbi.com',
        'wabi-test.analysis.windows.net',
      ];
      for (const path of ['expressroute', 'internet'] as const) {
        expect(parents[path].hosts.sort()).toEqual(
          requested.filter((host) => documentedPath(host) === path).sort(),
        );
      }
      expect(origin.hosts).toEqual([]);

      // Fail closed: with the circuit parent gone, circuit-bound requests get an error, never
      // the Internet parent nor the origin.
      await parents.expressroute.close();
      const internetBefore = parents.internet.hosts.length;
      for (const host of ['api.powerbi.com', 'wabi-test.analysis.windows.net', 'login.microsoftonline.com']) {
        const response = await get(squid.port, `http://${host}:${origin.port}/closed`);
        expect(response.status, host).toBeGreaterThanOrEqual(500);
      }
      expect(parents.internet.hosts.length).toBe(internetBefore);
      expect(origin.hosts).toEqual([]);
    } finally {
      await squid.daemon.stop();
      await Promise.all([parents.expressroute.close(), parents.internet.close(), origin.close()]);
    }
    const log = await readFile(logFile, 'utf8');
    expect(log).toMatch(/FIRSTUP_PARENT\/127\.0\.0\.1 text\/html path=expressroute /);
    expect(log).toMatch(
      /support\.powerbi\.com:\d+\/check - FIRSTUP_PARENT\/127\.0\.0\.1 text\/html path=internet /,
    );
  });

  test.skipIf(!namespaces)(
    'never reverse-resolves an IP-literal request: a PTR record cannot pick the circuit',
    {
      timeout: 60_000,
    },
    async () => {
      // Inside a namespace this test creates: dnsmasq on 127.0.0.1:53 (Squid's dns_nameservers)
      // serves a PTR record that names a circuit-bound host for 198.51.100.7.
      const ns = `pw-squid-${randomBytes(4).toString('hex')}`;
      await runOk('ip', ['netns', 'add', ns]);
      const daemons: Daemon[] = [];
      try {
        await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        const dnsmasq = startDaemon('ip', [
          ...['netns', 'exec', ns, '/usr/sbin/dnsmasq', '--keep-in-foreground', '--log-facility=-'],
          ...['--user=root', '--no-resolv', '--no-hosts', '--listen-address=127.0.0.1', '--bind-interfaces'],
          ...['--port=53', '--log-queries', `--pid-file=${dir}/${ns}-dnsmasq.pid`, '--conf-file=/dev/null'],
          '--ptr-record=7.100.51.198.in-addr.arpa,api.powerbi.com',
        ]);
        daemons.push(dnsmasq);
        await waitFor(() => dnsmasq.output().includes('started'), 10_000, `dnsmasq\n${dnsmasq.output()}`);
        const logFile = join(dir, 'ptr-access.log');
        const fragment = generateSquid(
          policy,
          loopbackTopology({
            expressroute: { proxies: ['127.0.0.1:1'] },
            internet: { proxies: ['127.0.0.1:2'] },
          }),
          { accessLog: `stdio:${logFile}` },
        );
        const file = await writeConfig('ptr', fragment, 3128);
        const squid = startDaemon('ip', ['netns', 'exec', ns, squidPath, '-N', '-f', file]);
        daemons.push(squid);
        await waitFor(
          async () =>
            (
              await run('ip', [
                'netns',
                'exec',
                ns,
                'curl',
                '-s',
                '-o',
                '/dev/null',
                'http://127.0.0.1:3128/',
              ])
            ).code === 0,
          15_000,
          `squid in ${ns}\n${squid.output()}`,
        );
        const started = Date.now();
        await run('ip', [
          'netns',
          'exec',
          ns,
          'curl',
          '-s',
          '-m',
          '30',
          '-x',
          'http://127.0.0.1:3128',
          'http://198.51.100.7/',
        ]);
        const elapsed = Date.now() - started;
        await squid.stop();
        const log = await readFile(logFile, 'utf8');
        expect(log).toMatch(/http:\/\/198\.51\.100\.7\/ .* path=internet /);
        expect(log).not.toMatch(/198\.51\.100\.7.*path=expressroute/);
        // No reverse lookup at all: dnsmasq never saw the PTR question, and nothing waited for it.
        expect(dnsmasq.output()).not.toContain('7.100.51.198.in-addr.arpa');
        expect(elapsed).toBeLessThan(5_000);
      } finally {
        for (const daemon of daemons) await daemon.stop();
        await run('ip', ['netns', 'del', ns]);
      }
    },
  );

  test.skipIf(!namespaces)(
    'source-address mode binds IPv6 too: an IPv6 destination leaves from the circuit source',
    {
      timeout: 60_000,
    },
    async () => {
      // Inside a namespace this test creates: the circuit and Internet source addresses of both
      // families on lo, an origin on 2001:db8:9::1 that answers with the address it was reached from,
      // and the circuit-bound and Internet names resolving only to IPv6 (Squid's hosts_file).
      const ns = `pw-squid6-${randomBytes(4).toString('hex')}`;
      await runOk('ip', ['netns', 'add', ns]);
      const daemons: Daemon[] = [];
      try {
        await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        for (const address of ['2001:db8:5::5', '2001:db8:5::6', '2001:db8:9::1'])
          await runOk('ip', ['-n', ns, '-6', 'addr', 'add', `${address}/128`, 'dev', 'lo', 'nodad']);
        for (const address of ['127.0.0.2', '127.0.0.3'])
          await runOk('ip', ['-n', ns, 'addr', 'add', `${address}/8`, 'dev', 'lo']);
        const origin = join(dir, `${ns}-origin.mjs`);
        await writeFile(
          origin,
          `import { createServer } from 'node:http';
createServer((request, response) => response.end(request.headers.host + ' from ' + request.socket.remoteAddress))
  .listen(8080, '2001:db8:9::1', () => console.log('ready'));`,
        );
        const server = startDaemon('ip', ['netns', 'exec', ns, process.execPath, origin]);
        daemons.push(server);
        await waitFor(() => server.output().includes('ready'), 10_000, 'the IPv6 origin');
        const fragment = generateSquid(
          policy,
          loopbackTopology({
            expressroute: { sourceAddresses: ['127.0.0.2', '2001:db8:5::5'] },
            internet: { sourceAddresses: ['127.0.0.3', '2001:db8:5::6'] },
          }),
        );
        const file = await writeConfig('v6', fragment, 3128);
        const hosts = join(dir, 'hosts-v6');
        await writeFile(hosts, '2001:db8:9::1 api.powerbi.com ajax.aspnetcdn.com\n');
        await writeFile(
          file,
          (await readFile(file, 'utf8')).replace(`hosts_file ${dir}/hosts`, `hosts_file ${hosts}`),
        );
        const squid = startDaemon('ip', ['netns', 'exec', ns, squidPath, '-N', '-f', file]);
        daemons.push(squid);
        const fetch = (host: string) =>
          run('ip', [
            'netns',
            'exec',
            ns,
            'curl',
            '-s',
            '-m',
            '20',
            '-x',
            'http://127.0.0.1:3128',
            `http://${host}:8080/`,
          ]);
        await waitFor(
          async () => (await fetch('api.powerbi.com')).stdout.includes(' from '),
          20_000,
          `squid\n${squid.output()}`,
        );
        expect((await fetch('api.powerbi.com')).stdout).toBe('api.powerbi.com:8080 from 2001:db8:5::5');
        expect((await fetch('ajax.aspnetcdn.com')).stdout).toBe('ajax.aspnetcdn.com:8080 from 2001:db8:5::6');
      } finally {
        for (const daemon of daemons) await daemon.stop();
        await run('ip', ['netns', 'del', ns]);
      }
    },
  );

  test('sends each request from the source address of its path', async () => {
    const origin = await startRecorder('origin');
    const logFile = join(dir, 'sources-access.log');
    const fragment = generateSquid(
      policy,
      loopbackTopology({
        // The circuit needs a source address of each family (an IPv6 destination would otherwise
        // leave from the default source, outside `ip rule from`); the test's origin is IPv4.
        expressroute: { sourceAddresses: ['127.0.0.2', '::1'] },
        internet: { sourceAddresses: ['127.0.0.3'] },
      }),
      { accessLog: `stdio:${logFile}` },
    );
    const squid = await startSquid('sources', fragment);
    try {
      for (const host of hosts) {
        const response = await get(squid.port, `http://${host}:${origin.port}/check`);
        expect(response.status, host).toBe(200);
      }
    } finally {
      await squid.daemon.stop();
      await origin.close();
    }
    const expected = hosts.map(
      (host) => `${host} ${documentedPath(host) === 'expressroute' ? '127.0.0.2' : '127.0.0.3'}`,
    );
    expect(origin.hosts.map((host, i) => `${host} ${origin.remoteAddresses[i]}`)).toEqual(expected);
    const log = await readFile(logFile, 'utf8');
    expect(log).toMatch(
      /api\.powerbi\.com:\d+\/check - HIER_DIRECT\/127\.0\.0\.1 text\/html path=expressroute local=127\.0\.0\.2/,
    );
    expect(log).toMatch(
      /ajax\.aspnetcdn\.com:\d+\/check - HIER_DIRECT\/127\.0\.0\.1 text\/html path=internet local=127\.0\.0\.3/,
    );
  });
});

function loopbackTopology(paths: { expressroute: object; internet: object }): Topology {
  return topology({ ...paths, default: 'internet' });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A GET through the proxy on `port`, with an absolute URL as a browser configured for it sends. */
function get(port: number, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: url, headers: { host: new URL(url).host, connection: 'close' } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.end();
  });
}
