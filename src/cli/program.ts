// Builds the command tree and runs it against a set of streams; the bin and the tests share it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../catalog/load.js';
import { formatProblem, isPathwardenError } from '../errors.js';
import { auditCommand } from './audit.js';
import { catalogCommand } from './catalog.js';
import { dashboardCommand } from './dashboard.js';
import { explainCommand } from './explain.js';
import { gatewayCommand } from './gateway.js';
import { generateCommand } from './generate.js';
import type { CliIo } from './io.js';
import { labCommand } from './lab.js';
import { storeCommand } from './store.js';

export function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** The whole command tree, writing to `io`; `setExit` raises the exit code of the run. */
export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('pathwarden')
    .description(
      'Keeps Power BI traffic on the ExpressRoute circuit: which path each destination must take, and why.',
    )
    .version(version(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(explainCommand(io, setExit));
  program.addCommand(catalogCommand(io, setExit));
  program.addCommand(generateCommand(io, setExit));
  program.addCommand(gatewayCommand(io, setExit));
  program.addCommand(auditCommand(io, setExit));
  program.addCommand(dashboardCommand(io, setExit));
  program.addCommand(labCommand(io, setExit));
  program.addCommand(storeCommand(io, setExit));
  applyToTree(program, io);
  return program;
}

/** Runs one command line; resolves to the process exit code (0 ok, 1 condition matched, 2 usage/input error). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const setExit = (code: number) => {
    exitCode = Math.max(exitCode, code);
  };
  const program = buildProgram(io, setExit);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other parse problem is a usage error (2).
      return error.exitCode === 0 ? 0 : 2;
    }
    if (isPathwardenError(error)) {
      io.stderr.write(`pathwarden: ${error.message}\n`);
      for (const problem of error.problems) io.stderr.write(`  ${formatProblem(problem)}\n`);
      return error.exitCode;
    }
    throw error;
  }
  return exitCode;
}

/** Settings every command needs; commands added with addCommand() do not inherit them. */
function applyToTree(command: Command, io: CliIo): void {
  command
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  for (const child of command.commands) applyToTree(child, io);
}
