// Refreshes the prefixes of rule service.powerbi-servicetag in catalog/powerbi.yaml from an Azure
// Service Tags file (ServiceTags_Public_YYYYMMDD.json). Usage:
//   node scripts/update-servicetag.mjs ServiceTags_Public_20230213.json
// Update the rule's source (changeNumber, date) and the sources entry by hand in the same commit.
import { readFileSync, writeFileSync } from 'node:fs';
import { isSeq, parseDocument } from 'yaml';

const [tagsFile, catalogFile = 'catalog/powerbi.yaml', tagName = 'PowerBI'] = process.argv.slice(2);
if (!tagsFile) {
  console.error('usage: node scripts/update-servicetag.mjs SERVICETAGS.json [CATALOG.yaml] [TAG]');
  process.exit(2);
}
const tags = JSON.parse(readFileSync(tagsFile, 'utf8'));
const tag = tags.values.find((value) => value.name === tagName);
if (!tag) {
  console.error(`${tagsFile}: no tag named ${tagName}`);
  process.exit(2);
}
const doc = parseDocument(readFileSync(catalogFile, 'utf8'));
const rules = doc.get('rules');
const index = rules.items.findIndex((rule) => rule.get('id') === 'service.powerbi-servicetag');
const prefixes = doc.createNode(tag.properties.addressPrefixes);
prefixes.flow = false;
rules.items[index].set('prefixes', prefixes);
if (!isSeq(rules.items[index].get('prefixes', true))) throw new Error('prefixes not written');
writeFileSync(catalogFile, doc.toString({ lineWidth: 110 }));
console.log(
  `${catalogFile}: ${tag.properties.addressPrefixes.length} prefixes of ${tagName} (changeNumber ${tag.properties.changeNumber})`,
);
