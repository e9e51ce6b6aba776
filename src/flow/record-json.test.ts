// RecordJson's text is JSON.stringify(record) byte for byte, and its parts are where the markers
// are, whichever way the text was made: member by member for a gateway record of strings, numbers,
// booleans and nulls, JSON.stringify for any other.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { emptyFlow, type FlowRecord } from './record.js';
import {
  CONNECT_MS_MEMBER,
  DECISION_MEMBER,
  EGRESS_MEMBER,
  ERROR_MEMBER,
  OUTCOME_MEMBER,
  RecordJson,
} from './record-json.js';
import { gatewayRecord, type Loose } from './test-records.js';

class WithToJson {
  toJSON(key: string): string {
    return `made for ${key}`;
  }
}

/** Values of every kind a field may hold in an untrusted record. */
const oddValues: unknown[] = [
  undefined,
  null,
  '',
  'text',
  '§ é 日本',
  '😀',
  '\ud800',
  'x\udc00',
  '"q" \\ \n \r \t \b \f \u0000 \u0001 \u001f \u007f \u2028 \u2029',
  // Each character JSON escapes on its own, with no quote beside it to send the string to
  // JSON.stringify anyway (review, session 13).
  'a\\b',
  'a\nb',
  '\u0000',
  '\u0001',
  '\u001f',
  'tab\there',
  ',"egressPath":"x","error":',
  ',"expectedPath":null,"outcome":"',
  0,
  -0,
  -1,
  1.5,
  2 ** 53 + 2,
  2 ** 63,
  1e21,
  1e-7,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  true,
  false,
  {},
  [],
  [1, 'two'],
  { kind: 'gateway' },
  new Date(0),
  new WithToJson(),
  new String('boxed'),
  () => 1,
  Symbol('s'),
];

const markers = [EGRESS_MEMBER, CONNECT_MS_MEMBER, DECISION_MEMBER, ERROR_MEMBER, OUTCOME_MEMBER];

/** What RecordJson gives, against JSON.stringify and the markers found in its text. */
function expectSameAsStringify(record: FlowRecord): void {
  let expected: string;
  try {
    expected = JSON.stringify(record);
  } catch (error) {
    expect(() => new RecordJson(record)).toThrow((error as Error).constructor as typeof Error);
    return;
  }
  const json = new RecordJson(record);
  expect(json.text).toBe(expected);
  if (!json.cut) {
    expect(json.decisionBytes.length).toBe(0);
    return;
  }
  const found: number[] = [];
  let from = 0;
  for (const marker of markers) {
    from = json.text.indexOf(marker, from);
    found.push(from);
    from += 1;
  }
  expect([json.egress, json.connectMs, json.decision, json.error, json.outcome]).toEqual(found);
  expect(json.decisionBytes.equals(Buffer.from(json.text.slice(json.decision, json.error), 'utf8'))).toBe(
    true,
  );
}

describe('RecordJson', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  test('a plain gateway record: the text of JSON.stringify, cut at its markers', () => {
    for (let index = 0; index < 100; index++) {
      const json = new RecordJson(gatewayRecord(index));
      expect(json.cut).toBe(true);
      expectSameAsStringify(gatewayRecord(index));
    }
  });

  test('every odd value in every field gives the bytes of JSON.stringify', () => {
    const keys = Object.keys(gatewayRecord(0));
    for (const key of keys) {
      for (const value of oddValues) {
        const record = gatewayRecord(3);
        (record as Record<string, unknown>)[key] = value;
        expectSameAsStringify(record);
      }
    }
  });

  test('a BigInt anywhere throws as JSON.stringify does', () => {
    for (const key of Object.keys(gatewayRecord(0))) {
      const record = gatewayRecord(1);
      (record as Record<string, unknown>)[key] = 1n;
      expect(() => JSON.stringify(record)).toThrow(TypeError);
      expect(() => new RecordJson(record)).toThrow(TypeError);
    }
  });

  test('odd origins, odd decisions kept between records, and records of another shape', () => {
    const origins: unknown[] = [
      { kind: 'gateway', file: 'x' },
      { kind: 5 },
      { kind: 'gate"way' },
      Object.assign(Object.create(null), { kind: 'gateway' }),
      Object.assign(Object.create({ toJSON: () => 'proto' }), { kind: 'gateway' }),
      Object.assign(new WithToJson(), { kind: 'gateway' }),
      // A toJSON of the origin's own, not enumerable (review, session 13).
      Object.defineProperty({ kind: 'gateway' }, 'toJSON', { value: () => 'own', enumerable: false }),
      new Proxy(
        { kind: 'gateway' },
        { get: (target, key) => (key === 'toJSON' ? () => 'proxied' : Reflect.get(target, key)) },
      ),
      null,
      'gateway',
    ];
    for (const origin of origins) {
      const record = gatewayRecord(2);
      record.origin = origin as FlowRecord['origin'];
      expectSameAsStringify(record);
    }
    // The same decision values held by different string objects, and a decision that differs in one
    // value only, one after another: each record's own part.
    for (let index = 0; index < 60; index++) {
      const record = gatewayRecord(index);
      record.reason = `${'api.powerbi.com matches'} rule ${index % 3}`;
      if (index % 4 === 1) record.verdict = 'leak';
      if (index % 5 === 2) record.ruleId = null;
      if (index % 7 === 3) record.expectedPath = 'internet';
      expectSameAsStringify(record);
    }
    const undecided = emptyFlow({ kind: 'gateway' });
    expectSameAsStringify(undecided);
    const reordered = gatewayRecord(4);
    const { start } = reordered;
    delete (reordered as Partial<Loose>).start;
    reordered.start = start;
    expectSameAsStringify(reordered);
    const own = gatewayRecord(5) as Loose;
    own.toJSON = () => ({ own: true });
    expectSameAsStringify(own);
  });

  test('a toJSON on Object.prototype is honoured', () => {
    const proto = Object.prototype as unknown as Record<string, unknown>;
    proto.toJSON = function (this: object) {
      return Object.keys(this).length;
    };
    try {
      expectSameAsStringify(gatewayRecord(6));
    } finally {
      delete proto.toJSON;
    }
  });

  test('a plain gateway record is written without JSON.stringify', () => {
    const record = gatewayRecord(7);
    record.reason = 'api.powerbi.com matches rule service.backend-api (§ 2): a decision not seen before';
    const expected = JSON.stringify(record);
    const stringify = vi.spyOn(JSON, 'stringify');
    const json = new RecordJson(record);
    expect(stringify).not.toHaveBeenCalled();
    stringify.mockRestore();
    expect(json.text).toBe(expected);
  });
});
