// `pathwarden generate <kind>`: configuration for existing gear, from the catalog and a topology.
// Argument handling only; the generators live in src/generate/.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { components, type EgressPath } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import { type AllowlistFormat, allowlistFormats } from '../generate/allowlist.js';
import { defaultEither } from '../generate/egress.js';
import { generate, generateKinds, isGenerateKind, kindSummaries } from '../generate/kinds.js';
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
  format?: AllowlistFormat;
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

const kindList = generateKinds.map((kind) => `  ${kind.padEnd(13)}${kindSummaries[kind]}`).join('\n');

export function generateCommand(io: CliIo, _setExit: (code: number) => void): Command {
  return (
    new Command('generate')
      .description(
        'generate PAC, Squid, dnsmasq/nftables/ip rule, allow-list or route-filter output from the catalog',
      )
      .argument('<kind>', `one of ${generateKinds.join(', ')}`)
      .option(
        '--topology <file>',
        'topology file: proxies, source addresses and prefixes of each path (docs/topology.md)',
      )
      .option('-o, --output <file>', 'write to this file (replaced atomically) instead of stdout')
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
      .addOption(
        new Option('--format <format>', 'allowlist: text, csv, json or azfw (default: text)').argParser(
          (value: string) => oneOf(value, allowlistFormats, '--format') as AllowlistFormat,
        ),
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

Outputs and their verification: docs/generate.md.`,
      )
      .action(async (kind: string, flags: GenerateFlags) => {
        if (!isGenerateKind(kind)) {
          throw new PathwardenError(
            'PW_ERR_USAGE',
            `unknown kind "${kind}" (expected one of ${generateKinds.join(', ')})`,
          );
        }
        const policy = compilePolicy(loadProfileFromOptions(flags).catalog);
        const topology = flags.topology === undefined ? emptyTopology : loadTopologyFile(flags.topology);
        const text = generate(kind, policy, topology, {
          component: flags.component === undefined ? undefined : parseComponent(flags.component, 'saas'),
          either: flags.either,
          resolveIp: flags.resolveIp,
          format: flags.format,
          region: flags.region,
          json: flags.json,
          accessLog: flags.accessLog,
          via: flags.via,
          via6: flags.via6,
          dev: flags.dev,
          table: flags.table,
          fwmark: flags.fwmark,
          priority: flags.priority,
        });
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
