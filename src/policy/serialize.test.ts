// The fast serializers (decisionToJson, writeDecisionLine: cached rule/reason bytes, hand-written
// head) must give exactly the bytes of the general one: JSON.stringify of the decision's fields
// in the documented order (docs/cli.md). Random targets of every kind, every component, actual
// path and port, every profile of the built-in catalog, and batches small enough to fill up.
import { describe, expect, test } from 'vitest';
import { loadBuiltinCatalog } from '../catalog/load.js';
import { components } from '../catalog/model.js';
import { profileNames, selectProfile } from '../catalog/profiles.js';
import { Random } from '../util/random.js';
import { Policy } from './policy.js';
import { decisionToJson, writeDecisionLine } from './serialize.js';
import { parseTarget } from './target.js';
import { generalJson, randomTargets } from './test-decisions.js';
import type { ActualPath } from './verdict.js';

const catalog = loadBuiltinCatalog().catalog;

const actualPaths: ActualPath[] = ['unknown', 'expressroute', 'internet'];

describe('decision serializers', () => {
  test('decisionToJson and writeDecisionLine equal JSON.stringify on random decisions', () => {
    const random = new Random(20261206);
    const targets = randomTargets(random, 3000).map(parseTarget);
    let compared = 0;
    let escaped = 0;
    for (const profile of profileNames(catalog)) {
      const policy = Policy.compile(selectProfile(catalog, profile));
      // A small batch, so that lines often do not fit and are written into a fresh one.
      let out = Buffer.alloc(4096);
      let used = 0;
      let expected = '';
      const flush = () => {
        expect(out.subarray(0, used).toString('utf8')).toBe(expected);
        used = 0;
        expected = '';
      };
      for (const target of targets) {
        if (typeof target === 'string') continue;
        const component = random.pick(components);
        const actualPath = random.pick(actualPaths);
        const port = random.next() < 0.2 ? random.int(1, 65535) : undefined;
        const decision = policy.decideTarget(target, { component, actualPath, port });
        const general = generalJson(decision);
        expect(decisionToJson(decision)).toBe(general);
        if (/[^\x20-\x7e]|\\/.test(decision.input)) escaped++;
        let end = writeDecisionLine(decision, out, used);
        if (end < 0) {
          flush();
          end = writeDecisionLine(decision, out, 0);
          if (end < 0) {
            out = Buffer.alloc(out.length * 4);
            end = writeDecisionLine(decision, out, 0);
          }
        }
        expect(end).toBeGreaterThan(used);
        used = end;
        expected += `${general}\n`;
        compared++;
      }
      flush();
    }
    expect(compared).toBeGreaterThan(8000);
    expect(escaped).toBeGreaterThan(100);
  });

  test('interleaved profiles and actual paths: each line is its own decision, not the last cached one', () => {
    // The serializer remembers one tail per rule (checked against the reason) and the tails of
    // rule-less decisions by reason (checked against the profile): alternate what those checks see.
    const policies = profileNames(catalog).map((profile) => Policy.compile(selectProfile(catalog, profile)));
    expect(policies.length).toBeGreaterThan(1);
    const out = Buffer.alloc(1 << 16);
    let lines = 0;
    for (let round = 0; round < 3; round++) {
      for (const text of [
        'app.powerbi.com',
        'unknown.example.org',
        '203.0.113.9',
        'login.microsoftonline.com',
      ]) {
        for (const actualPath of actualPaths) {
          for (const policy of policies) {
            const decision = policy.decide(text, { actualPath });
            const end = writeDecisionLine(decision, out, 0);
            expect(out.subarray(0, end).toString('utf8')).toBe(`${generalJson(decision)}\n`);
            expect(decisionToJson(decision)).toBe(generalJson(decision));
            lines++;
          }
        }
      }
    }
    expect(lines).toBe(3 * 4 * actualPaths.length * policies.length);
  });

  test('a rule with more reasons than a chain keeps: every line still its own bytes', () => {
    // Decisions made by hand: the policy gives a rule a few reasons, a caller may give it many.
    const base = Policy.compile(selectProfile(catalog, 'current')).decide('app.powerbi.com');
    expect(base.rule).not.toBeNull();
    const out = Buffer.alloc(1 << 12);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 40; i++) {
        const decision = { ...base, reason: `reason ${i} of the caller` };
        const end = writeDecisionLine(decision, out, 0);
        expect(out.subarray(0, end).toString('utf8')).toBe(`${generalJson(decision)}\n`);
        expect(decisionToJson(decision)).toBe(generalJson(decision));
      }
    }
  });

  test('a line that does not fit leaves the batch untouched', () => {
    const policy = Policy.compile(catalog);
    const decision = policy.decide('app.powerbi.com');
    const out = Buffer.alloc(64, 0x2a);
    expect(writeDecisionLine(decision, out, 0)).toBe(-1);
    expect(out.every((byte) => byte === 0x2a)).toBe(true);
  });
});
