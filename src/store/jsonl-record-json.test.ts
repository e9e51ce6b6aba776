// The JSONL store's line of a decided gateway record is built from the record's JSON text (its own,
// or the gateway log's RecordJson): it must be byte for byte the line of the normalized record,
// JSON.stringify(toStoredFlow(...)), for every value a field can hold, the odd ones included (a
// record the parts do not fit takes the normalized record's way).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RecordJson } from '../flow/record-json.js';
import { gatewayRecord, type Loose } from '../flow/test-records.js';
import { storedAsGiven, toStoredFlow } from './columns.js';
import { openJsonlFlowStore } from './jsonl.js';

/** Values of every kind a field may hold in an untrusted record. */
const oddValues: unknown[] = [
  undefined,
  null,
  '',
  'text',
  'é 日本 😀 \ud800 "q" \\ \n \u0001 \u2028',
  ',"egressPath":"x","error":',
  0,
  -0,
  -1,
  1.5,
  65_535,
  65_536,
  2 ** 53,
  2 ** 63,
  -(2 ** 63),
  1e21,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  {},
  { egressPath: 1, error: 2 },
  [],
];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pathwarden-jsonl-json-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Appends each record twice (with and without a RecordJson), returns the file's lines and the expected. */
async function linesOf(
  records: readonly Loose[],
  gateway: string,
): Promise<{ got: string[]; want: string[] }> {
  const path = join(dir, `flows-${Math.random()}.jsonl`);
  const store = await openJsonlFlowStore(path, 60_000, { gateway });
  const want: string[] = [];
  let id = 1;
  for (const record of records) {
    store.append(record);
    want.push(JSON.stringify(toStoredFlow(record, id++, gateway)));
    store.append(record, new RecordJson(record));
    want.push(JSON.stringify(toStoredFlow(record, id++, gateway)));
  }
  await store.close();
  return { got: readFileSync(path, 'utf8').split('\n').slice(0, -1), want };
}

describe('JSONL lines from a record`s JSON text', () => {
  test('a decided gateway record takes the parts, and its line is the normalized record`s', async () => {
    const record = gatewayRecord(1);
    const json = new RecordJson(record);
    expect(json.cut).toBe(true);
    expect(storedAsGiven(record)).toBe(true);
    const records = Array.from({ length: 100 }, (_, index) => gatewayRecord(index));
    for (const gateway of ['vm', '', 'gâteway "2"']) {
      const { got, want } = await linesOf(records, gateway);
      expect(got).toEqual(want);
    }
  });

  test('every odd value in every field, in the origin and in a record of another shape', async () => {
    const fields = Object.keys(gatewayRecord(0)).filter((field) => field !== 'origin');
    expect(fields).toHaveLength(25);
    const records: Loose[] = [];
    for (const field of fields) {
      for (const value of oddValues) {
        const record = gatewayRecord(records.length);
        record[field] = value;
        records.push(record);
      }
    }
    for (const origin of [
      { kind: 'squid', file: 'a.log', line: 12 },
      { kind: 5 },
      {},
      { kind: 'gateway', file: undefined },
      { kind: 'gateway', extra: 1 },
      { line: 1.5, kind: 'squid' },
      null,
      Object.assign(Object.create({ toJSON: () => 'x' }) as object, { kind: 'gateway' }),
    ]) {
      records.push({ ...gatewayRecord(records.length), origin } as unknown as Loose);
    }
    // Other shapes: a gateway record without a decision, keys in another order, an extra key.
    const undecided = gatewayRecord(0);
    for (const key of ['expectedPath', 'verdict', 'ruleId', 'reason']) delete undecided[key];
    const reordered = gatewayRecord(1);
    const { error } = reordered;
    delete reordered.error;
    reordered.error = error;
    records.push(undecided, reordered, { ...gatewayRecord(2), gateway: 'own' });
    // A line longer than a block, and non-ASCII in the first part and in the decision's.
    records.push({ ...gatewayRecord(3), reason: `§${'x'.repeat(100_000)}` });
    records.push({
      ...gatewayRecord(4),
      host: 'bücher.example',
      httpHost: '😀:1',
      verdict: 'lëak',
    } as unknown as Loose);
    const { got, want } = await linesOf(records, 'gw-1');
    expect(got).toEqual(want);
    expect(got).toHaveLength(records.length * 2);
  });
});
