// Renders docs/catalog.md from a catalog: one table row per rule, the notes, and the map from each
// statement of the source documents to the rules that carry it. A test fails when the committed
// file differs from this output.
import { type Catalog, components, coversAllComponents, type Rule } from './model.js';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const code = (text: string) => `\`${text}\``;

function destinations(rule: Rule): string {
  const items = [...rule.hosts.map(code)];
  const prefixes = rule.prefixes ?? [];
  if (prefixes.length > 0) {
    items.push(
      prefixes.length <= 4
        ? prefixes.map(code).join(', ')
        : `${prefixes.length} prefixes (${code(prefixes[0] as string)} ...)`,
    );
  }
  if (rule.ports) items.push(`ports ${rule.ports.join(', ')}`);
  return items.length > 0 ? items.join(', ') : '*(no fixed destinations)*';
}

function componentList(rule: Rule): string {
  return coversAllComponents(rule) ? 'all' : rule.components.join(', ');
}

export function renderCatalogDocs(catalog: Catalog): string {
  const out: string[] = [];
  out.push(
    `# Catalog: ${catalog.title ?? catalog.name}`,
    '',
    '<!-- Generated from catalog/powerbi.yaml by `npm run docs:catalog`; do not edit by hand. -->',
    '',
    `Name \`${catalog.name}\`, version \`${catalog.version}\`, ${catalog.rules.length} rules.`,
    catalog.description ? `\n${catalog.description.trim()}` : '',
    '',
    'Paths: `expressroute` (the private circuit), `internet` (the public Internet), `either` (documented on',
    `both, or the destination decides). Components: ${components.map(code).join(', ')}. The matching`,
    'and verdict rules are in [model.md](model.md).',
    '',
    '## Rules',
    '',
    '| id | components | activity | destinations | path | data | source |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const rule of catalog.rules) {
    out.push(
      `| ${code(rule.id)} | ${componentList(rule)} | ${cell(rule.activity)} | ${cell(destinations(rule))} | ${code(rule.path)} | ${rule.data} | ${cell(rule.source)} |`,
    );
  }
  out.push('', '## Rule notes', '');
  for (const rule of catalog.rules) {
    if (rule.note) out.push(`- ${code(rule.id)}: ${cell(rule.note)}`);
  }
  if (catalog.notes.length > 0) {
    out.push('', '## Catalog notes', '');
    for (const note of catalog.notes)
      out.push(`- ${code(note.id)}: ${cell(note.text)} *(${cell(note.source)})*`);
  }
  if (catalog.statements.length > 0) {
    out.push(
      '',
      '## Traceability: every statement of the source document',
      '',
      'Each sentence group and table row of the seed ("Power BI and ExpressRoute") and the rules or notes',
      'that carry it.',
      '',
      '| statement | what it says | rules and notes |',
      '| --- | --- | --- |',
    );
    for (const statement of catalog.statements) {
      out.push(
        `| ${cell(statement.ref)} | ${cell(statement.says)} | ${statement.rules.map(code).join(', ')} |`,
      );
    }
  }
  const later = catalog.rules.filter((rule) => !rule.source.startsWith('seed'));
  if (later.length > 0) {
    out.push(
      '',
      '## Rules added from later documents',
      '',
      'Rules whose source is not the seed: each cites its own document (see Sources) and table row. The',
      'traceability table above never maps a seed statement to one of them.',
      '',
    );
    for (const rule of later) out.push(`- ${code(rule.id)} (${rule.path}): ${cell(rule.source)}`);
  }
  const sources = Object.entries(catalog.sources);
  if (sources.length > 0) {
    out.push('', '## Sources', '', '| key | document | date |', '| --- | --- | --- |');
    for (const [key, source] of sources) {
      const title = source.url ? `[${cell(source.title)}](${source.url})` : cell(source.title);
      out.push(`| ${code(key)} | ${title} | ${source.date ?? ''} |`);
    }
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
