// Every public command and option must be documented in docs/ (STYLE.md house rule).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/load.js';
import { buildProgram } from './program.js';

const docsDir = join(packageRoot(), 'docs');
const docs = readdirSync(docsDir)
  .filter((name) => name.endsWith('.md'))
  .map((name) => readFileSync(join(docsDir, name), 'utf8'))
  .join('\n');

function commandsOf(command: Command, prefix: string[] = []): { path: string; command: Command }[] {
  return command.commands.flatMap((child) => {
    const path = [...prefix, child.name()];
    return [{ path: path.join(' '), command: child }, ...commandsOf(child, path)];
  });
}

const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
const commands = commandsOf(await buildProgram(io, () => {}));

describe('docs cover the CLI', () => {
  test('there are commands to check', () => {
    expect(commands.map((entry) => entry.path)).toEqual(
      expect.arrayContaining(['explain', 'catalog validate']),
    );
  });

  test.each(commands.map((entry) => [entry.path, entry.command] as const))(
    'pathwarden %s',
    (path, command) => {
      expect(docs, `docs/ never mentions "pathwarden ${path}"`).toContain(`pathwarden ${path}`);
      for (const option of command.options) {
        const flag = option.long ?? option.short;
        if (!flag || flag === '--help') continue;
        expect(docs, `option ${flag} of "pathwarden ${path}" is not documented`).toContain(flag);
      }
    },
  );
});
