// storedValuesOf is the DuckDB store's row straight from a record: it must equal the row of the
// normalized record (columnValuesOf(toStoredFlow(...))) for every shape a record can take, the odd
// and wrongly-typed ones included (records built by other code, JSONL lines written by hand).
import { describe, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { columnValuesOf, flowColumns, storedValuesOf, toStoredFlow } from './columns.js';

type Loose = FlowRecord & Record<string, unknown>;

function gatewayFlow(): Loose {
  return {
    ...emptyFlow({ kind: 'gateway' }),
    start: 1_796_570_158_070,
    end: 1_796_570_158_162,
    client: '127.0.0.1',
    host: 'api.powerbi.com',
    httpHost: 'api.powerbi.com:40219',
    destination: '127.0.0.1',
    port: 40219,
    protocol: 'http',
    component: 'saas',
    bytesUp: 75,
    bytesDown: 77,
    sourceAddress: '127.0.0.2',
    connectionId: 'gw-1',
    actualPath: 'expressroute',
    actualPathEvidence: 'source 127.0.0.2',
    egressPath: 'expressroute',
    expectedPath: 'expressroute',
    verdict: 'ok',
    ruleId: 'service.backend-api',
    reason: 'seed § SaaS, "quoted"',
    outcome: 'forwarded',
    error: null,
    connectMs: 0.25,
  } as Loose;
}

/** Values of every kind a field may hold in an untrusted record. */
const oddValues: unknown[] = [
  undefined,
  null,
  '',
  'text',
  'é 日本 😀 \ud800',
  0,
  -1,
  1.5,
  65_536,
  2 ** 63,
  -(2 ** 63),
  1e20,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  {},
  [],
];

/** Every field a column reads (the origin is varied on its own below), and `gateway`. */
const fields = [...Object.keys(gatewayFlow()).filter((field) => field !== 'origin'), 'gateway'];

describe('storedValuesOf', () => {
  test('equals the normalized record`s row for a gateway flow, with and without a gateway name', () => {
    const flow = gatewayFlow();
    expect(storedValuesOf(flow, 7, 'gw-a')).toEqual(columnValuesOf(toStoredFlow(flow, 7, 'gw-a')));
    expect(storedValuesOf(flow, 8)).toEqual(columnValuesOf(toStoredFlow(flow, 8)));
    expect(storedValuesOf(flow, 9, '')).toHaveLength(flowColumns.length);
  });

  test('equals it for every odd value in every field, and for an empty record', () => {
    let compared = 0;
    for (const field of fields) {
      for (const value of oddValues) {
        const flow = gatewayFlow();
        flow[field] = value;
        expect(storedValuesOf(flow, 3, 'g'), `${field} = ${String(value)}`).toEqual(
          columnValuesOf(toStoredFlow(flow, 3, 'g')),
        );
        expect(storedValuesOf(flow, 4)).toEqual(columnValuesOf(toStoredFlow(flow, 4)));
        compared++;
      }
    }
    for (const origin of [{ kind: 'squid', file: 'a.log', line: 12 }, { kind: 5, line: 1.5 }, {}]) {
      const flow = { ...gatewayFlow(), origin } as unknown as Loose;
      expect(storedValuesOf(flow, 5, 'g')).toEqual(columnValuesOf(toStoredFlow(flow, 5, 'g')));
    }
    const empty = { origin: undefined } as unknown as Loose;
    expect(storedValuesOf(empty, 6)).toEqual(columnValuesOf(toStoredFlow(empty, 6)));
    const nulls = Object.fromEntries(fields.map((field) => [field, null])) as unknown as Loose;
    expect(storedValuesOf(nulls, 1, 'g')).toEqual(columnValuesOf(toStoredFlow(nulls, 1, 'g')));
    expect(fields).toHaveLength(26);
    expect(compared).toBe(fields.length * oddValues.length);
  });
});
