// Refreshes the command examples of a docs page after a catalog change: every
// `<!-- example: pathwarden ARGS -->` block gets the current output of the built CLI, every
// `<!-- excerpt: ... -->` block the same number of leading lines. Run `npm run build` first.
//   node scripts/update-doc-examples.mjs docs/generate.md
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const [file = 'docs/generate.md'] = process.argv.slice(2);
const text = readFileSync(file, 'utf8');
const updated = text.replace(
  /<!-- (example|excerpt): pathwarden ([^>]+) -->\n```text\n([\s\S]*?)```/g,
  (_whole, kind, command, body) => {
    const output = execFileSync('node', ['dist/src/cli/main.js', ...command.trim().split(' ')], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const lines = body.split('\n').length - 1;
    const shown = kind === 'example' ? output : `${output.split('\n').slice(0, lines).join('\n')}\n`;
    return `<!-- ${kind}: pathwarden ${command} -->\n\`\`\`text\n${shown}\`\`\``;
  },
);
writeFileSync(file, updated);
