// Records shaped as the gateway makes them, for the tests of their JSON text (record-json.test.ts)
// and of the JSONL store's line made from it (src/store/jsonl-record-json.test.ts).
import { emptyFlow, type FlowRecord } from './record.js';

export type Loose = FlowRecord & Record<string, unknown>;

/** A decided gateway record, its keys in the gateway's order (startFlow, applyDecision, finish). */
export function gatewayRecord(index: number): Loose {
  const record = emptyFlow({ kind: 'gateway' }) as Loose;
  record.start = 1_796_589_866_157 + index;
  record.client = '127.0.0.1';
  record.connectionId = `gw-ia2-mxcb7wrn-${index}`;
  record.component = 'saas';
  record.egressPath = null;
  record.connectMs = null;
  record.bytesUp = 0;
  record.bytesDown = 0;
  record.host = 'api.powerbi.com';
  record.httpHost = 'api.powerbi.com:36509';
  record.destination = '127.0.0.1';
  record.port = 36509;
  record.protocol = 'http';
  record.expectedPath = 'expressroute';
  record.verdict = 'ok';
  record.ruleId = 'service.backend-api';
  // More distinct reasons than the decision parts kept (16), and repeated ones.
  record.reason = `api.powerbi.com matches rule ${index % 40} § SaaS ("quoted" \\ backslash)`;
  record.egressPath = 'expressroute';
  record.sourceAddress = '127.0.0.2';
  record.connectMs = index % 7;
  record.bytesUp = 75;
  record.bytesDown = 103 + index;
  record.end = 1_796_589_866_186 + index;
  record.error = null;
  record.outcome = 'forwarded';
  record.actualPath = 'expressroute';
  record.actualPathEvidence = 'source 127.0.0.2';
  return record;
}
