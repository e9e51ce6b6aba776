// `pathwarden catalog list | show | validate | docs`: read and check catalogs.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { diffCatalogs, formatDiff, isEmptyDiff } from '../catalog/diff.js';
import { renderCatalogDocs } from '../catalog/docs.js';
import { importM365Endpoints, importServiceTags, overlayYaml } from '../catalog/import.js';
import {
  builtinCatalogFile,
  loadBuiltinCatalog,
  loadCatalogFile,
  mergeCatalogs,
  readCatalogFile,
} from '../catalog/load.js';
import { coversAllComponents, type Rule } from '../catalog/model.js';
import { formatProblem, PathwardenError, type Problem } from '../errors.js';
import { type CliIo, write } from './io.js';
import {
  type CatalogOptions,
  catalogOption,
  componentOption,
  loadCatalogFromOptions,
  loadProfileFromOptions,
  noBuiltinOption,
  parseComponent,
  profileOption,
} from './options.js';

export function catalogCommand(io: CliIo, setExit: (code: number) => void): Command {
  const catalog = new Command('catalog').description('list, show and validate endpoint catalogs');

  catalog
    .command('list')
    .description('list the rules of the catalog in effect')
    .option('--json', 'the rules as a JSON array')
    .addOption(componentOption('only rules that apply to this component'))
    .addOption(catalogOption())
    .addOption(noBuiltinOption())
    .addOption(profileOption())
    .action(async (options: CatalogOptions & { json?: boolean; component?: string }) => {
      const loaded = await loadProfileFromOptions(options);
      const component = options.component ? parseComponent(options.component, 'saas') : undefined;
      const rules = loaded.catalog.rules.filter((rule) => !component || rule.components.includes(component));
      if (options.json) {
        await write(io.stdout, `${JSON.stringify(rules, null, 2)}\n`);
        return;
      }
      const rows = rules.map((rule) => [
        rule.id,
        rule.path,
        coversAllComponents(rule) ? 'all' : rule.components.join(','),
        summarizeDestinations(rule),
      ]);
      await write(io.stdout, table(['ID', 'PATH', 'COMPONENTS', 'DESTINATIONS'], rows));
      await write(
        io.stdout,
        `\n${rules.length} rules, catalog ${loaded.catalog.name} ${loaded.catalog.version}, profile ${loaded.catalog.profile}\n`,
      );
    });

  catalog
    .command('show')
    .description('show one rule with its source')
    .argument('<id>', 'rule id, e.g. saas.landing-page')
    .option('--json', 'the rule as JSON')
    .addOption(catalogOption())
    .addOption(noBuiltinOption())
    .action(async (id: string, options: CatalogOptions & { json?: boolean }) => {
      const loaded = await loadCatalogFromOptions(options);
      const rule = loaded.catalog.rules.find((candidate) => candidate.id === id);
      if (!rule) {
        const near = loaded.catalog.rules.filter((candidate) =>
          candidate.id.includes(id.split('.').pop() ?? id),
        );
        throw new PathwardenError(
          'PW_ERR_RULE_NOT_FOUND',
          `no rule "${id}"${near.length > 0 ? ` (did you mean ${near.map((r) => r.id).join(', ')}?)` : ''}`,
        );
      }
      if (options.json) {
        await write(io.stdout, `${JSON.stringify(rule, null, 2)}\n`);
        return;
      }
      const origin = loaded.origins.get(rule);
      const statements = loaded.catalog.statements.filter((statement) => statement.rules.includes(rule.id));
      const lines = [
        `${rule.id}`,
        `  activity    ${rule.activity}`,
        `  path        ${rule.path}`,
        `  components  ${coversAllComponents(rule) ? 'all' : rule.components.join(', ')}`,
        `  data        ${rule.data}`,
        `  hosts       ${rule.hosts.length > 0 ? rule.hosts.join(', ') : '(no fixed destinations)'}`,
      ];
      if (rule.prefixes?.length)
        lines.push(`  prefixes    ${rule.prefixes.length}: ${rule.prefixes.join(', ')}`);
      if (rule.ports) lines.push(`  ports       ${rule.ports.join(', ')}`);
      lines.push(`  source      ${rule.source}`);
      if (rule.note) lines.push(`  note        ${rule.note}`);
      for (const statement of statements) lines.push(`  carries     ${statement.ref}: ${statement.says}`);
      if (origin) lines.push(`  defined at  ${origin.file}:${origin.line}`);
      await write(io.stdout, `${lines.join('\n')}\n`);
    });

  catalog
    .command('validate')
    .description('check a catalog file and report every problem with its location')
    .argument('<file>', 'catalog file (YAML or JSON)')
    .option('--standalone', 'check the file alone, not also laid over the built-in catalog')
    .option('--json', 'problems as JSON')
    .action(async (file: string, options: { standalone?: boolean; json?: boolean }) => {
      const result = readCatalogFile(file);
      let problems: Problem[] = result.problems;
      if (problems.length === 0 && result.catalog && !options.standalone) {
        try {
          mergeCatalogs(loadBuiltinCatalog(), { catalog: result.catalog, origins: result.origins }, file);
        } catch (error) {
          if (!(error instanceof PathwardenError)) throw error;
          problems = error.problems.map((problem) => ({
            ...problem,
            message: `over the built-in catalog: ${problem.message}`,
          }));
        }
      }
      if (options.json) {
        await write(
          io.stdout,
          `${JSON.stringify({ file, valid: problems.length === 0, problems }, null, 2)}\n`,
        );
      } else if (problems.length === 0) {
        await write(io.stdout, `${file}: valid, ${result.catalog?.rules.length ?? 0} rules\n`);
      } else {
        await write(io.stderr, problems.map((problem) => `${formatProblem(problem)}\n`).join(''));
        await write(io.stderr, `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
      }
      if (problems.length > 0) setExit(2);
    });

  catalog
    .command('docs')
    .description('render the catalog as Markdown (docs/catalog.md is made with this)')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .addOption(catalogOption())
    .addOption(noBuiltinOption())
    .action(async (options: CatalogOptions & { output?: string }) => {
      const markdown = renderCatalogDocs((await loadCatalogFromOptions(options)).catalog);
      if (options.output) writeFileSync(options.output, markdown);
      else await write(io.stdout, markdown);
    });

  const importer = catalog
    .command('import')
    .description('turn Microsoft data files into catalog overlays (load them with --catalog)');

  importer
    .command('service-tags')
    .description('an Azure Service Tags file (ServiceTags_Public_YYYYMMDD.json) -> one expressroute rule')
    .argument('<file>', 'Service Tags JSON file')
    .option('--tag <name>', 'service tag to import', 'PowerBI')
    .option('--region <name>', 'the regional tag NAME.REGION (e.g. WestEurope) instead of the global one')
    .requiredOption('-o, --output <file>', 'overlay YAML to write')
    .action(async (file: string, options: { tag: string; region?: string; output: string }) => {
      const overlay = importServiceTags(file, { tag: options.tag, region: options.region });
      writeFileSync(options.output, overlayYaml(overlay));
      const rule = overlay.rules[0];
      await write(
        io.stdout,
        `${options.output}: rule ${rule?.id} with ${rule?.prefixes?.length ?? 0} prefixes (changeNumber ${overlay.version})\n`,
      );
    });

  importer
    .command('m365-endpoints')
    .description('Microsoft 365 endpoint data (endpoints.office.com JSON) -> one rule per endpoint set')
    .argument('<file>', 'endpoint data JSON file')
    .option('--service-area <name>', 'service area to import (repeatable; default Common)', collect)
    .option(
      '--data-version <version>',
      'version of the data (YYYYMMDDNN from the /version call), cited in the sources',
    )
    .requiredOption('-o, --output <file>', 'overlay YAML to write')
    .action(
      async (file: string, options: { serviceArea?: string[]; dataVersion?: string; output: string }) => {
        const result = importM365Endpoints(file, {
          serviceAreas: options.serviceArea,
          version: options.dataVersion,
        });
        writeFileSync(options.output, overlayYaml(result.catalog));
        await write(io.stdout, `${options.output}: ${result.catalog.rules.length} rules\n`);
        if (result.skipped.length > 0) {
          await write(
            io.stderr,
            `pathwarden: skipped ${result.skipped.length} URL pattern(s) the catalog model does not have: ${result.skipped.join(', ')}\n`,
          );
        }
      },
    );

  catalog
    .command('diff')
    .description(
      'rules, hosts and prefixes added, removed and changed between two catalogs (exit 1 on change)',
    )
    .argument('<old>', 'catalog file, or "builtin" for the built-in catalog')
    .argument('<new>', 'catalog file, or "builtin"')
    .option('--overlay', 'lay NEW over OLD (as --catalog does) and compare the result with OLD')
    .option('--json', 'the differences as JSON')
    .action(async (oldFile: string, newFile: string, options: { overlay?: boolean; json?: boolean }) => {
      const load = (file: string) => loadCatalogFile(file === 'builtin' ? builtinCatalogFile() : file);
      const old = load(oldFile);
      const next = options.overlay ? mergeCatalogs(old, load(newFile), newFile) : load(newFile);
      const diff = diffCatalogs(old.catalog, next.catalog);
      await write(io.stdout, options.json ? `${JSON.stringify(diff, null, 2)}\n` : formatDiff(diff));
      if (!isEmptyDiff(diff)) setExit(1);
    });

  return catalog;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function summarizeDestinations(rule: Rule): string {
  const parts = [...rule.hosts];
  if (rule.prefixes?.length) parts.push(`${rule.prefixes.length} prefixes`);
  if (parts.length === 0) return '(no fixed destinations)';
  const text = parts.join(' ');
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((value, i) => (i === cells.length - 1 ? value : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}
