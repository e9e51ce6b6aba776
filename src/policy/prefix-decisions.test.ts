// The compiled built-in catalog hands the policy its prefixes pre-parsed (src/catalog/builtin.ts):
// decisions must be the same as from the texts parsed on the first address.
import { describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../catalog/load.js';
import type { Catalog } from '../catalog/model.js';
import {
  encodePrefixes,
  formatIp,
  type IpPrefix,
  parsePrefix,
  rememberedPrefixes,
  rememberParsedPrefixes,
} from '../match/ip.js';
import { Random } from '../util/random.js';
import { Policy } from './policy.js';

const parsed = (text: string): IpPrefix => {
  const prefix = parsePrefix(text);
  if (typeof prefix === 'string') throw new Error(prefix);
  return prefix;
};

describe('pre-parsed catalog prefixes', () => {
  const catalog = loadBuiltinCatalog().catalog;
  // A copy whose prefix lists are remembered as the build's compile step records them.
  const copy = structuredClone(catalog) as Catalog;
  for (const rule of copy.rules) {
    if (rule.prefixes?.length)
      rememberParsedPrefixes(rule.prefixes, encodePrefixes(rule.prefixes.map(parsed)));
  }

  test('decode to what parsePrefix gives, and only for the lists they were recorded for', () => {
    const rules = copy.rules.filter((rule) => rule.prefixes?.length);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      const texts = rule.prefixes as readonly string[];
      expect(rememberedPrefixes(texts)).toStrictEqual(texts.map(parsed));
      // An equal list that is another array is parsed, not answered from the record.
      expect(rememberedPrefixes([...texts])).toBeUndefined();
    }
    // A record that does not hold one prefix per text is not used.
    const texts = ['192.0.2.0/24', '2001:db8::/32'];
    rememberParsedPrefixes(texts, encodePrefixes([parsed('192.0.2.0/24')]));
    expect(rememberedPrefixes(texts)).toBeUndefined();
  });

  test('a policy over them decides every address in and around each prefix as one that parses', () => {
    const fromTexts = Policy.compile(catalog);
    const fromParsed = Policy.compile(copy);
    const random = new Random(12);
    const texts = catalog.rules.flatMap((rule) => rule.prefixes ?? []);
    let compared = 0;
    for (const text of texts) {
      const prefix = parsed(text);
      for (let n = 0; n < 4; n++) {
        const bytes = new Uint8Array(prefix.bytes);
        // The network, a random address inside, and neighbours just past the last byte.
        if (n === 1) bytes[bytes.length - 1] = random.int(0, 255);
        if (n === 2) bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
        if (n === 3) bytes[bytes.length - 2] = ((bytes[bytes.length - 2] as number) + 1) & 0xff;
        const address = formatIp({ version: prefix.version, bytes });
        for (const port of [undefined, 443]) {
          const options = port === undefined ? {} : { port };
          expect(fromParsed.decide(address, options), address).toStrictEqual(
            fromTexts.decide(address, options),
          );
          compared++;
        }
      }
    }
    expect(compared).toBe(texts.length * 8);
  });
});
