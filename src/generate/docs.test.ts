// docs/generate.md stays true: each example is the current output of the command written above
// it, the region table is the one in the code, and every kind and option of the command is there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { packageRoot } from '../catalog/load.js';
import { regionCommunities } from './bgp-communities.js';
import { generateKinds } from './kinds.js';
import { runPathwarden } from './testing/run-cli.js';

const root = packageRoot();
const doc = readFileSync(join(root, 'docs', 'generate.md'), 'utf8');

async function cli(argv: string[]): Promise<string> {
  const { code, stdout, stderr } = await runPathwarden(...argv);
  if (code !== 0) throw new Error(`pathwarden ${argv.join(' ')} exited ${code}: ${stderr}`);
  return stdout;
}

/** `<!-- example|excerpt: pathwarden ... -->` followed by a fenced block. */
const examples = [
  ...doc.matchAll(/<!-- (example|excerpt): pathwarden ([^>]+) -->\n```text\n([\s\S]*?)```/g),
].map(([, kind, command, body]) => ({
  kind: kind as string,
  command: command as string,
  body: body as string,
}));

describe('docs/generate.md', () => {
  test('shows an example of every kind', () => {
    for (const kind of generateKinds) {
      expect(
        examples.some(
          (example) => example.kind === 'example' && example.command.startsWith(`generate ${kind} `),
        ),
      ).toBe(true);
    }
  });

  test.each(examples.map((example) => [example.kind, example.command, example] as const))(
    '%s of `pathwarden %s` is the current output',
    async (kind, command, example) => {
      // Paths in the doc are relative to the package root.
      const argv = command.split(' ').map((arg) => (arg.startsWith('examples/') ? join(root, arg) : arg));
      const output = await cli(argv);
      if (kind === 'example') expect(example.body).toBe(output);
      else expect(output.startsWith(example.body)).toBe(true);
    },
  );

  test('lists every region of the community table', () => {
    for (const region of regionCommunities) {
      expect(doc).toContain(`| \`${region.name}\` | ${region.displayName} | ${region.community} |`);
    }
  });

  test('documents every option of the command', async () => {
    const help = await cli(['generate', '--help']);
    const options = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1] as string);
    expect(options.length).toBeGreaterThan(10);
    for (const option of options.filter((o) => o !== '--help')) expect(doc, option).toContain(option);
  });
});
