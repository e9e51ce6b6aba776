// `npm run bench:gateway`: the egress gateway against Squid and tinyproxy on loopback, in one run.
// wrk measures small plain-HTTP requests (50 connections, then 1) directly, through pathwarden
// (JSONL and DuckDB stores), Squid 5.7 and tinyproxy; then CONNECT tunnel throughput and the
// gateway's RSS with many idle tunnels. Every side runs in its default, recording configuration
// (pathwarden: its store and `info` log, one line per flow; Squid: its access log). Each figure is
// printed next to Squid's of the same run with the ratio; the targets (docs/performance.md, issue 12
// item 4) are printed as PASS / MISS; missing one is not a failure.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { descriptorsNeeded, effectiveConnectionLimit } from '../src/gateway/connection-gate.js';
import { startFifoWatchdog } from './lib/fifo-watchdog.js';
import { childrenCpuSeconds, formatTable, median } from './lib/measure.js';
import { CHRT, MEASURED_PRIORITY, processTree, setFifo } from './lib/sched-fifo.js';

const CATALOG_HOST = 'api.powerbi.com';
const WRK = '/usr/bin/wrk';
const SQUID = '/usr/sbin/squid';
const TINYPROXY = '/usr/bin/tinyproxy';
/** util-linux (Essential on Debian): runs a command with other resource limits. */
const PRLIMIT = '/usr/bin/prlimit';
const BUILT_CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** The minimal Node.js relay of `--floor` (no pathwarden code). */
const FLOOR_RELAY = fileURLToPath(new URL('./lib/floor-relay.js', import.meta.url));
const FLOOR_NAME = 'node floor';
const SELF = fileURLToPath(import.meta.url);

interface Options {
  quick: boolean;
  duration: number;
  tunnelMb: number;
  tunnels: number;
  rounds: number;
  /** The pathwarden CLI to run (another build, for a before/after comparison). */
  cli: string;
  /** Only the idle-tunnel part (no wrk, no Squid or tinyproxy, no transfer): fresh gateways. */
  idleOnly: boolean;
  /** Only the CONNECT transfer (direct, fresh gateways, Squid when installed), `--rounds` rounds. */
  tunnelOnly: boolean;
  /** The stores whose gateways run (`--store duckdb|jsonl`; both by default). */
  stores: ('jsonl' | 'duckdb')[];
  /** Seconds the idle tunnels are held before the gateway's RSS is read. */
  idleSettle: number;
  /** The idle tunnels send one byte after the 200 (not TLS), so that they are open, not still peeking. */
  idleOpen: boolean;
  /** Also run each 1-connection measurement with wrk, the origin and the proxy under SCHED_FIFO. */
  fifo: boolean;
  /** Add the "node floor" contender (bench/lib/floor-relay.ts) to every part of the run. */
  floor: boolean;
}

const USAGE = `usage: npm run bench:gateway -- [options]
  --duration S      seconds of each wrk run (default 8; --quick 3)
  --rounds N        rounds of every contender, medians reported (default 3; --quick 1)
  --tunnel-mb N     megabytes moved through one CONNECT tunnel (default 1024; --quick 64)
  --tunnels N       idle CONNECT tunnels opened (default 10000; the gateways' open-files limit is
                    raised to fit with prlimit where permitted, else the count is capped by it)
  --cli FILE        another build's dist/src/cli/main.js to run as the gateway (before/after runs)
  --idle-only       only the idle-tunnel part: fresh gateways, no wrk, Squid or tinyproxy
  --tunnel-only     only the CONNECT transfer: direct, fresh gateways and Squid (when installed),
                    alternating over --rounds rounds (no wrk, no tinyproxy, no idle tunnels)
  --store S         jsonl or duckdb: only that store's gateway, in every part (default both)
  --idle-settle S   seconds the idle tunnels are held before the RSS is read (default 12, after the
                    gateway's idle release at 6 s of quiet; --quick 2); it is also read at 5 s
  --idle-open       each idle tunnel sends one byte after the 200, so that the gateway opens it (the
                    relay state of a tunnel past its first bytes, as after a TLS handshake); without
                    it the tunnels stay in the gateway's ClientHello wait
  --fifo            after each 1-connection run, one more with wrk, the origin (this process) and
                    the proxy (its threads and children) under SCHED_FIFO priority 10, so that the
                    rest of the machine cannot delay them: the proxy's own tail (needs root or
                    CAP_SYS_NICE; reported in a table of its own, the plain runs stay the headline);
                    a watchdog process above them (SCHED_FIFO 20) sets them back to SCHED_OTHER,
                    or kills them, when a line overruns its length by 15 s or this process dies
  --floor           add the contender "node floor", a minimal Node.js relay in its own process
                    (bench/lib/floor-relay.ts: plain HTTP passed through to the origin unparsed,
                    CONNECT answered and piped), to the wrk lines, the transfer and the idle hold, and
                    print per target the best a Node.js proxy reached in this run and each gateway's
                    distance to it (also with --idle-only and --tunnel-only)
  --quick           smoke run with the smaller defaults above
`;
const FLAGS = new Set([
  '--quick',
  '--idle-only',
  '--idle-open',
  '--tunnel-only',
  '--fifo',
  '--floor',
  '--help',
]);
const VALUED = new Set([
  '--duration',
  '--tunnel-mb',
  '--tunnels',
  '--rounds',
  '--cli',
  '--store',
  '--idle-settle',
]);

function parseOptions(argv: readonly string[]): Options {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (VALUED.has(arg)) i++;
    else if (!FLAGS.has(arg)) throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  const quick = argv.includes('--quick');
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const number = (name: string, fallback: number): number => {
    const text = value(name);
    if (text === undefined) return fallback;
    const parsed = Number(text);
    if (!Number.isFinite(parsed) || parsed <= 0)
      throw new Error(`${name} needs a positive number, got ${text}`);
    return parsed;
  };
  return {
    quick,
    duration: number('--duration', quick ? 3 : 8),
    tunnelMb: Math.round(number('--tunnel-mb', quick ? 64 : 1024)),
    tunnels: Math.round(number('--tunnels', quick ? 2000 : 10_000)),
    rounds: Math.round(number('--rounds', quick ? 1 : 3)),
    cli: value('--cli') ?? BUILT_CLI,
    idleOnly: argv.includes('--idle-only'),
    tunnelOnly: argv.includes('--tunnel-only'),
    stores: storesOf(value('--store')),
    idleSettle: number('--idle-settle', quick ? 2 : 12),
    idleOpen: argv.includes('--idle-open'),
    fifo: argv.includes('--fifo'),
    floor: argv.includes('--floor'),
  };
}

function storesOf(text: string | undefined): ('jsonl' | 'duckdb')[] {
  if (text === undefined) return ['jsonl', 'duckdb'];
  if (text === 'jsonl' || text === 'duckdb') return [text];
  throw new Error(`--store needs jsonl or duckdb, got ${text}`);
}

// ---------------------------------------------------------------------------------------------
// Small helpers: ports, processes, waiting.

async function waitForPort(port: number, child: ChildProcess, name: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} within ${ms} ms`);
    await sleep(100);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every process this run started, so none outlives it (Ctrl-C, a closed output pipe, a crash). */
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killChildren(): void {
  for (const child of children) child.kill('SIGTERM');
}

process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}
for (const stream of [process.stdout, process.stderr]) {
  // `npm run bench:gateway | head` closes the pipe: stop, taking the proxies along.
  stream.on('error', () => process.exit(141));
}

async function stopChild(child: ChildProcess, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

function fdLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

/** The open-files limit the gateways run under, and how it was got. */
interface DescriptorPlan {
  /** The gateways' open-files limit (soft = hard). */
  limit: number;
  /** Put before `node` when a gateway is spawned: `prlimit --nofile=N:N`, or nothing. */
  prefix: string[];
  /** Connections the gateway's gate admits under `limit` (the bench's config asks 60,000). */
  gateLimit: number;
  /** One line for the report: raised, enough already, or why it could not be raised. */
  note: string;
}

/**
 * Raises the gateways' open-files limit to what `tunnels` idle tunnels need (two descriptors each,
 * the gate's reserve, a margin): `prlimit --nofile=N:N` in front of each gateway's command. Raising
 * a hard limit needs CAP_SYS_RESOURCE (root on a normal host; not in every container): a probe
 * (`prlimit ... true`) decides, and without it the gateways run under this process's limit and the
 * run holds fewer tunnels, which the report says.
 */
function planDescriptors(tunnels: number): DescriptorPlan {
  const current = fdLimit();
  const want = descriptorsNeeded(tunnels + 64);
  const plan = (limit: number, prefix: string[], note: string): DescriptorPlan => ({
    limit,
    prefix,
    gateLimit: effectiveConnectionLimit(60_000, limit),
    note,
  });
  if (current >= want) return plan(current, [], `open-files limit ${current}: enough for ${tunnels} tunnels`);
  const flag = `--nofile=${want}:${want}`;
  const probe = existsSync(PRLIMIT) ? spawnSync(PRLIMIT, [flag, 'true'], { encoding: 'utf8' }) : undefined;
  if (probe?.status === 0) {
    return plan(
      want,
      [PRLIMIT, flag],
      `open-files limit of the gateways raised from ${current} to ${want} (prlimit ${flag})`,
    );
  }
  const why = probe ? probe.stderr.trim() || `exit ${probe.status}` : `${PRLIMIT} is not installed`;
  return plan(
    current,
    [],
    `open-files limit ${current}, not raisable here (prlimit ${flag}: ${why}; raising a hard limit needs CAP_SYS_RESOURCE)`,
  );
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const line = status.split('\n').find((l) => l.startsWith(`${field}:`));
    return line === undefined ? undefined : Number(line.split(/\s+/)[1]) / 1024;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Origins: a tiny keep-alive HTTP server, a raw TCP streamer, a server that holds connections.

interface Origins {
  http: HttpServer;
  httpPort: number;
  stream: Server;
  streamPort: number;
  hold: Server;
  holdPort: number;
  held: Set<Socket>;
  close(): Promise<void>;
}

async function startOrigins(tunnelBytes: number): Promise<Origins> {
  const body = Buffer.from('ok');
  const http = createHttpServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
    response.end(body);
  });
  http.keepAliveTimeout = 120_000;
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const streamSockets = new Set<Socket>();
  const stream = createServer((socket) => {
    streamSockets.add(socket);
    socket.on('close', () => streamSockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let left = tunnelBytes;
    const pump = () => {
      while (left > 0) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
  const held = new Set<Socket>();
  const hold = createServer((socket) => {
    held.add(socket);
    socket.on('close', () => held.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  hold.maxConnections = 60_000;
  const listen = (server: Server) =>
    new Promise<number>((resolve) =>
      server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () =>
        resolve((server.address() as { port: number }).port),
      ),
    );
  const [httpPort, streamPort, holdPort] = [await listen(http), await listen(stream), await listen(hold)];
  return {
    http,
    httpPort,
    stream,
    streamPort,
    hold,
    holdPort,
    held,
    close: async () => {
      for (const socket of [...streamSockets, ...held]) socket.destroy();
      http.closeAllConnections();
      await Promise.all(
        [http as unknown as Server, stream, hold].map(
          (server) => new Promise<void>((resolve) => server.close(() => resolve())),
        ),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Proxies under test.

interface Proxy {
  name: string;
  port: number;
  pid: number;
  /** Host the requests name: a catalog host, or 127.0.0.1 for tinyproxy (it resolves via system DNS). */
  host: string;
  /** VmRSS right after start, MB (pathwarden only). */
  startRssMb?: number;
  close(): Promise<void>;
}

async function startPathwarden(
  name: string,
  store: 'jsonl' | 'duckdb',
  ports: number[],
  dir: string,
  cli: string,
  prefix: readonly string[] = [],
): Promise<Proxy> {
  const config = [
    'listen: 127.0.0.1:0',
    'admin: 127.0.0.1:0',
    'egress:',
    '  expressroute: { localAddress: 127.0.0.2 }',
    '  internet: { localAddress: 127.0.0.3 }',
    'resolve:',
    `  ${CATALOG_HOST}: 127.0.0.1`,
    'allowDestinations: [127.0.0.0/8]',
    `ports: [80, 443, ${ports.join(', ')}]`,
    'store:',
    `  kind: ${store}`,
    `  path: ${join(dir, `flows-${store}.${store === 'jsonl' ? 'jsonl' : 'duckdb'}`)}`,
    // The default level (info): one JSON line per flow, as a deployed gateway writes.
    'log:',
    `  file: ${join(dir, `gateway-${store}.log`)}`,
    'limits:',
    '  maxConnections: 60000',
    '  drainTimeoutMs: 0',
  ].join('\n');
  const file = join(dir, `gateway-${store}.yaml`);
  writeFileSync(file, `${config}\n`);
  const extra = process.env.PATHWARDEN_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = track(
    // prlimit execs the command: the child's pid is the gateway's.
    spawn(
      prefix[0] ?? process.execPath,
      [
        ...prefix.slice(1),
        ...(prefix.length > 0 ? [process.execPath] : []),
        ...extra,
        cli,
        'gateway',
        '--config',
        file,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        cwd: dir,
      },
    ),
  );
  const port = await announcedPort(child, name, /proxy on 127\.0\.0\.1:(\d+)/);
  await sleep(500);
  return {
    name,
    port,
    pid: child.pid as number,
    host: CATALOG_HOST,
    startRssMb: statusField(child.pid as number, 'VmRSS') ?? Number.NaN,
    close: () => stopChild(child),
  };
}

async function startSquid(dir: string): Promise<Proxy> {
  const squidDir = mkdtempSync(join(dir, 'squid-'));
  // Squid started as root drops to `proxy`, which must be able to write its logs and pid here.
  chmodSync(squidDir, 0o777);
  const port = await freePort();
  const config = [
    `http_port 127.0.0.1:${port}`,
    `pid_filename ${join(squidDir, 'squid.pid')}`,
    'cache deny all',
    'cache_mem 8 MB',
    // Squid's default: the access log, written by its log daemon helper.
    `access_log daemon:${join(squidDir, 'access.log')} squid`,
    `cache_log ${join(squidDir, 'cache.log')}`,
    'cache_store_log none',
    `coredump_dir ${squidDir}`,
    'cache_effective_user proxy',
    'pinger_enable off',
    'acl loopback src 127.0.0.0/8',
    'http_access allow loopback',
    'http_access deny all',
    'shutdown_lifetime 1 second',
    `hosts_file ${join(squidDir, 'hosts')}`,
  ].join('\n');
  writeFileSync(join(squidDir, 'squid.conf'), `${config}\n`);
  writeFileSync(join(squidDir, 'hosts'), `127.0.0.1 ${CATALOG_HOST}\n`);
  const child = track(spawn(SQUID, ['-N', '-f', join(squidDir, 'squid.conf')], { stdio: 'ignore' }));
  try {
    await waitForPort(port, child, 'squid');
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    name: 'Squid 5.7',
    port,
    pid: child.pid as number,
    host: CATALOG_HOST,
    close: () => stopChild(child),
  };
}

async function startTinyproxy(dir: string): Promise<Proxy> {
  const tinyDir = mkdtempSync(join(dir, 'tinyproxy-'));
  chmodSync(tinyDir, 0o777);
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'User nobody',
    'Group nogroup',
    'Timeout 600',
    'MaxClients 200',
    `LogFile "${join(tinyDir, 'tinyproxy.log')}"`,
    'LogLevel Error',
    `PidFile "${join(tinyDir, 'tinyproxy.pid')}"`,
    'Allow 127.0.0.1',
    'DisableViaHeader Yes',
  ].join('\n');
  writeFileSync(join(tinyDir, 'tinyproxy.conf'), `${config}\n`);
  const child = track(spawn(TINYPROXY, ['-d', '-c', join(tinyDir, 'tinyproxy.conf')], { stdio: 'ignore' }));
  try {
    await waitForPort(port, child, 'tinyproxy');
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return {
    name: 'tinyproxy',
    port,
    pid: child.pid as number,
    host: '127.0.0.1',
    close: () => stopChild(child),
  };
}

/**
 * The port a proxy under test names on stderr once it listens (`announced` captures it). Rejects,
 * with what the child wrote, when it exits first or has not named one within 30 s.
 */
function announcedPort(child: ChildProcess, name: string, announced: RegExp): Promise<number> {
  let stderr = '';
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${stderr}`)), 30_000);
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
      const match = announced.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${stderr}`));
    });
  });
}

/**
 * `--floor`: the minimal Node.js relay (bench/lib/floor-relay.ts) in a process of its own, started
 * like a gateway (same node, same open-files prefix): plain HTTP passed through to the HTTP origin,
 * CONNECT to the catalog name mapped to 127.0.0.1 as the gateways' `resolve` and Squid's hosts_file do.
 */
async function startFloor(httpPort: number, prefix: readonly string[] = []): Promise<Proxy> {
  const child = track(
    spawn(
      prefix[0] ?? process.execPath,
      [
        ...prefix.slice(1),
        ...(prefix.length > 0 ? [process.execPath] : []),
        // The relay's full collections once its connections have stopped coming (idle memory).
        '--expose-gc',
        FLOOR_RELAY,
        '--origin',
        `127.0.0.1:${httpPort}`,
        '--map',
        `${CATALOG_HOST}=127.0.0.1`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  const port = await announcedPort(child, FLOOR_NAME, /floor relay on 127\.0\.0\.1:(\d+)/);
  await sleep(500);
  return {
    name: FLOOR_NAME,
    port,
    pid: child.pid as number,
    host: CATALOG_HOST,
    startRssMb: statusField(child.pid as number, 'VmRSS') ?? Number.NaN,
    close: () => stopChild(child),
  };
}

// ---------------------------------------------------------------------------------------------
// wrk.

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  /** wrk's own words for the errors ("Socket errors: ...", "Non-2xx ..."), when any. */
  errorText: string;
  /** CPU time the proxy (with its helper processes) spent per request, microseconds; NaN direct. */
  cpuUs: number;
  /**
   * CPU time wrk and the origin (this process) spent per request, microseconds: what the request
   * costs without a proxy's part, for every contender, direct included.
   */
  sidesUs: number;
}

/** "1.23ms" / "850.00us" / "1.01s" -> microseconds. */
function parseDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`wrk latency not understood: ${text}`);
  const scale = { us: 1, ms: 1e3, s: 1e6, m: 6e7 }[match[2] as 'us' | 'ms' | 's' | 'm'];
  return Number(match[1]) * scale;
}

export function parseWrk(output: string): WrkResult {
  const percentile = (p: string) => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(output);
    if (!match) throw new Error(`wrk output has no ${p}% line:\n${output}`);
    return parseDuration(match[1] as string);
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const requests = /(\d+) requests in/.exec(output);
  if (!rps || !requests) throw new Error(`wrk output not understood:\n${output}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const errors =
    (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) +
    (non2xx ? Number(non2xx[1]) : 0);
  const errorText = [socketErrors?.[0], non2xx?.[0]].filter(Boolean).join('; ');
  return {
    rps: Number(rps[1]),
    p50: percentile('50'),
    p99: percentile('99'),
    requests: Number(requests[1]),
    errors,
    errorText,
    cpuUs: Number.NaN,
    sidesUs: Number.NaN,
  };
}

/**
 * CPU seconds (user + system) of a process and its descendants (Squid's log daemon), from /proc:
 * on a shared machine, CPU per request moves far less with the load than wall-clock rates do.
 */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const id of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${id}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100; // USER_HZ
}

/**
 * CPU seconds (user + system) of this process, which runs the origins, plus those of its children
 * that have exited and been reaped (wrk): read around a wrk line, whose wrk is the only child to
 * exit meanwhile, the difference is what the client and the origin spent on it.
 */
function sidesCpuSeconds(): number {
  const self = process.cpuUsage();
  return (self.user + self.system) / 1e6 + (childrenCpuSeconds() ?? Number.NaN);
}

/**
 * How long past a --fifo wrk line's length its watchdog waits before it acts: wrk's own --timeout
 * (5 s), its start, and the setting back of every thread by this process (a few chrt calls).
 */
const WATCHDOG_SLACK_MS = 15_000;

/**
 * `run` with `processes` under SCHED_FIFO (--fifo), all back under SCHED_OTHER after it; undefined,
 * without running, when they could not all be put under it, and undefined too when the watchdog
 * had to set them back (the line overran: not a measurement under SCHED_FIFO). One connection
 * keeps wrk, the origin and the proxy at about one CPU together, under the kernel's real-time
 * throttling (95 % of each second), so the rest of the machine still runs; but a process that
 * spins under SCHED_FIFO starves this one (same priority, no time slices), which then cannot set
 * it back: the watchdog (lib/fifo-watchdog.ts), started first and above them, does at `seconds` +
 * WATCHDOG_SLACK_MS, or at once if this process dies; `run` gives it the pids it starts (wrk).
 */
async function underFifo<T>(
  processes: readonly number[],
  seconds: number,
  run: (watch: (pid: number) => void) => Promise<T>,
): Promise<T | undefined> {
  const watchdog = await startFifoWatchdog({
    pids: processes,
    afterMs: seconds * 1000 + WATCHDOG_SLACK_MS,
  });
  if (watchdog === undefined) return undefined;
  let value: T | undefined;
  try {
    if (setFifo(processes, true)) value = await run(watchdog.watch);
  } finally {
    const back = setFifo(processes, false);
    if (!back)
      process.stderr.write(
        `bench: warning: threads of ${processes.join(', ')} still under SCHED_FIFO; the watchdog sets them back\n`,
      );
    // A watchdog that died without its report must not hide run()'s error or end the bench: the
    // threads were set back above (or the warning says they were not), so the line is left out.
    const report = await watchdog.finish(back ? 'done' : 'now').catch((error: unknown) => {
      process.stderr.write(
        `bench: warning: ${error instanceof Error ? error.message : String(error)}; the line is left out\n`,
      );
      return undefined;
    });
    if (report === undefined) value = undefined;
    else if (report.acted !== 'done') {
      value = undefined;
      process.stderr.write(
        `bench: warning: the --fifo watchdog acted (${report.acted}): ${report.reset} of ${report.found} real-time threads set back${report.killed.length > 0 ? `, processes ${report.killed.join(', ')} killed` : ''}; the line is left out\n`,
      );
    }
  }
  return value;
}

/** Each figure's median over the rounds; errors summed. */
function medianResult(results: readonly WrkResult[]): WrkResult {
  const pick = (field: 'rps' | 'p50' | 'p99' | 'requests' | 'cpuUs' | 'sidesUs') =>
    median(results.map((r) => r[field]));
  return {
    rps: pick('rps'),
    p50: pick('p50'),
    p99: pick('p99'),
    requests: pick('requests'),
    cpuUs: pick('cpuUs'),
    sidesUs: pick('sidesUs'),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    errorText: results
      .map((r) => r.errorText)
      .filter(Boolean)
      .join(' | '),
  };
}

async function runWrk(
  target: { port: number; host: string; originPort: number; proxied: boolean },
  connections: number,
  seconds: number,
  dir: string,
  fifo = false,
  /** Given wrk's pid once it runs (the --fifo watchdog watches it). */
  started?: (pid: number) => void,
): Promise<WrkResult> {
  const args = [
    `-c${connections}`,
    `-t${Math.min(connections, 2)}`,
    `-d${seconds}s`,
    '--latency',
    '--timeout',
    '5s',
  ];
  if (target.proxied) {
    // wrk sends to the address of its URL argument (the proxy); the script writes the absolute-form
    // request line and the origin's Host. Static request: wrk formats it once.
    const script = join(dir, `wrk-${target.port}.lua`);
    const authority = `${target.host}:${target.originPort}`;
    writeFileSync(
      script,
      `wrk.method = "GET"\nwrk.path = "http://${authority}/"\nwrk.headers["Host"] = "${authority}"\n`,
    );
    args.push('-s', script, `http://127.0.0.1:${target.port}/`);
  } else {
    args.push(`http://127.0.0.1:${target.originPort}/`);
  }
  const child = track(
    fifo
      ? spawn(CHRT, ['-f', String(MEASURED_PRIORITY), WRK, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(WRK, args, { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  if (child.pid !== undefined) started?.(child.pid);
  let output = '';
  child.stdout?.on('data', (data: Buffer) => {
    output += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    output += data.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${output}`);
  return parseWrk(output);
}

// ---------------------------------------------------------------------------------------------
// CONNECT tunnels.

/** Reads a CONNECT answer's head; resolves with the bytes after it. */
function awaitConnectAnswer(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      head = Buffer.concat([head, data]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) reject(new Error('CONNECT answer head too large'));
        return;
      }
      socket.off('data', onData);
      socket.off('error', reject);
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString();
      if (!/^HTTP\/1\.[01] 200/.test(statusLine)) {
        socket.destroy();
        reject(new Error(`CONNECT refused: ${statusLine}`));
        return;
      }
      resolve(head.subarray(end + 4));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/**
 * Child mode (`--tunnel-client PORT ORIGIN_PORT BYTES [HOST]`): reads BYTES from the origin,
 * directly or (with HOST) through a CONNECT to the proxy on PORT; prints the seconds it took. A
 * separate process, so the origin (in the bench process) and the reader do not share one thread.
 */
async function tunnelClient(
  port: number,
  originPort: number,
  expected: number,
  host: string | undefined,
): Promise<void> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const socket = connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  let received = 0;
  if (host !== undefined) {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(`CONNECT ${host}:${originPort} HTTP/1.1\r\nHost: ${host}:${originPort}\r\n\r\n`);
    received += (await awaitConnectAnswer(socket)).length;
  }
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (data: Buffer) => {
      received += data.length;
    });
    socket.once('end', () => resolve());
    socket.once('error', reject);
  });
  socket.destroy();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  if (received !== expected) throw new Error(`tunnel transfer got ${received} of ${expected} bytes`);
  // Its own CPU over the transfer, not node's start-up before it.
  process.stdout.write(`${seconds} ${(used.user + used.system) / 1e6}\n`);
}

/**
 * One transfer through `proxy` (directly without one): MB/s, seconds, and the CPU seconds the
 * reader (its own count over the transfer) and the origin (this process) spent on it.
 */
async function tunnelTransfer(
  originPort: number,
  expected: number,
  proxy: Proxy | undefined,
): Promise<{ mbPerSecond: number; seconds: number; sidesCpu: number }> {
  const originBefore = process.cpuUsage();
  const args = [
    SELF,
    '--tunnel-client',
    String(proxy?.port ?? originPort),
    String(originPort),
    String(expected),
  ];
  if (proxy) args.push(proxy.host);
  const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  let output = '';
  child.stdout?.on('data', (data: Buffer) => {
    output += data.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const origin = process.cpuUsage(originBefore);
  const [seconds, readerCpu] = output.trim().split(' ').map(Number) as [number, number];
  if (code !== 0 || !(seconds > 0)) throw new Error(`tunnel client exited with ${code}: ${output}`);
  return {
    mbPerSecond: expected / 2 ** 20 / seconds,
    seconds,
    sidesCpu: readerCpu + (origin.user + origin.system) / 1e6,
  };
}

/**
 * Child mode (`--idle-client PROXY_PORT HOST ORIGIN_PORT N open|peek`): opens N CONNECT tunnels
 * (`open`: each sends one byte after the 200, so that the gateway opens it), prints
 * `open OK FAILED`, then holds them until stdin closes. A separate process: the bench itself
 * holds the origin's side of every tunnel, and one process may not have enough descriptors for both.
 */
async function idleClient(
  proxyPort: number,
  host: string,
  originPort: number,
  count: number,
  open: boolean,
): Promise<void> {
  const sockets: Socket[] = [];
  let ok = 0;
  let failed = 0;
  let next = 0;
  let firstError = '';
  const openOne = async (): Promise<void> => {
    const socket = connect({ host: '127.0.0.1', port: proxyPort });
    sockets.push(socket);
    socket.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      socket.write(`CONNECT ${host}:${originPort} HTTP/1.1\r\nHost: ${host}:${originPort}\r\n\r\n`);
      await awaitConnectAnswer(socket);
      if (open) socket.write('\n');
      ok++;
    } catch (error) {
      failed++;
      firstError ||= String(error);
    }
  };
  // At most 200 handshakes in flight, so listen backlogs do not overflow.
  await Promise.all(
    Array.from({ length: 200 }, async () => {
      while (next < count) {
        next++;
        await openOne();
      }
    }),
  );
  process.stdout.write(`open ${ok} ${failed} ${JSON.stringify(firstError)}\n`);
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  for (const socket of sockets) socket.destroy();
}

interface IdleResult {
  opened: number;
  failed: number;
  baseRssMb: number;
  rssMb: number;
  /** VmRSS 5 s after the last tunnel opened (before the gateway's idle release, which waits 6 s of quiet). */
  rss5sMb: number;
  /** RssAnon with the tunnels open: VmRSS without the file-backed pages (node's and DuckDB's code). */
  anonMb: number;
  hwmMb: number;
  error: string;
}

async function idleTunnels(
  proxy: Proxy,
  origins: Origins,
  count: number,
  settleMs: number,
  open: boolean,
): Promise<IdleResult> {
  await sleep(500);
  const baseRssMb = statusField(proxy.pid, 'VmRSS') ?? Number.NaN;
  const child = track(
    spawn(
      process.execPath,
      [
        SELF,
        '--idle-client',
        String(proxy.port),
        proxy.host,
        String(origins.holdPort),
        String(count),
        open ? 'open' : 'peek',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
  let output = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      const newline = output.indexOf('\n');
      if (newline >= 0) resolve(output.slice(0, newline));
    });
    child.once('exit', (code) => reject(new Error(`idle client exited with ${code}`)));
  });
  const [, opened, failed, error] = /^open (\d+) (\d+) (.*)$/.exec(line) ?? [];
  const early = Math.min(settleMs, 5000);
  await sleep(early);
  const rss5sMb = statusField(proxy.pid, 'VmRSS') ?? Number.NaN;
  await sleep(settleMs - early);
  const rssMb = statusField(proxy.pid, 'VmRSS') ?? Number.NaN;
  const hwmMb = statusField(proxy.pid, 'VmHWM') ?? Number.NaN;
  const anonMb = statusField(proxy.pid, 'RssAnon') ?? Number.NaN;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
  // Let the gateway and the origin see the closes before the next step.
  for (let i = 0; i < 100 && origins.held.size > 0; i++) await sleep(100);
  return {
    opened: Number(opened),
    failed: Number(failed),
    baseRssMb,
    rssMb,
    rss5sMb,
    anonMb,
    hwmMb,
    error: JSON.parse(error ?? '""') as string,
  };
}

/**
 * Per tunnel: what the tunnels added over the RSS just before them, KB, read at 5 s: like the RSS
 * before the tunnels, that reading comes before the gateway's idle release, so the memory the
 * release gives back is not taken for the tunnels' own (it would understate them).
 */
const perTunnelKb = (r: IdleResult) =>
  r.opened > 0 ? Math.max(0, ((r.rss5sMb - r.baseRssMb) * 1024) / r.opened) : 0;
/**
 * The RSS measured with the tunnels (after the idle release) plus the growth per tunnel for the
 * tunnels short of 10,000, MB.
 */
const projected = (r: IdleResult) => r.rssMb + (perTunnelKb(r) * Math.max(0, 10_000 - r.opened)) / 1024;

/** The idle-tunnel section of the report. */
function idleTable(
  idle: ReadonlyMap<string, IdleResult>,
  proxies: readonly Proxy[],
  tunnels: number,
  asked: number,
  descriptors: DescriptorPlan,
): string[] {
  const withFloor = idle.has(FLOOR_NAME);
  const out = [
    '',
    withFloor
      ? `## Idle CONNECT tunnels through pathwarden and the ${FLOOR_NAME} (proxy process RSS, /proc/PID/status)`
      : '## Idle CONNECT tunnels through pathwarden (gateway process RSS, /proc/PID/status)',
    '',
  ];
  out.push(
    formatTable(
      [
        'gateway',
        'tunnels open',
        'failed',
        'RSS at start MB',
        'RSS before tunnels MB',
        'RSS at 5 s MB',
        'RSS with tunnels MB',
        'of it anon MB',
        'KB per tunnel',
        'at 10,000 (projected) MB',
        'peak (VmHWM) MB',
      ],
      [...idle].map(([name, r]) => [
        name,
        String(r.opened),
        String(r.failed),
        (proxies.find((p) => p.name === name)?.startRssMb ?? Number.NaN).toFixed(1),
        r.baseRssMb.toFixed(1),
        r.rss5sMb.toFixed(1),
        r.rssMb.toFixed(1),
        r.anonMb.toFixed(1),
        perTunnelKb(r).toFixed(1),
        projected(r).toFixed(1),
        r.hwmMb.toFixed(1),
      ]),
    ),
  );
  out.push(
    '',
    `rss       "RSS with tunnels" is read --idle-settle s after the last tunnel opened; a gateway gives memory back once quiet for 6 s (src/gateway/idle-release.ts), so a settle under that shows it before`,
  );
  out.push(`fds       ${descriptors.note}`);
  if (withFloor)
    out.push(
      `floor     the ${FLOOR_NAME} relays each tunnel from its 200 on (with or without --idle-open); its idle release: a full collection 3 s after the last new connection, another 6 s later`,
    );
  if (tunnels < asked) {
    out.push(
      `tunnels   ${tunnels} instead of ${asked}: the gateway admits ${descriptors.gateLimit} connections under an open-files limit of ${descriptors.limit} (two descriptors each plus a reserve); the 10,000 column adds the measured per-tunnel growth`,
    );
  }
  for (const [name, r] of idle) if (r.error) out.push(`error     ${name}: ${r.error}`);
  return out;
}

/**
 * The RSS target's row: under 150 MB both as measured and projected to 10,000, with every tunnel
 * open and as many as the gateway admits up to 10,000 (a smaller `--tunnels` projects too far).
 */
function idleTargetRow(name: string, r: IdleResult, gateLimit: number): string[] {
  const complete = r.opened >= Math.min(10_000, gateLimit) && r.failed === 0;
  return [
    name,
    `RSS at ${r.opened} idle tunnels`,
    '< 150 MB',
    `${r.rssMb.toFixed(1)} MB (10,000 projected: ${projected(r).toFixed(1)} MB)`,
    verdict(r.rssMb < 150 && projected(r) < 150 && complete),
  ];
}

/**
 * `--idle-only`: fresh gateways (no HTTP or transfer load before), the idle tunnels through each,
 * and the RSS target; no wrk, Squid or tinyproxy needed.
 */
async function idleOnly(options: Options, descriptors: DescriptorPlan, tunnels: number): Promise<void> {
  const loadStart = load();
  const startedAt = new Date().toISOString();
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-gateway-'));
  const origins = await startOrigins(1);
  const ports = [origins.httpPort, origins.streamPort, origins.holdPort];
  const proxies: Proxy[] = [];
  const log = (text: string) => process.stderr.write(`${text}\n`);
  try {
    const idle = new Map<string, IdleResult>();
    /** Holds the idle tunnels through `proxy`, then closes it. */
    const hold = async (proxy: Proxy) => {
      proxies.push(proxy);
      log(`idle tunnels: ${proxy.name}, ${tunnels}`);
      idle.set(
        proxy.name,
        await idleTunnels(proxy, origins, tunnels, options.idleSettle * 1000, options.idleOpen),
      );
      await proxy.close();
    };
    // The floor first, as in the full run.
    if (options.floor) await hold(await startFloor(origins.httpPort, descriptors.prefix));
    for (const store of options.stores)
      await hold(
        await startPathwarden(`pathwarden (${store})`, store, ports, dir, options.cli, descriptors.prefix),
      );
    const out = ['# pathwarden gateway benchmark: idle tunnels only (--idle-only)', ''];
    out.push(`date      ${startedAt}`);
    out.push(`node      ${process.version} (${process.platform}/${process.arch})`);
    out.push(`load      ${loadStart} at start, ${load()} at end (1, 5, 15 min)`);
    out.push(
      `note      fresh gateways (no HTTP or transfer load before the tunnels); RSS read ${options.idleSettle} s after the last tunnel opened`,
    );
    if (options.idleOpen)
      out.push('note      --idle-open: each tunnel sent one byte after the 200 (open, relaying)');
    if (process.env.PATHWARDEN_BENCH_NODE_ARGS)
      out.push(`node args ${process.env.PATHWARDEN_BENCH_NODE_ARGS} (PATHWARDEN_BENCH_NODE_ARGS)`);
    out.push(...idleTable(idle, proxies, tunnels, options.tunnels, descriptors));
    out.push('', '## Target (issue 12 item 4)', '');
    out.push(
      formatTable(
        ['gateway', 'figure', 'target', 'measured', 'result'],
        [...idle].map(([name, r]) => idleTargetRow(name, r, descriptors.gateLimit)),
      ),
    );
    if (options.floor)
      out.push(
        ...floorTable(
          options.stores.map((store) => `pathwarden (${store})`),
          { idle },
        ),
      );
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const proxy of proxies) await proxy.close().catch(() => {});
    await origins.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Transfer {
  mbPerSecond: number;
  seconds: number;
  cpuMsPerMb: number;
  /** The reader's and the origin's CPU per MiB (direct: all of the transfer's CPU). */
  sidesMsPerMb: number;
  /** CPU of the proxy, the reader and the origin over the transfer's seconds: cores kept busy. */
  busyCores: number;
  /** Every round's MB/s, in order (the medians hide how much direct moved). */
  rounds: number[];
}

/**
 * `--rounds` rounds of one CONNECT transfer per contender, alternating within each round; the
 * median of each figure. The proxy's CPU (from /proc/PID/stat) over the transfer per MiB.
 */
async function transferRounds(
  contenders: readonly { name: string; proxy: Proxy | undefined }[],
  streamPort: number,
  options: Options,
  log: (text: string) => void,
): Promise<Map<string, Transfer>> {
  const tunnelBytes = options.tunnelMb * 2 ** 20;
  const transfers = new Map<
    string,
    { mbPerSecond: number; seconds: number; cpuMsPerMb: number; sidesMsPerMb: number; busyCores: number }[]
  >();
  for (let round = 1; round <= options.rounds; round++) {
    for (const { name, proxy } of contenders) {
      log(`tunnel: round ${round}/${options.rounds}, ${name}, ${options.tunnelMb} MB`);
      const seen = transfers.get(name) ?? [];
      const before = proxy ? cpuSeconds(proxy.pid) : 0;
      const result = await tunnelTransfer(streamPort, tunnelBytes, proxy);
      const proxyCpu = proxy ? cpuSeconds(proxy.pid) - before : 0;
      seen.push({
        mbPerSecond: result.mbPerSecond,
        seconds: result.seconds,
        cpuMsPerMb: proxy ? (proxyCpu * 1000) / options.tunnelMb : Number.NaN,
        sidesMsPerMb: (result.sidesCpu * 1000) / options.tunnelMb,
        busyCores: (proxyCpu + result.sidesCpu) / result.seconds,
      });
      transfers.set(name, seen);
      await sleep(500);
    }
  }
  const transfer = new Map<string, Transfer>();
  for (const [name, seen] of transfers) {
    transfer.set(name, {
      mbPerSecond: median(seen.map((t) => t.mbPerSecond)),
      seconds: median(seen.map((t) => t.seconds)),
      cpuMsPerMb: median(seen.map((t) => t.cpuMsPerMb)),
      sidesMsPerMb: median(seen.map((t) => t.sidesMsPerMb)),
      busyCores: median(seen.map((t) => t.busyCores)),
      rounds: seen.map((t) => t.mbPerSecond),
    });
  }
  return transfer;
}

/** The transfer table; the Squid columns are `-` when Squid did not run. */
const ONE_CONNECTION_HEADERS = [
  'req/s @1',
  'vs Squid',
  'p50 @1',
  'p50 added @1',
  'p99 @1',
  'vs Squid',
  'errors @1',
];

/** A contender's 1-connection figures, beside Squid's and the direct p50 of the same runs. */
function oneConnectionCells(name: string, result: WrkResult, squid: WrkResult, direct: WrkResult): string[] {
  return [
    rate(result.rps),
    ratio(result.rps, squid.rps),
    us(result.p50),
    name === 'direct' ? '-' : us(result.p50 - direct.p50),
    us(result.p99),
    ratio(result.p99, squid.p99),
    String(result.errors),
  ];
}

/** The 1-connection runs under SCHED_FIFO (--fifo), beside Squid's. */
function fifoTable(
  contenders: readonly { name: string }[],
  fifo: ReadonlyMap<string, WrkResult>,
  directPlain: WrkResult,
  squidName: string,
  skipped: number,
): string[] {
  const squid = fifo.get(squidName);
  if (squid === undefined)
    return ['', '--fifo: not run (SCHED_FIFO could not be set: it needs root or CAP_SYS_NICE)'];
  const direct = fifo.get('direct') ?? directPlain;
  const rows = contenders.flatMap(({ name }) => {
    const result = fifo.get(name);
    if (result === undefined) return [];
    return [
      [
        name,
        ...oneConnectionCells(name, result, squid, direct),
        Number.isNaN(result.cpuUs) ? '-' : result.cpuUs.toFixed(0),
      ],
    ];
  });
  return [
    '',
    '## One connection under SCHED_FIFO (--fifo: wrk, the origin and the proxy not preempted by other jobs)',
    '',
    formatTable(['path', ...ONE_CONNECTION_HEADERS, 'CPU us/req @1'], rows),
    ...(skipped > 0
      ? [`skipped   ${skipped} run(s) whose processes could not all be put under SCHED_FIFO`]
      : []),
  ];
}

function transferTable(
  contenders: readonly { name: string }[],
  transfer: ReadonlyMap<string, Transfer>,
  squidName: string | undefined,
  tunnelMb: number,
): string[] {
  const directMb = (transfer.get('direct') as Transfer).mbPerSecond;
  const squid = squidName === undefined ? undefined : transfer.get(squidName);
  return [
    '',
    '## CONNECT tunnel throughput',
    '',
    formatTable(
      [
        'path',
        'MB',
        'seconds',
        'MB/s',
        'vs direct',
        'vs Squid',
        'proxy CPU ms/MB',
        'vs Squid',
        'MB/s per round',
      ],
      contenders.map(({ name }) => {
        const t = transfer.get(name) as Transfer;
        return [
          name,
          String(tunnelMb),
          t.seconds.toFixed(2),
          t.mbPerSecond.toFixed(0),
          (t.mbPerSecond / directMb).toFixed(2),
          squid ? (t.mbPerSecond / squid.mbPerSecond).toFixed(2) : '-',
          Number.isNaN(t.cpuMsPerMb) ? '-' : t.cpuMsPerMb.toFixed(2),
          squid ? ratio(t.cpuMsPerMb, squid.cpuMsPerMb) : '-',
          t.rounds.map((r) => r.toFixed(0)).join(' '),
        ];
      }),
    ),
  ];
}

/**
 * CPU per request (50 connections) and per MiB of the transfer for every contender, direct included:
 * the proxy's own (from /proc/PID/stat) and the sides' (wrk or the tunnel's reader, with the origin in
 * this process). On `cores` saturated cores a path costing T us of CPU per request runs at most
 * cores x 1e6 / T requests/s, and a proxy that adds P ms per MiB to a transfer whose sides then cost
 * S reaches at most D / (S + P) of direct, D being direct's whole cost per MiB (the "ceiling" columns;
 * a bound from CPU alone: a direct transfer that does not keep the cores busy is below its own).
 */
function cpuTable(
  contenders: readonly { name: string }[],
  http: ReadonlyMap<string, { c50: WrkResult }> | undefined,
  transfer: ReadonlyMap<string, Transfer>,
  cores: number,
): string[] {
  const direct = transfer.get('direct') as Transfer;
  const directMs = direct.sidesMsPerMb;
  const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
  const header = [
    'path',
    ...(http
      ? ['proxy us/req @50', 'wrk+origin us/req @50', 'total us/req', `req/s ceiling (${cores} cores)`]
      : []),
    'proxy ms/MB',
    'reader+origin ms/MB',
    'total ms/MB',
    'cores busy',
    'MB/s ceiling vs direct',
  ];
  const rows = contenders.map(({ name }) => {
    const t = transfer.get(name) as Transfer;
    const proxyMs = Number.isNaN(t.cpuMsPerMb) ? 0 : t.cpuMsPerMb;
    const cells = [name];
    if (http) {
      const c50 = (http.get(name) as { c50: WrkResult }).c50;
      const total = (Number.isNaN(c50.cpuUs) ? 0 : c50.cpuUs) + c50.sidesUs;
      cells.push(
        Number.isNaN(c50.cpuUs) ? '-' : c50.cpuUs.toFixed(1),
        fixed(c50.sidesUs, 1),
        fixed(total, 1),
        total > 0 ? rate((cores * 1e6) / total) : '-',
      );
    }
    cells.push(
      Number.isNaN(t.cpuMsPerMb) ? '-' : t.cpuMsPerMb.toFixed(2),
      fixed(t.sidesMsPerMb, 2),
      fixed(proxyMs + t.sidesMsPerMb, 2),
      fixed(t.busyCores, 2),
      fixed(directMs / (proxyMs + t.sidesMsPerMb), 2),
    );
    return cells;
  });
  return [
    '',
    '## CPU per request and per MB (user + system, /proc/PID/stat; direct: wrk or the reader, and the origin)',
    '',
    formatTable(header, rows),
    '',
    `ceiling   on ${cores} saturated cores: req/s <= cores x 1e6 / total us per request; MB/s vs direct <= direct's total ms/MB / this path's total ms/MB (CPU alone: "cores busy" shows whether the cores were saturated)`,
  ];
}

/** What `floorTable` compares; each part only when that part of the run ran. */
interface FloorParts {
  http?: ReadonlyMap<string, { c50: WrkResult; c1: WrkResult }>;
  squid?: string;
  transfer?: ReadonlyMap<string, Transfer>;
  idle?: ReadonlyMap<string, IdleResult>;
  /** The 1-connection runs under SCHED_FIFO (--fifo), when they ran. */
  fifo?: ReadonlyMap<string, WrkResult>;
}

/**
 * `--floor`: per target, the node floor's figure (the best a Node.js proxy reached in this run), its
 * result, and each gateway's figure with its distance to the floor. A target the floor misses is
 * out of reach for any Node.js proxy in this run, on this machine.
 */
function floorTable(gateways: readonly string[], parts: FloorParts): string[] {
  const { http, squid, transfer, idle, fifo } = parts;
  const rows: string[][] = [];
  /**
   * One figure: `value` of a contender (the floor or a gateway), `show` it, whether it meets the
   * target (`pass`; undefined for a figure without one), and which way is better. The "best Node.js
   * proxy" column is the best of the floor and the gateways: where a gateway beats the floor, the
   * floor is not the floor of that figure, and the gateway's figure is what Node reached.
   */
  const row = (figure: {
    name: string;
    target: string;
    higherIsBetter: boolean;
    value: (contender: string) => number;
    show: (contender: string) => string;
    pass?: (value: number) => boolean;
    /** The gateway's distance to the floor; default: the ratio of the values. */
    distance?: (gateway: number, floor: number) => string;
    /** Direct's figure, where it has one: what the machine gives without any proxy. */
    direct?: string;
  }) => {
    const floorValue = figure.value(FLOOR_NAME);
    const distance = figure.distance ?? ((gateway, floor) => ratio(gateway, floor));
    const best = [FLOOR_NAME, ...gateways].reduce((a, b) => {
      const [va, vb] = [figure.value(a), figure.value(b)];
      return (figure.higherIsBetter ? vb > va : vb < va) ? b : a;
    });
    rows.push([
      figure.name,
      figure.target,
      figure.direct ?? '-',
      figure.show(FLOOR_NAME),
      figure.pass ? verdict(figure.pass(floorValue)) : '-',
      ...gateways.flatMap((name) => [figure.show(name), distance(figure.value(name), floorValue)]),
      best === FLOOR_NAME
        ? 'the floor'
        : `${best}${figure.pass ? `: ${verdict(figure.pass(figure.value(best)))}` : ''}`,
    ]);
  };
  if (http && squid) {
    const q = http.get(squid) as { c50: WrkResult; c1: WrkResult };
    const h = (name: string) => http.get(name) as { c50: WrkResult; c1: WrkResult };
    row({
      name: 'req/s @50 vs Squid',
      target: '>= 1.30x',
      higherIsBetter: true,
      value: (name) => h(name).c50.rps / q.c50.rps,
      show: (name) => `${ratio(h(name).c50.rps, q.c50.rps)} (${rate(h(name).c50.rps)})`,
      pass: (value) => value >= 1.3,
      direct: `${ratio(h('direct').c50.rps, q.c50.rps)} (${rate(h('direct').c50.rps)})`,
    });
    row({
      name: 'p99 @50 vs Squid',
      target: '<= 1.00x',
      higherIsBetter: false,
      value: (name) => h(name).c50.p99,
      show: (name) => `${us(h(name).c50.p99)} (${ratio(h(name).c50.p99, q.c50.p99)})`,
      pass: (value) => value <= q.c50.p99,
      direct: `${us(h('direct').c50.p99)} (${ratio(h('direct').c50.p99, q.c50.p99)})`,
    });
    row({
      name: 'p99 @1',
      target: '<= 2 ms',
      higherIsBetter: false,
      value: (name) => h(name).c1.p99,
      show: (name) => us(h(name).c1.p99),
      pass: (value) => value <= 2000,
      direct: us(h('direct').c1.p99),
    });
    const f = (name: string) => fifo?.get(name);
    if ([FLOOR_NAME, ...gateways].every((name) => f(name) !== undefined)) {
      row({
        name: 'p99 @1, SCHED_FIFO',
        target: '<= 2 ms',
        higherIsBetter: false,
        value: (name) => (f(name) as WrkResult).p99,
        show: (name) => us((f(name) as WrkResult).p99),
        pass: (value) => value <= 2000,
        direct: f('direct') ? us((f('direct') as WrkResult).p99) : '-',
      });
    }
    row({
      name: `proxy CPU us/req @50 (Squid ${q.c50.cpuUs.toFixed(1)})`,
      target: '-',
      higherIsBetter: false,
      value: (name) => h(name).c50.cpuUs,
      show: (name) => h(name).c50.cpuUs.toFixed(1),
    });
  }
  if (transfer) {
    const d = transfer.get('direct') as Transfer;
    const t = (name: string) => transfer.get(name) as Transfer;
    const ceiling = (name: string) => d.sidesMsPerMb / (t(name).cpuMsPerMb + t(name).sidesMsPerMb);
    row({
      name: 'tunnel MB/s vs direct',
      target: '>= 0.85',
      higherIsBetter: true,
      value: (name) => t(name).mbPerSecond / d.mbPerSecond,
      show: (name) =>
        `${(t(name).mbPerSecond / d.mbPerSecond).toFixed(2)} (${t(name).mbPerSecond.toFixed(0)} MB/s)`,
      pass: (value) => value >= 0.85,
      direct: `1.00 (${d.mbPerSecond.toFixed(0)} MB/s)`,
    });
    row({
      name: 'tunnel CPU ceiling vs direct',
      target: '>= 0.85',
      higherIsBetter: true,
      value: ceiling,
      show: (name) => ceiling(name).toFixed(2),
      pass: (value) => value >= 0.85,
      direct: `1.00 (${d.sidesMsPerMb.toFixed(2)} ms/MB, ${d.busyCores.toFixed(2)} cores busy)`,
    });
    row({
      name: 'proxy CPU ms/MB',
      target: '-',
      higherIsBetter: false,
      value: (name) => t(name).cpuMsPerMb,
      show: (name) => t(name).cpuMsPerMb.toFixed(2),
    });
  }
  if (idle) {
    const r = (name: string) => idle.get(name) as IdleResult;
    row({
      name: 'RSS at 10,000 idle tunnels (projected)',
      target: '< 150 MB',
      higherIsBetter: false,
      value: (name) => projected(r(name)),
      show: (name) =>
        `${projected(r(name)).toFixed(1)} MB (${r(name).rssMb.toFixed(1)} at ${r(name).opened})`,
      pass: (value) => value < 150,
      distance: (gateway, floor) => `${gateway >= floor ? '+' : ''}${(gateway - floor).toFixed(1)} MB`,
    });
  }
  return [
    '',
    `## How far a Node.js proxy gets here (--floor: "${FLOOR_NAME}", bench/lib/floor-relay.ts, in this run)`,
    '',
    formatTable(
      [
        'figure',
        'target',
        'direct',
        FLOOR_NAME,
        'floor',
        ...gateways.flatMap((name) => [name, 'vs floor']),
        'best Node.js proxy',
      ],
      rows,
    ),
    '',
    `floor     the minimal relay (no parsing, policy, records or log): a target it misses is out of reach for a Node.js proxy in this run, unless a gateway did better (last column); "vs floor" is the gateway's figure over the floor's (RSS: the difference)`,
  ];
}

/**
 * `--tunnel-only`: the CONNECT transfer through fresh gateways (no HTTP load before), direct and
 * Squid (when installed) alternating with them in every round, and the throughput target.
 */
async function tunnelOnly(options: Options, descriptors: DescriptorPlan): Promise<void> {
  const loadStart = load();
  const startedAt = new Date().toISOString();
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-gateway-'));
  chmodSync(dir, 0o755);
  const origins = await startOrigins(options.tunnelMb * 2 ** 20);
  const ports = [origins.httpPort, origins.streamPort, origins.holdPort];
  const proxies: Proxy[] = [];
  const log = (text: string) => process.stderr.write(`${text}\n`);
  try {
    for (const store of options.stores) {
      proxies.push(
        await startPathwarden(`pathwarden (${store})`, store, ports, dir, options.cli, descriptors.prefix),
      );
    }
    const squid = existsSync(SQUID) ? await startSquid(dir) : undefined;
    if (squid) proxies.push(squid);
    const floor = options.floor ? await startFloor(origins.httpPort, descriptors.prefix) : undefined;
    const contenders = [
      { name: 'direct', proxy: undefined },
      ...(floor ? [{ name: floor.name, proxy: floor }] : []),
      ...proxies.map((proxy) => ({ name: proxy.name, proxy })),
    ];
    if (floor) proxies.push(floor);
    const transfer = await transferRounds(contenders, origins.streamPort, options, log);
    const out = ['# pathwarden gateway benchmark: CONNECT transfer only (--tunnel-only)', ''];
    out.push(`date      ${startedAt}`);
    out.push(`node      ${process.version} (${process.platform}/${process.arch})`);
    out.push(`load      ${loadStart} at start, ${load()} at end (1, 5, 15 min)`);
    out.push(`note      fresh gateways (no HTTP load before); ${options.rounds} rounds, medians`);
    if (process.env.PATHWARDEN_BENCH_NODE_ARGS)
      out.push(`node args ${process.env.PATHWARDEN_BENCH_NODE_ARGS} (PATHWARDEN_BENCH_NODE_ARGS)`);
    out.push(...transferTable(contenders, transfer, squid?.name, options.tunnelMb));
    out.push(...cpuTable(contenders, undefined, transfer, cpus().length));
    const directMb = (transfer.get('direct') as Transfer).mbPerSecond;
    out.push('', '## Target (issue 12 item 4)', '');
    out.push(
      formatTable(
        ['gateway', 'figure', 'target', 'measured', 'result'],
        options.stores.map((store) => {
          const t = transfer.get(`pathwarden (${store})`) as Transfer;
          return [
            `pathwarden (${store})`,
            'tunnel throughput vs direct',
            '>= 0.85',
            (t.mbPerSecond / directMb).toFixed(2),
            verdict(t.mbPerSecond / directMb >= 0.85),
          ];
        }),
      ),
    );
    if (floor)
      out.push(
        ...floorTable(
          options.stores.map((store) => `pathwarden (${store})`),
          { transfer },
        ),
      );
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const proxy of proxies) await proxy.close().catch(() => {});
    await origins.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The run.

const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const ratio = (value: number, base: number) =>
  Number.isFinite(value) && base > 0 ? `${(value / base).toFixed(2)}x` : '-';
const us = (value: number) =>
  value >= 10_000 ? `${(value / 1000).toFixed(1)} ms` : `${value.toFixed(0)} us`;
const rate = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value.toFixed(0));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--idle-client') {
    await idleClient(
      Number(argv[1]),
      argv[2] as string,
      Number(argv[3]),
      Number(argv[4]),
      argv[5] === 'open',
    );
    return;
  }
  if (argv[0] === '--tunnel-client') {
    await tunnelClient(Number(argv[1]), Number(argv[2]), Number(argv[3]), argv[4]);
    return;
  }
  if (argv.includes('--help')) {
    process.stdout.write(USAGE);
    return;
  }
  const options = parseOptions(argv);
  // The gateway holds two descriptors per tunnel (client and origin side) and admits no more
  // connections than its own gate allows under its limit (src/gateway/connection-gate.ts): the
  // limit is raised for the gateways where that is permitted.
  const descriptors = planDescriptors(options.tunnels);
  const tunnels = Math.min(options.tunnels, descriptors.gateLimit);
  if (options.idleOnly) {
    await idleOnly(options, descriptors, tunnels);
    return;
  }
  if (options.tunnelOnly) {
    await tunnelOnly(options, descriptors);
    return;
  }
  for (const tool of [WRK, SQUID, TINYPROXY])
    if (!existsSync(tool)) throw new Error(`${tool} is not installed`);
  const loadStart = load();
  const cpu = cpus();
  const startedAt = new Date().toISOString();
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-gateway-'));
  chmodSync(dir, 0o755);
  const tunnelBytes = options.tunnelMb * 2 ** 20;
  const origins = await startOrigins(tunnelBytes);
  const ports = [origins.httpPort, origins.streamPort, origins.holdPort];
  const proxies: Proxy[] = [];
  const log = (text: string) => process.stderr.write(`${text}\n`);
  try {
    log(`starting proxies in ${dir}`);
    // The gateways of --store (both by default), JSONL first.
    const gateways: Proxy[] = [];
    for (const store of ['jsonl', 'duckdb'] as const) {
      if (!options.stores.includes(store)) continue;
      gateways.push(
        await startPathwarden(`pathwarden (${store})`, store, ports, dir, options.cli, descriptors.prefix),
      );
    }
    proxies.push(...gateways);
    const floor = options.floor ? await startFloor(origins.httpPort, descriptors.prefix) : undefined;
    if (floor) proxies.push(floor);
    const squid = await startSquid(dir);
    proxies.push(squid);
    const tinyproxy = await startTinyproxy(dir);
    proxies.push(tinyproxy);

    // Plain HTTP through wrk, 50 connections then 1.
    const contenders: { name: string; proxy: Proxy | undefined }[] = [
      { name: 'direct', proxy: undefined },
      ...(floor ? [{ name: floor.name, proxy: floor }] : []),
      ...gateways.map((proxy) => ({ name: proxy.name, proxy })),
      { name: squid.name, proxy: squid },
      { name: tinyproxy.name, proxy: tinyproxy },
    ];
    // Rounds alternate the contenders, so a burst of load from other jobs hits one round of each
    // rather than all of one contender; each figure is the median of its rounds.
    const rounds = new Map<string, { c50: WrkResult[]; c1: WrkResult[]; fifo: WrkResult[] }>();
    /** --fifo runs that could not be put under SCHED_FIFO (not root), left out of their table. */
    let fifoSkipped = 0;
    for (let round = 1; round <= options.rounds; round++) {
      for (const { name, proxy } of contenders) {
        const target = {
          port: proxy?.port ?? 0,
          host: proxy?.host ?? '127.0.0.1',
          originPort: origins.httpPort,
          proxied: proxy !== undefined,
        };
        // A short warm-up (JIT, connection pools), not measured.
        await runWrk(target, 50, 1, dir);
        log(`wrk: round ${round}/${options.rounds}, ${name}, 50 connections, ${options.duration} s`);
        const measured = async (connections: number, fifo = false, watch?: (pid: number) => void) => {
          const before = proxy ? cpuSeconds(proxy.pid) : 0;
          const sidesBefore = sidesCpuSeconds();
          const result = await runWrk(target, connections, options.duration, dir, fifo, watch);
          const requests = Math.max(1, result.requests);
          result.sidesUs = ((sidesCpuSeconds() - sidesBefore) * 1e6) / requests;
          if (proxy) result.cpuUs = ((cpuSeconds(proxy.pid) - before) * 1e6) / requests;
          return result;
        };
        const c50 = await measured(50);
        log(`wrk: round ${round}/${options.rounds}, ${name}, 1 connection, ${options.duration} s`);
        const c1 = await measured(1);
        const seen = rounds.get(name) ?? { c50: [], c1: [], fifo: [] };
        seen.c50.push(c50);
        seen.c1.push(c1);
        if (options.fifo) {
          log(
            `wrk: round ${round}/${options.rounds}, ${name}, 1 connection under SCHED_FIFO, ${options.duration} s`,
          );
          // This process (the origin) and the proxy with its children (Squid's log daemon), not
          // the other proxies, which are children of this process too.
          const processes = [process.pid, ...(proxy ? processTree(proxy.pid) : [])];
          const fifo = await underFifo(processes, options.duration, (watch) => measured(1, true, watch));
          if (fifo === undefined) fifoSkipped++;
          else seen.fifo.push(fifo);
        }
        rounds.set(name, seen);
        // Let background work (store flushes, lingering closes) finish before the next contender.
        await sleep(options.quick ? 1000 : 3000);
      }
    }
    const http = new Map<string, { c50: WrkResult; c1: WrkResult }>();
    const fifoHttp = new Map<string, WrkResult>();
    for (const [name, seen] of rounds) {
      http.set(name, { c50: medianResult(seen.c50), c1: medianResult(seen.c1) });
      if (seen.fifo.length > 0) fifoHttp.set(name, medianResult(seen.fifo));
    }

    // CONNECT tunnel throughput: rounds alternate the contenders too; the median of each.
    const transfer = await transferRounds(contenders, origins.streamPort, options, log);

    // Idle tunnels.
    const idle = new Map<string, IdleResult>();
    for (const proxy of floor ? [floor, ...gateways] : gateways) {
      log(`idle tunnels: ${proxy.name}, ${tunnels}`);
      idle.set(
        proxy.name,
        await idleTunnels(proxy, origins, tunnels, options.idleSettle * 1000, options.idleOpen),
      );
    }
    const loadEnd = load();

    // Report.
    const direct = http.get('direct') as { c50: WrkResult; c1: WrkResult };
    const squidHttp = http.get(squid.name) as { c50: WrkResult; c1: WrkResult };
    const out: string[] = [];
    out.push('# pathwarden gateway benchmark', '');
    out.push(`date      ${startedAt}${options.quick ? ' (--quick)' : ''}`);
    out.push(`node      ${process.version} (${process.platform}/${process.arch})`);
    out.push(`cpu       ${cpu[0]?.model.trim() ?? '?'} x ${cpu.length}`);
    out.push(`load      ${loadStart} at start, ${loadEnd} at end (1, 5, 15 min)`);
    out.push(
      'note      shared machine: other jobs ran alongside; wrk, the origin, the proxy and this process share the CPUs',
    );
    out.push(
      `wrk       ${options.rounds} round(s) of ${options.duration} s per line, median of the rounds; 2 threads at 50 connections, 1 thread at 1; GET of a 2-byte 200 (keep-alive)`,
    );
    out.push(
      'config    defaults on both sides: pathwarden logs at info (one JSON line per flow, to a file) and stores every flow; Squid writes its access log (daemon)',
    );
    out.push(
      `names     ${CATALOG_HOST} -> 127.0.0.1 (pathwarden: resolve; Squid: hosts_file); tinyproxy is sent 127.0.0.1 (it resolves via system DNS)`,
    );
    out.push('');
    out.push('## Plain HTTP (wrk --latency)', '');
    const rows = contenders.map(({ name }) => {
      const { c50, c1 } = http.get(name) as { c50: WrkResult; c1: WrkResult };
      return [
        name,
        rate(c50.rps),
        ratio(c50.rps, squidHttp.c50.rps),
        us(c50.p50),
        us(c50.p99),
        ratio(c50.p99, squidHttp.c50.p99),
        String(c50.errors),
        Number.isNaN(c50.cpuUs) ? '-' : c50.cpuUs.toFixed(0),
        ratio(c50.cpuUs, squidHttp.c50.cpuUs),
        ...oneConnectionCells(name, c1, squidHttp.c1, direct.c1),
      ];
    });
    out.push(
      formatTable(
        [
          'path',
          'req/s @50',
          'vs Squid',
          'p50 @50',
          'p99 @50',
          'vs Squid',
          'errors @50',
          'CPU us/req @50',
          'vs Squid',
          ...ONE_CONNECTION_HEADERS,
        ],
        rows,
      ),
    );
    if (options.fifo) out.push(...fifoTable(contenders, fifoHttp, direct.c1, squid.name, fifoSkipped));
    out.push(...transferTable(contenders, transfer, squid.name, options.tunnelMb));
    const directMb = (transfer.get('direct') as Transfer).mbPerSecond;
    const squidMb = (transfer.get(squid.name) as Transfer).mbPerSecond;
    out.push(...idleTable(idle, proxies, tunnels, options.tunnels, descriptors));
    out.push(...cpuTable(contenders, http, transfer, cpu.length));

    out.push(
      '',
      '## Targets (issue 12 item 4; pathwarden with the default DuckDB store, and with JSONL)',
      '',
    );
    const targetRows: string[][] = [];
    for (const pw of [...gateways].reverse()) {
      const h = http.get(pw.name) as { c50: WrkResult; c1: WrkResult };
      const rpsRatio = h.c50.rps / squidHttp.c50.rps;
      const tunnelRatio = (transfer.get(pw.name) as { mbPerSecond: number }).mbPerSecond / directMb;
      const r = idle.get(pw.name) as IdleResult;
      targetRows.push(
        [pw.name, 'req/s @50 vs Squid', '>= 1.30x', `${rpsRatio.toFixed(2)}x`, verdict(rpsRatio >= 1.3)],
        [
          pw.name,
          'p99 @50 vs Squid',
          '<= 1.00x',
          `${us(h.c50.p99)} vs ${us(squidHttp.c50.p99)} (${(h.c50.p99 / squidHttp.c50.p99).toFixed(2)}x)`,
          verdict(h.c50.p99 <= squidHttp.c50.p99),
        ],
        [
          pw.name,
          'p99 @1',
          '<= 2 ms',
          `${us(h.c1.p99)} (Squid ${us(squidHttp.c1.p99)})`,
          verdict(h.c1.p99 <= 2000),
        ],
        [
          pw.name,
          'tunnel MB/s vs direct',
          '>= 0.85',
          `${tunnelRatio.toFixed(2)} (Squid ${(squidMb / directMb).toFixed(2)})`,
          verdict(tunnelRatio >= 0.85),
        ],
        idleTargetRow(pw.name, r, descriptors.gateLimit),
      );
      const fifo = fifoHttp.get(pw.name);
      const squidFifo = fifoHttp.get(squid.name);
      if (fifo && squidFifo)
        targetRows.push([
          pw.name,
          'p99 @1, SCHED_FIFO',
          '<= 2 ms',
          `${us(fifo.p99)} (Squid ${us(squidFifo.p99)})`,
          verdict(fifo.p99 <= 2000),
        ]);
    }
    out.push(formatTable(['gateway', 'figure', 'target', 'measured', 'result'], targetRows));
    if (floor) {
      out.push(
        ...floorTable(
          [...gateways].reverse().map((pw) => pw.name),
          { http, squid: squid.name, transfer, idle, fifo: fifoHttp },
        ),
      );
    }
    const errors =
      [...http.values()].reduce((sum, h) => sum + h.c50.errors + h.c1.errors, 0) +
      [...fifoHttp.values()].reduce((sum, h) => sum + h.errors, 0);
    if (errors > 0) {
      out.push('', `warning   wrk reported ${errors} socket errors or non-2xx answers in total:`);
      for (const [name, h] of http) {
        if (h.c50.errorText) out.push(`          ${name} @50: ${h.c50.errorText}`);
        if (h.c1.errorText) out.push(`          ${name} @1: ${h.c1.errorText}`);
        const fifo = fifoHttp.get(name);
        if (fifo?.errorText) out.push(`          ${name} @1 SCHED_FIFO: ${fifo.errorText}`);
      }
      if (http.get('tinyproxy')?.c50.errorText)
        out.push(
          "          tinyproxy's read errors are its closes: it answers without `Connection: close` and then",
          '          closes the client connection (tinyproxy 1.11; its issues #511 and #563), which wrk counts',
          '          as a read error before it reconnects; tinyproxy serves one request per connection here',
        );
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const proxy of proxies.reverse()) await proxy.close().catch(() => {});
    await origins.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(
    `bench:gateway failed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
  );
  process.exitCode = 1;
});
