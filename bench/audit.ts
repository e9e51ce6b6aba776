// `npm run bench:audit`: throughput and memory of `pathwarden audit` on a >= 1 GB Squid log and a
// >= 1 GB Zeek conn log (and a pcap when the pcap format is registered), next to two baselines run
// on the same files in the same run: `wc -l` (the I/O floor) and a mawk one-liner that counts hosts
// without any matching, and the audit again with --jobs 2 on the Squid and Zeek logs. Each command
// runs in a child process under /usr/bin/time -v for its peak RSS and CPU time (user + system):
// MB/s on the wall clock and MB per CPU second, each with its ratio to mawk's in the same run.
// Inputs are generated in os.tmpdir() and deleted afterwards.
//
//   node dist/bench/audit.js [--size MB] [--quick] [--keep] [--generate DIR] [--inputs DIR] [--jobs N,...] [--hosts N]
//
// (--help prints the options, as HELP below says.) MB = 1,000,000 bytes.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter, tlsClientHello } from '../src/audit/demo/pcap-writer.js';
import { zeekConnFields, zeekConnTypes, zeekHeader } from '../src/audit/demo/zeek-logs.js';
import { packageRoot } from '../src/catalog/load.js';
import { getFormat } from '../src/ingest/registry.js';
import { Random } from '../src/util/random.js';

const MB = 1_000_000;
/** The benchmark's topology: circuit and Internet proxies, source addresses and prefixes. */
const TOPOLOGY =
  'expressroute:\n  prefixes: [13.73.248.0/24, 20.190.160.0/24]\n  proxies: [10.9.0.1:3128]\n  sourceAddresses: [10.20.0.5]\ninternet:\n  proxies: [10.9.0.2:3128]\n  sourceAddresses: [10.20.0.6]\ndefault: internet\n';
const MAWK_PROGRAM = '{split($7,a,":"); c[a[1]]++}';

const HELP = `Usage: node dist/bench/audit.js [options]

Throughput and peak RSS of \`pathwarden audit\` on a generated Squid log and Zeek conn log (and a
pcap), next to wc -l and mawk on the same files in the same run, and the audit again with --jobs.

  --size MB        size of each generated input (default 1100, i.e. >= 1 GiB; MB = 10^6 bytes)
  --quick          32 MB inputs: a smoke run
  --keep           leave the generated inputs in place (their folder is printed)
  --generate DIR   only write access.log, conn.log and topology.yaml into DIR, measure nothing
  --inputs DIR     measure DIR/access.log and DIR/conn.log (as --generate wrote them) instead of
                   generating inputs (no pcap); --size is then ignored
  --jobs N[,N...]  the --jobs values measured on the Squid and Zeek logs besides one job
                   (default 2); each row says its ratio to one job on the wall clock and in CPU
  --hosts N        draw the Squid log's wildcard names (img<k>.cdn.example.net, one in ten of them
                   x<k>.powerbi.com instead, a catalog exception) from N names instead of 5,000:
                   e.g. 100000 for an enterprise day's ~95,000 destinations at 600 MB
  --help           this text
`;

interface Options {
  sizeMb: number;
  keep: boolean;
  /** Only write the Squid and Zeek conn inputs into this folder (for profiling), then stop. */
  generate: string | null;
  /** Measure the inputs --generate wrote into this folder instead of generating new ones. */
  inputs: string | null;
  /** --jobs values measured besides one job. */
  jobs: number[];
  /** How many wildcard names the Squid log draws from (5,000 unless --hosts). */
  hosts: number;
  help: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    sizeMb: 1100,
    keep: false,
    generate: null,
    inputs: null,
    jobs: [2],
    hosts: 5000,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg === '--inputs') options.inputs = argv[++i] ?? '';
    else if (arg === '--jobs') {
      const values = (argv[++i] ?? '').split(',').map(Number);
      if (values.some((value) => !Number.isInteger(value) || value < 2 || value > 256))
        throw new Error('--jobs needs whole numbers from 2 to 256, comma-separated');
      options.jobs = values;
    } else if (arg === '--hosts') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) throw new Error('--hosts needs a whole number');
      options.hosts = value;
    } else if (arg === '--quick') options.sizeMb = 32;
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--generate') options.generate = argv[++i] ?? '';
    else if (arg === '--size') {
      const value = Number(argv[++i]);
      if (!(value > 0)) throw new Error('--size needs a number of MB');
      options.sizeMb = value;
    } else {
      throw new Error(`unknown argument ${arg} (see --help)`);
    }
  }
  return options;
}

// ---- input generation -------------------------------------------------------------------------

/** Writes text in large blocks until `bytes` are written; `line()` makes the next line. */
function writeLines(path: string, bytes: number, header: string, line: () => string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  let lines = 0;
  try {
    let block = header;
    while (written + block.length < bytes) {
      while (block.length < 4 * MB) {
        block += line();
        lines++;
      }
      writeSync(fd, block);
      written += Buffer.byteLength(block);
      block = '';
    }
    if (block.length > 0) {
      writeSync(fd, block);
      written += Buffer.byteLength(block);
    }
  } finally {
    closeSync(fd);
  }
  return lines;
}

/**
 * The name of wildcard draw `k`. With more than the default 5,000 names, one in ten is a Power BI
 * front-end name (`*.powerbi.com`, path `either`: an exception), so that many destinations match
 * the catalog; the default log stays as it always was.
 */
function wildcardName(pattern: string, k: number, hosts: number): string {
  if (hosts > 5000 && k % 10 === 0) return `x${k}.powerbi.com`;
  return `img${k}${pattern.slice(1)}`;
}

/** A realistic mix of what an egress proxy sees: Power BI (both paths), Microsoft 365, the web. */
const squidHosts: { host: string; weight: number; route: 'circuit' | 'internet' | 'direct' }[] = [
  { host: 'api.powerbi.com', weight: 18, route: 'circuit' },
  { host: 'wabi-west-europe-redirect.analysis.windows.net', weight: 8, route: 'circuit' },
  { host: 'westeurope.pbidedicated.windows.net', weight: 3, route: 'circuit' },
  { host: 'login.microsoftonline.com', weight: 4, route: 'circuit' },
  { host: 'app.powerbi.com', weight: 10, route: 'internet' },
  { host: 'content.powerapps.com', weight: 5, route: 'internet' },
  { host: 'dc.services.visualstudio.com', weight: 4, route: 'internet' },
  { host: 'dev.virtualearth.net', weight: 1, route: 'internet' },
  { host: 'outlook.office365.com', weight: 10, route: 'direct' },
  { host: 'teams.microsoft.com', weight: 8, route: 'direct' },
  { host: 'www.google.com', weight: 6, route: 'direct' },
  { host: 'github.com', weight: 3, route: 'direct' },
  { host: 'fonts.gstatic.com', weight: 4, route: 'direct' },
  { host: 'cdn.jsdelivr.net', weight: 2, route: 'direct' },
  { host: '*.cdn.example.net', weight: 6, route: 'direct' },
  { host: 'wabi-north-europe-d-primary-redirect.analysis.windows.net', weight: 1, route: 'internet' },
];

function weighted<T extends { weight: number }>(items: readonly T[]): (random: Random) => T {
  const table: T[] = [];
  for (const item of items) for (let i = 0; i < item.weight; i++) table.push(item);
  return (random) => random.pick(table);
}

function generateSquid(path: string, bytes: number, hosts = 5000): number {
  const random = new Random(1);
  const pick = weighted(squidHosts);
  let time = Date.UTC(2026, 10, 16) / 1000;
  const paths = [
    '/',
    '/index.html',
    '/v1.0/myorg/groups',
    '/scripts/app.min.js',
    '/api/data?id=12345',
    '/favicon.ico',
  ];
  return writeLines(path, bytes, '', () => {
    time += random.next() * 0.004;
    const entry = pick(random);
    const host = entry.host.startsWith('*.')
      ? wildcardName(entry.host, random.int(1, hosts), hosts)
      : entry.host;
    const client = `10.1.${random.int(0, 19)}.${random.int(1, 254)}`;
    const elapsed = String(random.int(1, 90_000)).padStart(6);
    const hierarchy =
      entry.route === 'circuit'
        ? 'FIRSTUP_PARENT/10.9.0.1'
        : entry.route === 'internet'
          ? 'FIRSTUP_PARENT/10.9.0.2'
          : `HIER_DIRECT/${random.int(1, 223)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`;
    if (random.next() < 0.12) {
      return `${time.toFixed(3)} ${elapsed} ${client} TCP_MISS/200 ${random.int(200, 400_000)} GET http://${host}${random.pick(paths)} - ${hierarchy} text/html\n`;
    }
    return `${time.toFixed(3)} ${elapsed} ${client} TCP_TUNNEL/200 ${random.int(500, 5_000_000)} CONNECT ${host}:443 - ${hierarchy} -\n`;
  });
}

function generateZeekConn(path: string, bytes: number): number {
  const random = new Random(2);
  // Responders: Power BI service-tag and circuit addresses, Microsoft front ends, the web.
  const servers: string[] = [];
  for (let i = 0; i < 64; i++) servers.push(`13.73.248.${random.int(0, 255)}`);
  for (let i = 0; i < 200; i++)
    servers.push(`20.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`);
  for (let i = 0; i < 1700; i++)
    servers.push(`${random.int(1, 223)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const uid = () => {
    let text = 'C';
    for (let i = 0; i < 17; i++) text += alphabet[random.int(0, alphabet.length - 1)];
    return text;
  };
  const header = [...zeekHeader('conn', zeekConnFields, zeekConnTypes, '2026-11-16-00-00-00'), ''].join('\n');
  let time = Date.UTC(2026, 10, 16) / 1000;
  return writeLines(path, bytes, header, () => {
    time += random.next() * 0.004;
    const roll = random.next();
    const udp = roll < 0.15;
    const port = udp ? 53 : roll < 0.25 ? 80 : 443;
    const service = udp ? 'dns' : port === 80 ? 'http' : 'ssl';
    const up = random.int(40, 60_000);
    const down = random.int(40, 4_000_000);
    const origPkts = Math.ceil(up / 1200) + 2;
    const respPkts = Math.ceil(down / 1400) + 2;
    return `${time.toFixed(6)}\t${uid()}\t10.1.${random.int(0, 19)}.${random.int(1, 254)}\t${random.int(1024, 65535)}\t${random.pick(servers)}\t${port}\t${udp ? 'udp' : 'tcp'}\t${service}\t${(random.next() * 60).toFixed(6)}\t${up}\t${down}\tSF\tT\tF\t0\tShADadFf\t${origPkts}\t${up + origPkts * 40}\t${respPkts}\t${down + respPkts * 40}\t(empty)\n`;
  });
}

function generatePcap(path: string, bytes: number): number {
  const random = new Random(3);
  const hosts = [
    'api.powerbi.com',
    'app.powerbi.com',
    'content.powerapps.com',
    'www.example.com',
    'outlook.office365.com',
  ];
  const fd = openSync(path, 'w');
  let written = 0;
  let connections = 0;
  try {
    const writer = new PcapWriter();
    let time = Date.UTC(2026, 10, 16);
    while (written < bytes) {
      for (let i = 0; i < 200; i++) {
        time += random.int(1, 40);
        const port = 1024 + ((connections * 7) % 64000);
        writer.connection(
          time,
          { ip: `10.1.${random.int(0, 19)}.${random.int(1, 254)}`, port },
          { ip: `13.73.248.${random.int(0, 255)}`, port: 443 },
          tlsClientHello(random.pick(hosts), connections),
          random.int(2_000, 60_000),
        );
        connections++;
      }
      const chunk = writer.drain();
      writeSync(fd, chunk);
      written += chunk.length;
    }
  } finally {
    closeSync(fd);
  }
  return connections;
}

// ---- measurement ------------------------------------------------------------------------------

interface Run {
  tool: string;
  seconds: number;
  /** User + system CPU seconds (from /usr/bin/time -v), null without it. */
  cpuSeconds: number | null;
  peakRssKb: number | null;
  stdout: string;
  ok: boolean;
  error?: string;
}

const timeBinary = '/usr/bin/time';

function measure(tool: string, command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Run {
  const useTime = existsSync(timeBinary);
  const started = process.hrtime.bigint();
  const spawnOptions = { encoding: 'utf8' as const, maxBuffer: 256 * MB, env: env ?? process.env };
  const result = useTime
    ? spawnSync(timeBinary, ['-v', command, ...args], spawnOptions)
    : spawnSync(command, args, spawnOptions);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr ?? '');
  const user = /User time \(seconds\): ([\d.]+)/.exec(result.stderr ?? '');
  const system = /System time \(seconds\): ([\d.]+)/.exec(result.stderr ?? '');
  const ok = result.status === 0 || (result.status === 1 && tool.startsWith('pathwarden'));
  return {
    tool,
    seconds,
    cpuSeconds: user && system ? Number(user[1]) + Number(system[1]) : null,
    peakRssKb: rss ? Number(rss[1]) : null,
    stdout: result.stdout ?? '',
    ok,
    // Without /usr/bin/time's own report: the command's last lines of stderr say what went wrong.
    error: ok
      ? undefined
      : (result.error?.message ??
        (result.stderr ?? '').split('\tCommand being timed')[0]?.trim().split('\n').slice(-8).join('\n')),
  };
}

interface Row {
  input: string;
  sizeBytes: number;
  run: Run;
  flows: number | null;
}

function auditRun(file: string, topology: string, jobs = 1): Row['run'] & { flows: number | null } {
  const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const run = measure(
    jobs === 1 ? 'pathwarden audit' : `pathwarden audit --jobs ${jobs}`,
    process.execPath,
    [main, 'audit', file, '--json', '--quiet', '--topology', topology, '--jobs', String(jobs)],
    // The rows measure N threads: without this, `--jobs` keeps to one thread when the load average
    // leaves no idle core (src/audit/jobs.ts, idleCores), and a busy run would time one job twice.
    jobs === 1 ? undefined : { ...process.env, PATHWARDEN_JOBS_IGNORE_LOAD: '1' },
  );
  let flows: number | null = null;
  try {
    flows = (JSON.parse(run.stdout) as { flows: number }).flows;
  } catch {
    run.ok = false;
    run.error ??= 'audit did not print a JSON report';
  }
  return { ...run, flows };
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

function formatRow(row: Row, wc: Row | undefined, mawk: Row | undefined, oneJob?: Row): string[] {
  const mb = row.sizeBytes / MB;
  const mbPerSecond = mb / row.run.seconds;
  const perCpu = (run: Run) => (run.cpuSeconds ? mb / run.cpuSeconds : null);
  const ratio = (base: Row | undefined) =>
    base?.run.ok && row.run.ok
      ? `${(mbPerSecond / (base.sizeBytes / MB / base.run.seconds)).toFixed(2)}x`
      : '-';
  const cpuRatio = (base: Row | undefined) => {
    const mine = perCpu(row.run);
    const theirs = base?.run.ok ? perCpu(base.run) : null;
    return mine !== null && theirs !== null && row.run.ok ? `${(mine / theirs).toFixed(2)}x` : '-';
  };
  const audit = row.run.tool.startsWith('pathwarden');
  const cpu = perCpu(row.run);
  return [
    row.input,
    row.run.tool,
    row.run.ok ? `${row.run.seconds.toFixed(2)} s` : 'failed',
    row.run.ok ? mbPerSecond.toFixed(0) : '-',
    row.run.ok && cpu !== null ? cpu.toFixed(0) : '-',
    row.flows === null || !row.run.ok ? '-' : `${(row.flows / row.run.seconds / 1e6).toFixed(2)} M`,
    row.run.peakRssKb === null ? 'n/a' : `${(row.run.peakRssKb / 1024).toFixed(0)} MiB`,
    audit ? ratio(wc) : '',
    audit ? `${ratio(mawk)} / ${cpuRatio(mawk)}` : '',
    oneJob ? `${ratio(oneJob)} / ${cpuUsed(row, oneJob)}` : '',
  ];
}

/** CPU seconds of `row` against those of `base` (a multi-job run against one job). */
function cpuUsed(row: Row, base: Row): string {
  return row.run.ok && base.run.ok && row.run.cpuSeconds && base.run.cpuSeconds
    ? `${(row.run.cpuSeconds / base.run.cpuSeconds).toFixed(2)}x`
    : '-';
}

function table(rows: string[][]): string {
  const header = [
    'input',
    'tool',
    'time',
    'MB/s (wall)',
    'MB per CPU-s',
    'flows/s',
    'peak RSS',
    'vs wc -l',
    'vs mawk (wall / CPU)',
    'vs 1 job (speed-up, wall / CPU used)',
  ];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(HELP);
    return;
  }
  const bytes = Math.round(options.sizeMb * MB);
  if (options.generate !== null) {
    if (options.generate === '') throw new Error('--generate needs a folder');
    mkdirSync(options.generate, { recursive: true });
    generateSquid(join(options.generate, 'access.log'), bytes, options.hosts);
    generateZeekConn(join(options.generate, 'conn.log'), bytes);
    writeFileSync(join(options.generate, 'topology.yaml'), TOPOLOGY);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'pathwarden-bench-audit-'));
  const cleanup = () => {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`inputs kept in ${dir}\n`);
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const mawk = hasCommand('mawk');
  const loadBefore = (await import('node:os'))
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
  try {
    const topology = join(dir, 'topology.yaml');
    writeFileSync(topology, TOPOLOGY);
    const inputs: { name: string; path: string; awk: boolean }[] = [];
    const generate = (
      name: string,
      file: string,
      make: (path: string, bytes: number) => number,
      awk: boolean,
    ) => {
      const path = join(dir, file);
      const started = Date.now();
      const count = make(path, bytes);
      const size = statSync(path).size;
      process.stderr.write(
        `generated ${name}: ${(size / MB).toFixed(0)} MB, ${count.toLocaleString('en')} records in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
      inputs.push({ name: `${name} ${(size / MB).toFixed(0)} MB`, path, awk });
    };
    const pcapRegistered = getFormat('pcap') !== undefined;
    if (options.inputs !== null) {
      for (const [name, file] of [
        ['squid', 'access.log'],
        ['zeek conn', 'conn.log'],
      ] as const) {
        const path = join(options.inputs, file);
        inputs.push({ name: `${name} ${(statSync(path).size / MB).toFixed(0)} MB`, path, awk: true });
      }
    } else {
      generate('squid', 'access.log', (path, size) => generateSquid(path, size, options.hosts), true);
      generate('zeek conn', 'conn.log', generateZeekConn, true);
      if (pcapRegistered) generate('pcap', 'egress.pcap', generatePcap, false);
    }

    const rows: string[][] = [];
    for (const input of inputs) {
      const size = statSync(input.path).size;
      const wc = {
        input: input.name,
        sizeBytes: size,
        run: measure('wc -l', 'wc', ['-l', input.path]),
        flows: null,
      };
      const awk =
        input.awk && mawk
          ? {
              input: input.name,
              sizeBytes: size,
              run: measure('mawk (split $7, count)', 'mawk', [MAWK_PROGRAM, input.path]),
              flows: null,
            }
          : undefined;
      const audit = auditRun(input.path, topology);
      const auditRow: Row = { input: input.name, sizeBytes: size, run: audit, flows: audit.flows };
      const jobRows: Row[] = (input.awk ? options.jobs : []).map((jobs) => {
        const run = auditRun(input.path, topology, jobs);
        return { input: input.name, sizeBytes: size, run, flows: run.flows };
      });
      rows.push(formatRow(wc, undefined, undefined));
      if (awk) rows.push(formatRow(awk, undefined, undefined));
      rows.push(formatRow(auditRow, wc, awk));
      for (const row of jobRows) rows.push(formatRow(row, wc, awk, auditRow));
      for (const row of [wc, awk, auditRow, ...jobRows]) {
        if (row && !row.run.ok)
          process.stderr.write(`${row.run.tool} on ${input.name} failed:\n${row.run.error}\n`);
      }
    }
    process.stdout.write(`\n${table(rows)}\n\n`);
    const os = await import('node:os');
    process.stdout.write(
      `load average before / after: ${loadBefore} / ${os
        .loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')}; ${os.cpus().length} CPUs\n`,
    );
    process.stdout.write(
      [
        `node ${process.version}, ${(await import('node:os')).cpus()[0]?.model ?? 'unknown CPU'}; MB = 10^6 bytes; inputs in the page cache (wc -l runs first).`,
        mawk ? '' : 'mawk is not installed: the mawk baseline was skipped (Debian: apt-get install mawk).',
        existsSync(timeBinary)
          ? ''
          : '/usr/bin/time is missing: peak RSS not measured (Debian: apt-get install time).',
        pcapRegistered || options.inputs !== null
          ? ''
          : 'The pcap format is not registered in src/ingest/registry.ts: no pcap run.',
      ]
        .filter(Boolean)
        .join('\n'),
    );
    process.stdout.write('\n');
  } finally {
    cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:audit failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
