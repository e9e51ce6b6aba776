// --ndjson: one classified FlowRecord per line (JSON Lines), streamed as flows are classified.
// Each line parses back to the record (fields in flowFields order); `pathwarden audit --format
// ndjson` can read it again.
import type { Writable } from 'node:stream';
import type { FlowRecord } from '../flow/record.js';
import { flowObject } from './flow-row.js';
import { type FlowSink, TextFlowSink } from './flow-sink.js';

export function ndjsonLine(flow: FlowRecord): string {
  return `${JSON.stringify(flowObject(flow))}\n`;
}

export function ndjsonSink(stream: Writable): FlowSink {
  return new TextFlowSink(stream, ndjsonLine);
}
