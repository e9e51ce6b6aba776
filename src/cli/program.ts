// Builds the command tree and runs it against a set of streams; the bin and the tests share it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../catalog/builtin.js';
import { formatProblem, isPathwardenError } from '../errors.js';
import type { CliIo } from './io.js';

type CommandFactory = (io: CliIo, setExit: (code: number) => void) => Command;

/**
 * Each command's module, imported only when the command runs: `explain` must not pay for DuckDB,
 * pino, zod or the YAML parser that other commands load (docs/performance.md, "Start-up").
 * In the order `--help` lists them.
 */
const commandModules: Record<string, () => Promise<CommandFactory>> = {
  explain: async () => (await import('./explain.js')).explainCommand,
  catalog: async () => (await import('./catalog.js')).catalogCommand,
  generate: async () => (await import('./generate.js')).generateCommand,
  gateway: async () => (await import('./gateway.js')).gatewayCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
  dashboard: async () => (await import('./dashboard.js')).dashboardCommand,
  lab: async () => (await import('./lab.js')).labCommand,
  store: async () => (await import('./store.js')).storeCommand,
};

export function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
}

/**
 * The command tree, writing to `io`; `setExit` raises the exit code of the run. With `only`, the
 * tree holds just those commands (what a command line naming one needs); else every command.
 */
export async function buildProgram(
  io: CliIo,
  setExit: (code: number) => void,
  only?: readonly string[],
): Promise<Command> {
  const program = new Command('pathwarden')
    .description(
      'Keeps Power BI traffic on the ExpressRoute circuit: which path each destination must take, and why.',
    )
    .version(version(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const names = only ?? Object.keys(commandModules);
  const factories = await Promise.all(
    names.map((name) => (commandModules[name] as () => Promise<CommandFactory>)()),
  );
  for (const factory of factories) program.addCommand(factory(io, setExit));
  applyToTree(program, io);
  return program;
}

/** Runs one command line; resolves to the process exit code (0 ok, 1 condition matched, 2 usage/input error). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const setExit = (code: number) => {
    exitCode = Math.max(exitCode, code);
  };
  // A command line that names a command needs only that command, `--version` none; `--help`,
  // `help` and typos (commander suggests the closest name) get the whole tree.
  const first = argv[0];
  const only =
    first !== undefined && Object.hasOwn(commandModules, first)
      ? [first]
      : argv.length === 1 && (first === '-V' || first === '--version')
        ? []
        : undefined;
  const program = await buildProgram(io, setExit, only);
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
