// FlowRecorder's final decision: worked out at the end (redecide) or ahead (settleDecision, for a
// tunnel), the record gets the same verdict; a later decision (a tunnel rerouted by its SNI) wins
// over a settled one; ownCopy keeps the text.
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import type { FlowRecord } from '../flow/record.js';
import type { RecordJson } from '../flow/record-json.js';
import type { Decision } from '../policy/policy.js';
import type { ActualPath } from '../policy/verdict.js';
import {
  applyDecision,
  FlowRecorder,
  type GatewayFlow,
  isDecided,
  ownCopy,
  settleDecision,
  startFlow,
} from './flow-recorder.js';
import { MemoryFlowStore, RecordingMetrics } from './testing/memory-store.js';

/** A decision whose verdict says which actual path it was asked for. */
function decisionFor(actualPath: ActualPath, reason = 'rule r1'): Decision {
  return {
    profile: 'default',
    input: 'api.powerbi.com',
    host: 'api.powerbi.com',
    component: 'saas',
    port: 443,
    path: 'expressroute',
    actualPath,
    verdict: actualPath === 'expressroute' ? 'ok' : actualPath === 'unknown' ? 'unverified' : 'leak',
    rule: null,
    reason: `${reason}, asked for ${actualPath}`,
  };
}

function flowOn(egress: 'expressroute' | 'internet', calls: ActualPath[], reason?: string): GatewayFlow {
  const flow = startFlow('127.0.0.1', 'c1', 'saas');
  const redecide = (actualPath: ActualPath) => {
    calls.push(actualPath);
    return decisionFor(actualPath, reason);
  };
  applyDecision(flow, decisionFor('unknown', reason), redecide);
  flow.record.egressPath = egress;
  flow.forwarded = true;
  return flow;
}

describe('final decision', () => {
  const finish = (flow: GatewayFlow, error: null | 'PW_GW_SNI_MISMATCH' = null) => {
    const store = new MemoryFlowStore();
    new FlowRecorder(store, new RecordingMetrics()).finish(flow, error);
    return store.flows[0];
  };

  test('settled ahead or decided at the end, the record is the same', () => {
    const lateCalls: ActualPath[] = [];
    const late = finish(flowOn('internet', lateCalls));
    const earlyCalls: ActualPath[] = [];
    const early = flowOn('internet', earlyCalls);
    settleDecision(early);
    expect(early.redecide).toBeNull();
    expect(earlyCalls).toEqual(['internet']);
    const settled = finish(early);
    expect(earlyCalls).toEqual(['internet']);
    expect(lateCalls).toEqual(['internet']);
    expect(settled?.verdict).toBe('leak');
    expect(settled?.reason).toBe(late?.reason);
    expect({ ...settled, start: 0, end: 0 }).toEqual({ ...late, start: 0, end: 0 });
  });

  test('a flow refused after it was settled keeps the verdict without an actual path', () => {
    const calls: ActualPath[] = [];
    const flow = flowOn('internet', calls);
    settleDecision(flow);
    flow.forwarded = false;
    const record = finish(flow, 'PW_GW_SNI_MISMATCH');
    expect(record?.verdict).toBe('unverified');
    expect(record?.actualPath).toBe('unknown');
  });

  test('a decision applied after settling (a reroute) is the one that counts', () => {
    const calls: ActualPath[] = [];
    const flow = flowOn('internet', calls, 'first');
    settleDecision(flow);
    const rerouted: ActualPath[] = [];
    applyDecision(flow, decisionFor('unknown', 'second'), (actualPath) => {
      rerouted.push(actualPath);
      return decisionFor(actualPath, 'second');
    });
    flow.record.egressPath = 'expressroute';
    const record = finish(flow);
    expect(rerouted).toEqual(['expressroute']);
    expect(record?.verdict).toBe('ok');
    expect(record?.reason).toBe('second, asked for expressroute');
  });

  test('a settled flow counts as decided, so a failed reroute does not classify it again', () => {
    const flow = startFlow('127.0.0.1', 'c1', 'saas');
    expect(isDecided(flow)).toBe(false);
    const calls: ActualPath[] = [];
    const settled = flowOn('internet', calls);
    expect(isDecided(settled)).toBe(true);
    settleDecision(settled);
    expect(settled.redecide).toBeNull();
    expect(isDecided(settled)).toBe(true);
  });

  test('nothing to settle before the egress is known', () => {
    const calls: ActualPath[] = [];
    const flow = flowOn('internet', calls);
    flow.record.egressPath = null;
    settleDecision(flow);
    expect(calls).toEqual([]);
    expect(flow.redecide).not.toBeNull();
  });
});

test('ownCopy keeps the text, including characters past U+00FF', () => {
  const head = 'CONNECT api.powerbi.com:443 HTTP/1.1\r\nUser-Agent: x\r\n\r\n';
  const host = head.slice(8, 27);
  expect(ownCopy(host)).toBe('api.powerbi.com:443');
  expect(ownCopy('bücher.example')).toBe('bücher.example');
  expect(ownCopy('straße-€.example')).toBe('straße-€.example');
  expect(ownCopy('')).toBe('');
});

describe('one JSON text for the log line and the store', () => {
  /** Keeps what the recorder hands the store besides the record. */
  class JsonKeepingStore extends MemoryFlowStore {
    readonly jsons: (RecordJson | undefined)[] = [];
    override append(flow: FlowRecord, json?: RecordJson): void {
      this.jsons.push(json);
      super.append(flow);
    }
  }

  test('a decided flow, forwarded or refused, is cut in the parts the JSONL store takes', () => {
    const store = new JsonKeepingStore();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const recorder = new FlowRecorder(store, new RecordingMetrics(), logger);
    recorder.finish(flowOn('expressroute', []), null);
    const refused = flowOn('internet', []);
    refused.forwarded = false;
    recorder.finish(refused, 'PW_GW_SNI_MISMATCH');
    const undecided = startFlow('127.0.0.1', 'c2', 'saas');
    recorder.finish(undecided, 'PW_GW_BAD_REQUEST');
    expect(store.jsons.map((json) => json?.cut)).toEqual([true, true, false]);
    store.flows.forEach((record, index) => {
      expect(store.jsons[index]?.text).toBe(JSON.stringify(record));
    });
    expect(lines).toHaveLength(3);
  });

  test('a record that JSON cannot hold still reaches the store and the metrics', () => {
    const store = new JsonKeepingStore();
    const metrics = new RecordingMetrics();
    const recorder = new FlowRecorder(store, metrics, pino({ level: 'info' }, { write: () => undefined }));
    const flow = flowOn('expressroute', []);
    (flow.record as unknown as Record<string, unknown>).bytesUp = 1n; // JSON.stringify throws on it
    recorder.finish(flow, null);
    expect(store.flows).toHaveLength(1);
    expect(store.jsons).toEqual([undefined]);
    expect(metrics.flows).toBe(1);
  });

  test('without the log at info the store makes its own', () => {
    const store = new JsonKeepingStore();
    const logger = pino({ level: 'warn' }, { write: () => undefined });
    new FlowRecorder(store, new RecordingMetrics(), logger).finish(flowOn('expressroute', []), null);
    expect(store.jsons).toEqual([undefined]);
  });
});
