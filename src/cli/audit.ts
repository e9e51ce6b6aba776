// `pathwarden audit`: which traffic in these logs and captures crossed the public Internet, was it
// a documented exception, and where did circuit-bound traffic leak? Argument handling only; the
// work is runAudit() and the report writers in src/audit/.
import { createWriteStream, openSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { demoDir } from '../audit/demo/location.js';
import { type FailOn, failOnVerdicts, matchedFailOn } from '../audit/fail-on.js';
import type { FlowSink } from '../audit/flow-sink.js';
import { jobsFallbackWarning } from '../audit/jobs-fallback.js';
import { ProgressBar } from '../audit/progress.js';
import { renderJsonReport } from '../audit/report-json.js';
import { runAudit } from '../audit/run-audit.js';
import { PathwardenError } from '../errors.js';
import { parseVpcFields } from '../ingest/aws-vpc.js';
import type { FormatName } from '../ingest/format.js';
import { compileSquidLogformat } from '../ingest/squid-logformat.js';
import { emptyTopology } from '../policy/path-resolver.js';
import { readTopologyFile } from '../policy/topology-file.js';
import { type CliIo, write } from './io.js';
import {
  type CatalogOptions,
  catalogOption,
  componentOption,
  loadProfileFromOptions,
  noBuiltinOption,
  parseComponent,
  profileOption,
} from './options.js';
import { compilePolicy } from './policy-cache.js';

const formatChoices = [
  'auto',
  'har',
  'squid',
  'zeek',
  'dns',
  'pcap',
  'nsg',
  'vnet',
  'azfw',
  'vpc',
  'csv',
  'ndjson',
];

interface AuditCliOptions extends CatalogOptions {
  format: string;
  topology?: string;
  component?: string;
  json?: boolean;
  ndjson?: boolean;
  csv?: boolean;
  output?: string;
  html?: string;
  junit?: string;
  failOn?: FailOn[];
  strict?: boolean;
  jobs?: number;
  quiet?: boolean;
  demo?: boolean;
  vpcFields?: string[];
  squidLogformat?: string;
  store?: string;
  auditId?: string;
  spool: string;
}

export function auditCommand(io: CliIo, setExit: (code: number) => void): Command {
  return new Command('audit')
    .description(
      'read logs and captures (HAR, Squid, Zeek, DNS, pcap, Azure / AWS flow logs, CSV) and report which traffic crossed the public Internet: leaks, exceptions, unknown destinations',
    )
    .argument(
      '[inputs...]',
      'files, directories (read recursively, in name order) and "-" for stdin; .gz is read transparently',
    )
    .addOption(
      new Option('--format <name>', 'read every input as this format instead of detecting it')
        .choices(formatChoices)
        .default('auto'),
    )
    .option(
      '--topology <file>',
      'how your network sends each path out (docs/topology.md); without it actual paths are unknown',
    )
    .addOption(componentOption('component of flows whose record does not say (default: saas)'))
    .addOption(
      new Option(
        '--vpc-fields <fields>',
        "AWS VPC / Transit Gateway flow log fields in order, for lines without a header (CloudWatch Logs, Firehose): 'version account-id ...' or the flow log's LogFormat",
      ).argParser((value: string) => parseVpcFields(value)),
    )
    .addOption(
      new Option(
        '--squid-logformat <format>',
        "the squid.conf logformat that wrote the Squid logs ('%ts.%03tu %6tr %>a %Ss/%03>Hs ...'), or a built-in name: squid, common, combined",
      ).argParser((value: string) => {
        compileSquidLogformat(value); // a bad definition is a usage error before any input is read
        return value;
      }),
    )
    .option('--json', 'write the report as JSON to stdout (schema in docs/audit.md)')
    .option('--ndjson', 'write every classified flow as one JSON line to stdout, streamed')
    .option('--csv', 'write every classified flow as one CSV row to stdout, streamed')
    .option(
      '-o, --output <file>',
      'write what would go to stdout (summary, --json, --ndjson or --csv) to this file',
    )
    .option('--html <file>', 'write a self-contained HTML report (charts, leak table) to this file')
    .option(
      '--junit <file>',
      'write JUnit XML to this file: one test case per rule and destination, failing on leaks',
    )
    .addOption(
      new Option('--fail-on <verdict>', 'exit with code 1 when any flow has this verdict (repeatable)')
        .choices(failOnVerdicts as unknown as string[])
        .argParser((value: string, previous: FailOn[] | undefined) => {
          if (!(failOnVerdicts as readonly string[]).includes(value)) {
            throw new PathwardenError(
              'PW_ERR_USAGE',
              `--fail-on "${value}" is not one of ${failOnVerdicts.join(', ')}`,
            );
          }
          return [...(previous ?? []), value as FailOn];
        }),
    )
    .option(
      '--store <file|url>',
      'also write every classified flow to a flow store: a DuckDB file (.jsonl: JSON lines) or clickhouse://HOST:PORT/DATABASE[?table=flows]',
    )
    .option(
      '--audit-id <id>',
      "this audit's name in the store's gateway column, as audit:<id> (default: the start time)",
    )
    .option(
      '--spool <dir>',
      'with --store clickhouse://: folder for batches ClickHouse has not acknowledged',
      'pathwarden-spool',
    )
    .option('--strict', 'stop at the first bad record (exit code 2) instead of counting and skipping it')
    .option(
      '--jobs <n>',
      'read inputs, and byte ranges of large Squid / Zeek logs, on up to N threads: one per 256 MiB of input and per idle core (the load average leaves); same report as one job (default 1)',
      (value: string) => {
        const jobs = Number(value);
        if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256)
          throw new PathwardenError('PW_ERR_USAGE', `--jobs "${value}" is not a whole number from 1 to 256`);
        return jobs;
      },
    )
    .option(
      '--quiet',
      'no progress bar and no summary; outputs asked for, errors, --fail-on messages and the note of a failed --jobs read only',
    )
    .addOption(catalogOption())
    .addOption(noBuiltinOption())
    .addOption(profileOption())
    .option('--demo', 'audit the bundled demo data set (mixed formats, known leaks) with its topology')
    .addHelpText(
      'after',
      `
Exit codes: 0 clean; 1 a --fail-on condition matched; 2 usage or input error (unreadable file,
format not recognised, a bad record with --strict).

Examples:
  pathwarden audit --demo
  pathwarden audit --topology topology.yaml /var/log/squid/access.log*
  pathwarden audit --topology topology.yaml zeek/ dns.log --html report.html --junit junit.xml --fail-on leak
  zcat conn.log.gz | pathwarden audit --format zeek --topology topology.yaml - --json > audit.json
  pathwarden audit --topology topology.yaml capture.pcapng --ndjson | jq 'select(.verdict == "leak")'`,
    )
    .action(async (inputs: string[], options: AuditCliOptions) => {
      const stdoutFormats = (['json', 'ndjson', 'csv'] as const).filter((name) => options[name]);
      if (stdoutFormats.length > 1) {
        throw new PathwardenError(
          'PW_ERR_USAGE',
          `--${stdoutFormats.join(' and --')} all write to stdout: pick one (write the others with --html / --junit, or run twice)`,
        );
      }
      if (options.demo && inputs.length > 0) {
        throw new PathwardenError(
          'PW_ERR_USAGE',
          '--demo audits the bundled data set: give no inputs with it',
        );
      }
      if (!options.demo && inputs.length === 0) {
        throw new PathwardenError(
          'PW_ERR_USAGE',
          'give at least one file, directory or "-" to audit (or --demo)',
        );
      }
      // With --jobs, the worker threads start now and load their modules while this thread reads
      // the catalog and topology.
      const perFlow = options.ndjson || options.csv || options.store !== undefined || options.strict;
      const workers =
        (options.jobs ?? 1) > 1 && !options.demo && !perFlow
          ? (await import('../audit/jobs.js')).startJobWorkers(inputs, options.jobs)
          : undefined;
      // Whatever fails from here on, the workers started above are closed.
      try {
        const policy = compilePolicy((await loadProfileFromOptions(options)).catalog);
        const component = parseComponent(options.component, 'saas');
        const demo = options.demo ? demoDir() : undefined;
        const topologyFile = options.topology ?? (demo ? join(demo, 'topology.yaml') : undefined);
        const topology = topologyFile ? await readTopologyFile(topologyFile) : emptyTopology;
        const rename = demo ? packageRelative(demo) : undefined;

        const stdout = options.output ? openOutput(options.output) : io.stdout;
        const sinks: FlowSink[] = [];
        // Writers and sinks are loaded on use: an audit that writes JSON loads neither HTML nor CSV.
        if (options.ndjson) sinks.push((await import('../audit/report-ndjson.js')).ndjsonSink(stdout));
        if (options.csv) sinks.push((await import('../audit/report-csv.js')).csvSink(stdout));
        // Loaded on use: the store modules bring DuckDB and the ClickHouse client.
        const storeSink = options.store
          ? await (await import('../audit/store-sink.js')).openStoreSink(
              (await import('../store/target.js')).storeTarget(options.store, options.spool),
              options.auditId ??
                new Date()
                  .toISOString()
                  .replace(/\.\d{3}Z$/, 'Z')
                  .replace(/:/g, '-'),
            )
          : undefined;
        if (storeSink) sinks.push(storeSink);
        const stderr = io.stderr as Writable & { isTTY?: boolean; columns?: number };
        const progress = !options.quiet && stderr.isTTY === true ? new ProgressBar(stderr) : undefined;

        try {
          const report = await runAudit({
            inputs: demo ? [join(demo, 'logs')] : inputs,
            policy,
            topology,
            topologyFile: topologyFile ? (rename ?? ((path: string) => path))(topologyFile) : null,
            component,
            format: options.format === 'auto' ? undefined : (options.format as FormatName),
            formatOptions: { vpcFields: options.vpcFields, squidLogformat: options.squidLogformat },
            strict: options.strict,
            jobs: options.jobs,
            workers,
            // Why --jobs N read on one thread: always after a failed multi-job read (it took longer
            // than one job), else unless --quiet (docs/audit.md, "When --jobs reads on one thread").
            onJobsFallback: async (fallback) => {
              if (!fallback.rerun && options.quiet) return;
              await write(
                io.stderr,
                `pathwarden: warning: ${jobsFallbackWarning(options.jobs ?? 1, fallback)}\n`,
              );
            },
            stdin: io.stdin,
            sinks,
            progress,
            rename,
          });
          if (options.json) await write(stdout, renderJsonReport(report));
          else if (stdoutFormats.length === 0 && !options.quiet)
            await write(stdout, (await import('../audit/report-terminal.js')).renderTerminalReport(report));
          if (options.html)
            writeOutput(options.html, (await import('../audit/report-html.js')).renderHtmlReport(report));
          if (options.junit) {
            const { renderJunitReport } = await import('../audit/report-junit.js');
            writeOutput(options.junit, renderJunitReport(report, { failOn: options.failOn }));
          }

          if (storeSink)
            await write(
              io.stderr,
              `pathwarden audit: flows stored in ${options.store} as gateway ${storeSink.writer}\n`,
            );
          const failed = report.inputs.filter((input) => input.status === 'failed');
          for (const input of failed) await write(io.stderr, `pathwarden: ${input.file}: ${input.message}\n`);
          if (failed.length > 0) setExit(2);
          const matched = matchedFailOn(report, options.failOn ?? []);
          if (matched.length > 0) {
            await write(
              io.stderr,
              `pathwarden: --fail-on matched: ${matched.map((match) => `${match.flows} ${match.verdict} flow${match.flows === 1 ? '' : 's'}`).join(', ')}\n`,
            );
            setExit(1);
          }
        } finally {
          if (stdout !== io.stdout) await closeOutput(stdout);
        }
      } finally {
        workers?.close();
      }
    });
}

/** Names shown for demo inputs: relative to the package (`demo/logs/squid/access.log`). */
function packageRelative(demo: string): (path: string) => string {
  const root = join(demo, '..');
  return (path: string) => relative(root, path).split(sep).join('/');
}

function openOutput(file: string): Writable {
  let fd: number;
  try {
    // Opened synchronously so that an unwritable path fails before any input is read.
    fd = openSync(file, 'w');
  } catch (cause) {
    throw new PathwardenError('PW_ERR_OUTPUT_WRITE', `cannot write ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return createWriteStream(file, { fd });
}

function closeOutput(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

function writeOutput(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (cause) {
    throw new PathwardenError('PW_ERR_OUTPUT_WRITE', `cannot write ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
}
