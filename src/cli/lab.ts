// `pathwarden lab run|down`: the network-namespace lab that proves the seed end to end. Everything
// else lives in src/lab/.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { type CliIo, write } from './io.js';
import { catalogOption } from './options.js';

interface LabRunOptions {
  scenario?: string[];
  json?: boolean;
  keep?: boolean;
  out?: string;
  html?: string;
  catalog?: string[];
}

export function labCommand(io: CliIo, setExit: (code: number) => void): Command {
  const lab = new Command('lab').description(
    'network-namespace lab (Linux, root): prove every seed statement end to end with real clients, captures and faults',
  );
  lab
    .command('run')
    .description('build the lab, run the scenarios, audit the uplink captures, report and tear down')
    .option(
      '--scenario <name>',
      'run this scenario (repeatable): baseline, circuit-down, leaky-client, pac-only, private-link; default all',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--json', 'write the report as JSON to stdout (shape in docs/lab.md)')
    .option('--keep', 'leave namespaces and processes up after the run (remove them with `lab down`)')
    .option(
      '--out <dir>',
      'folder for configs, captures, flow records and report.html (default: a new temporary folder)',
    )
    .option('--html <file>', 'also write the HTML report here (it is always written to the lab folder)')
    .addOption(catalogOption())
    .action(async (options: LabRunOptions) => {
      const [{ runLab }, { labReportJson, renderLabHtml, renderLabTerminal }] = await Promise.all([
        import('../lab/run.js'),
        import('../lab/report.js'),
      ]);
      const report = await runLab({
        scenarios: options.scenario as never,
        keep: options.keep,
        outDir: options.out,
        catalogs: options.catalog,
        log: (line) => io.stderr.write(`${line}\n`),
      });
      const html = renderLabHtml(report);
      writeFileSync(join(report.lab.dir, 'report.html'), html);
      if (options.html) writeFileSync(options.html, html);
      await write(
        io.stdout,
        options.json ? `${JSON.stringify(labReportJson(report), null, 2)}\n` : renderLabTerminal(report),
      );
      if (!report.passed) setExit(1);
    });
  lab
    .command('down')
    .description('remove every lab namespace (pwlab-*) and its processes left by a --keep or interrupted run')
    .action(async () => {
      const { removeLeftovers } = await import('../lab/network.js');
      const removed = await removeLeftovers();
      await write(io.stdout, removed.length ? `removed ${removed.join(', ')}\n` : 'nothing to remove\n');
    });
  return lab;
}
