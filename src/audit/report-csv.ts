// --csv: one classified flow per row (RFC 4180: comma separated, CRLF line ends, fields with a
// comma, quote, CR or LF quoted, quotes doubled), with a header row naming the FlowRecord fields
// (see flow-row.ts). Times are epoch milliseconds as in the record; empty cells are nulls.
import type { Writable } from 'node:stream';
import type { FlowRecord } from '../flow/record.js';
import { type Cell, flowCells, flowColumns } from './flow-row.js';
import { type FlowSink, TextFlowSink } from './flow-sink.js';

const needsQuotes = /[",\r\n]/;

export function csvField(cell: Cell): string {
  if (cell === null) return '';
  const text = String(cell);
  return needsQuotes.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(cells: readonly Cell[]): string {
  return `${cells.map(csvField).join(',')}\r\n`;
}

export const csvHeader = csvRow(flowColumns);

export function csvLine(flow: FlowRecord): string {
  return csvRow(flowCells(flow));
}

export function csvSink(stream: Writable): FlowSink {
  return new TextFlowSink(stream, csvLine, csvHeader);
}
