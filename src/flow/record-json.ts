// A finished gateway record's JSON text, made once and shared by the sinks that write JSON: the
// gateway's flow log line holds the record's fields in the record's order, the JSONL store's line
// the same fields in the stored order (docs/gateway-api.md), and both lines were built from a
// JSON.stringify of their own (with the store's normalized record in between), about 6 us of a
// request's 100 (docs/performance.md, "Gateway per request, session 11").
import { emptyFlow, type FlowRecord } from './record.js';

/**
 * The keys of a gateway record with a decision, in the order the gateway gives them a value: the
 * ones every record starts with, then startFlow's, applyDecision's and finish()'s.
 */
const gatewayKeys: readonly string[] = [
  ...Object.keys(emptyFlow({ kind: 'gateway' })),
  'egressPath',
  'connectMs',
  'expectedPath',
  'verdict',
  'ruleId',
  'reason',
  'error',
  'outcome',
];

/** Where each part starts: the member's `,"key":`. */
export const EGRESS_MEMBER = ',"egressPath":';
export const CONNECT_MS_MEMBER = ',"connectMs":';
export const DECISION_MEMBER = ',"expectedPath":';
export const ERROR_MEMBER = ',"error":';
export const OUTCOME_MEMBER = ',"outcome":';

/**
 * JSON.stringify(record), and for a plain record with exactly the keys of a decided gateway flow in
 * their order (`gatewayKeys`), where each part of it starts: the record's first fields
 * `text.slice(1, egress)`; `egressPath` (`egress` to `connectMs`) and `connectMs` (to `decision`);
 * the decision's four members `text.slice(decision, error)`, also as UTF-8 in `decisionBytes`;
 * `error` (to `outcome`) and `outcome` (to the closing brace). Inside a JSON string every `"` is
 * escaped, so a `,"key":` marker is always between members: the record's own when no value is an
 * object (the JSONL store checks that before it relies on them, columns.ts `storedAsGiven`). The
 * log line only concatenates the parts again, which gives `text` back wherever the cuts are.
 */
export class RecordJson {
  /** JSON.stringify of the record. */
  readonly text: string;
  /** Where `,"egressPath":` starts in `text`; -1 when the record has another shape (the rest too). */
  readonly egress: number;
  readonly connectMs: number;
  /** Where the decision's members start (`,"expectedPath":`). */
  readonly decision: number;
  readonly error: number;
  readonly outcome: number;
  /** UTF-8 of `text.slice(decision, error)`; empty when the record has another shape. */
  readonly decisionBytes: Buffer;

  constructor(record: FlowRecord) {
    const text = JSON.stringify(record);
    this.text = text;
    let egress = -1;
    let connectMs = -1;
    let decision = -1;
    let error = -1;
    let outcome = -1;
    if (hasGatewayKeys(record)) {
      egress = text.indexOf(EGRESS_MEMBER);
      connectMs = text.indexOf(CONNECT_MS_MEMBER, egress + 1);
      decision = text.indexOf(DECISION_MEMBER, connectMs + 1);
      error = text.indexOf(ERROR_MEMBER, decision + 1);
      outcome = text.indexOf(OUTCOME_MEMBER, error + 1);
    }
    // A member whose value JSON leaves out (undefined, a function) has no marker: no parts then.
    if (egress > 0 && connectMs > egress && decision > connectMs && error > decision && outcome > error) {
      this.egress = egress;
      this.connectMs = connectMs;
      this.decision = decision;
      this.error = error;
      this.outcome = outcome;
      this.decisionBytes = decisionBytesOf(text.slice(decision, error));
    } else {
      this.egress = -1;
      this.connectMs = -1;
      this.decision = -1;
      this.error = -1;
      this.outcome = -1;
      this.decisionBytes = noBytes;
    }
  }

  /** True when the parts are known (a decided gateway flow's keys, in the gateway's order). */
  get cut(): boolean {
    return this.egress >= 0;
  }
}

const noBytes = Buffer.alloc(0);

/**
 * True for a plain object with the keys of a decided gateway flow, in the gateway's order (a record
 * of the gateway's that was never decided lacks the decision's four).
 */
export function hasGatewayKeys(record: FlowRecord): boolean {
  if (Object.getPrototypeOf(record) !== Object.prototype) return false;
  const keys = Object.keys(record);
  if (keys.length !== gatewayKeys.length) return false;
  for (let index = 0; index < keys.length; index++) {
    if (keys[index] !== gatewayKeys[index]) return false;
  }
  return true;
}

/** The decisions' parts encoded last (most recent first), and their UTF-8. */
const decisionTexts: string[] = [];
const decisionUtf8: Buffer[] = [];
/**
 * Parts kept: one per rule and verdict a gateway's traffic keeps meeting. A busy gateway meets a
 * few rules; a part not among them is encoded as it would be without the cache.
 */
const decisionsKept = 16;

/**
 * The UTF-8 of a decision's part, encoded once for as long as it keeps coming back: the reason in it
 * (400-odd characters, each with a `§`) is the same for every flow of a rule and verdict, and V8
 * encodes a string with a non-ASCII character one character at a time (0.65 us of this part, for
 * each of the two lines). Found by content (===), so a cached encoding is always the part's own.
 */
function decisionBytesOf(part: string): Buffer {
  for (let index = 0; index < decisionTexts.length; index++) {
    if (decisionTexts[index] === part) {
      const bytes = decisionUtf8[index] as Buffer;
      if (index > 0) {
        decisionTexts.splice(index, 1);
        decisionUtf8.splice(index, 1);
        decisionTexts.unshift(part);
        decisionUtf8.unshift(bytes);
      }
      return bytes;
    }
  }
  const bytes = Buffer.from(part, 'utf8');
  // Kept as a string of its own, decoded from the bytes: `part` is a slice of the whole record's
  // text, and V8 keeps a slice as a view that holds all of that text (the client's Host and SNI
  // included) for as long as the cache keeps the part. The JSON text has no lone surrogate (they
  // are escaped), so the decoded string is equal to `part`.
  decisionTexts.unshift(bytes.toString('utf8'));
  decisionUtf8.unshift(bytes);
  if (decisionTexts.length > decisionsKept) {
    decisionTexts.length = decisionsKept;
    decisionUtf8.length = decisionsKept;
  }
  return bytes;
}
