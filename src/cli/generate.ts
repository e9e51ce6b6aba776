// `pathwarden generate <kind>`: configuration for existing gear, from the catalog and a topology.
// Argument handling only; the generators live in src/generate/.
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { components, type EgressPath } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import { type AllowlistFormat, allowlistFormats, defaultCollectionPriority } from '../generate/allowlist.js';
import { generateBundle } from '../generate/bundle.js';
import { defaultEither } from '../generate/egress.js';
import {
  type GenerateRequest,
  generate,
  generateKinds,
  isGenerateKind,
  kindSummaries,
} from '../generate/kinds.js';
import { defaultMarks, hex } from '../generate/policy-routing.js';
import { defaultSquidAccessLog } from '../generate/squid.js';
import { emptyTopology, loadTopologyFile } from '../policy/topology.js';
import { type CliIo, write } from './io.js';
import {
  type CatalogOptions,
  catalogOption,
  loadProfileFromOptions,
  noBuiltinOption,
  parseComponent,
  profileOption,
} from './options.js';
import { compilePolicy } from './policy-cache.js';

interface GenerateFlags extends CatalogOptions {
  topology?: string;
  output?: string;
  component?: string;
  either?: EgressPath;
  resolveIp?: boolean;
  circuitDirect?: boolean;
  format?: AllowlistFormat;
  collectionPriority?: number;
  region?: string;
  json?: boolean;
  accessLog?: string;
  via?: string;
  via6?: string;
  dev?: string;
  table?: number;
  fwmark?: number;
  priority?: number;
}

const bundleSummary =
  'every artefact into the directory -o DIR, with check.sh (dry run by each consumer) and apply.sh';
const kindList = [
  ...generateKinds.map((kind) => `  ${kind.padEnd(13)}${kindSummaries[kind]}`),
  `  ${'bundle'.padEnd(13)}${bundleSummary}`,
].join('\n');

export function generateCommand(io: CliIo, _setExit: (code: number) => void): Command {
  return (
    new Command('generate')
      .description(
        'generate PAC, Squid, dnsmasq/nftables/ip rule, allow-list or route-filter output from the catalog',
      )
      .argument('<kind>', `one of ${generateKinds.join(', ')}, bundle`)
      .option(
        '--topology <file>',
        'topology file: proxies, source addresses and prefixes of each path (docs/topology.md)',
      )
      .option(
        '-o, --output <file>',
        'write to this file (replaced atomically) instead of stdout; bundle: the directory to write',
      )
      // Checked by parseComponent rather than commander's choices: one error line, like every other input error.
      .option(
        '--component <name>',
        `Power BI component: ${components.join(', ')} (default: saas; allowlist and route-filter: every covered one)`,
      )
      .addOption(
        new Option(
          '--either <path>',
          `egress of rules whose path is either (default: ${defaultEither})`,
        ).argParser((value: string) => oneOf(value, ['expressroute', 'internet'], '--either') as EgressPath),
      )
      .option('--resolve-ip', 'pac: place IPv4 literals and unmatched names by address (one dnsResolve)')
      .option(
        '--circuit-direct',
        'pac: answer DIRECT for circuit-bound hosts when the topology has no circuit proxy (the network routes them)',
      )
      .addOption(
        new Option('--format <format>', 'allowlist: text, csv, json or azfw (default: text)').argParser(
          (value: string) => oneOf(value, allowlistFormats, '--format') as AllowlistFormat,
        ),
      )
      .addOption(
        new Option(
          '--collection-priority <n>',
          `allowlist --format azfw: priority of the rule collection group (default: ${defaultCollectionPriority})`,
        ).argParser((value: string) => integer(value, '--collection-priority', 100, 65000)),
      )
      .option('--region <name>', "route-filter: the tenant's Azure region (default: the topology's region)")
      .option('--json', 'route-filter: JSON instead of text')
      .option(
        '--access-log <destination>',
        `squid: access_log destination (default: ${defaultSquidAccessLog})`,
      )
      .option('--via <address>', 'iproute: IPv4 next hop towards the circuit')
      .option('--via6 <address>', 'iproute: IPv6 next hop towards the circuit')
      .option('--dev <interface>', 'iproute: interface towards the circuit')
      .addOption(
        new Option(
          '--table <id>',
          `iproute: routing table of the circuit (default: ${defaultMarks.table})`,
        ).argParser((value: string) => integer(value, '--table', 1, 0xffffffff, [253, 254, 255])),
      )
      .addOption(
        new Option(
          '--fwmark <mark>',
          `nftables, iproute: mark bit(s) of circuit-bound packets (default: ${hex(defaultMarks.fwmark)})`,
        ).argParser((value: string) => integer(value, '--fwmark', 1, 0xffffffff)),
      )
      .addOption(
        new Option(
          '--priority <n>',
          `iproute: priority of the first ip rule (default: ${defaultMarks.priority})`,
        ).argParser((value: string) => integer(value, '--priority', 1, 32765)),
      )
      .addOption(catalogOption())
      .addOption(noBuiltinOption())
      .addOption(profileOption())
      .addHelpText(
        'after',
        `
Kinds:
${kindList}

Examples:
  pathwarden generate pac --topology examples/topology.yaml -o proxy.pac
  pathwarden generate pac --topology topo.yaml --either internet --resolve-ip
  pathwarden generate squid --topology topo.yaml -o /etc/squid/conf.d/pathwarden.conf
  pathwarden generate dnsmasq --topology topo.yaml -o /etc/dnsmasq.d/pathwarden.conf
  pathwarden generate nftables --topology topo.yaml -o /etc/nftables.d/pathwarden.nft
  pathwarden generate iproute --topology topo.yaml --via 192.0.2.1 --dev er0 -o pathwarden-routes.sh
  pathwarden generate allowlist --format azfw
  pathwarden generate route-filter --region westeurope --json
  pathwarden generate bundle --topology topo.yaml --via 192.0.2.1 --dev er0 -o bundle/

Outputs and their verification: docs/generate.md.`,
      )
      .action(async (kind: string, flags: GenerateFlags) => {
        if (kind !== 'bundle' && !isGenerateKind(kind)) {
          throw new PathwardenError(
            'PW_ERR_USAGE',
            `unknown kind "${kind}" (expected one of ${generateKinds.join(', ')}, bundle)`,
          );
        }
        const policy = compilePolicy((await loadProfileFromOptions(flags)).catalog);
        const topology = flags.topology === undefined ? emptyTopology : loadTopologyFile(flags.topology);
        const request: GenerateRequest = {
          component: flags.component === undefined ? undefined : parseComponent(flags.component, 'saas'),
          either: flags.either,
          resolveIp: flags.resolveIp,
          circuitDirect: flags.circuitDirect,
          format: flags.format,
          collectionPriority: flags.collectionPriority,
          region: flags.region,
          json: flags.json,
          accessLog: flags.accessLog,
          via: flags.via,
          via6: flags.via6,
          dev: flags.dev,
          table: flags.table,
          fwmark: flags.fwmark,
          priority: flags.priority,
        };
        if (kind === 'bundle') {
          if (flags.output === undefined) {
            throw new PathwardenError('PW_ERR_USAGE', 'bundle writes a directory: give it with -o DIR');
          }
          const bundle = generateBundle(policy, topology, request);
          const lines = writeBundle(flags.output, bundle.files);
          for (const skip of bundle.skipped) lines.push(`skipped ${skip.kind}: ${skip.reason}`);
          lines.push(
            `check: sh ${join(flags.output, 'check.sh')}; apply: sh ${join(flags.output, 'apply.sh')}`,
          );
          await write(io.stdout, `${lines.join('\n')}\n`);
          return;
        }
        const text = generate(kind, policy, topology, request);
        if (flags.output === undefined) await write(io.stdout, text);
        else writeOutput(flags.output, text);
      })
  );
}

function oneOf(value: string, allowed: readonly string[], option: string): string {
  if (!allowed.includes(value)) {
    throw new PathwardenError('PW_ERR_USAGE', `${option} "${value}" is not one of ${allowed.join(', ')}`);
  }
  return value;
}

function integer(value: string, option: string, min: number, max: number, reserved: number[] = []): number {
  const number = /^0x[0-9a-f]+$/i.test(value)
    ? Number.parseInt(value, 16)
    : /^\d+$/.test(value)
      ? Number(value)
      : Number.NaN;
  if (!(number >= min && number <= max) || reserved.includes(number)) {
    const excluded = reserved.length > 0 ? `, not ${reserved.join(', ')}` : '';
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `${option} "${value}" is not an integer from ${min} to ${max}${excluded}`,
    );
  }
  return number;
}

function writeBundle(
  directory: string,
  files: readonly { name: string; text: string; executable: boolean }[],
): string[] {
  try {
    mkdirSync(directory, { recursive: true });
  } catch (cause) {
    throw new PathwardenError(
      'PW_ERR_OUTPUT_WRITE',
      `cannot create ${directory}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return files.map((file) => {
    const path = join(directory, file.name);
    writeOutput(path, file.text);
    if (file.executable) chmodSync(path, 0o755);
    return `wrote ${path}`;
  });
}

/** Writes next to the target and renames, so a web server or daemon never reads half a file. */
function writeOutput(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, file);
  } catch (cause) {
    rmSync(temporary, { force: true });
    throw new PathwardenError('PW_ERR_OUTPUT_WRITE', `cannot write ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
}
