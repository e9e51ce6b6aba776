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
 * A record whose every value is a string, number, boolean or null (and an origin of `{ kind }`
 * alone) gets its text from gatewayJson, member by member, the same bytes without the generic
 * serializer; any other takes JSON.stringify.
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
    const made = hasGatewayKeys(record) ? gatewayJson(record) : undefined;
    if (made !== undefined) {
      this.text = made.text;
      this.egress = made.egress;
      this.connectMs = made.connectMs;
      this.decision = made.decision;
      this.error = made.error;
      this.outcome = made.outcome;
      this.decisionBytes = made.decisionBytes;
      return;
    }
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
      // Only records gatewayJson gives up on come here (a value of another kind): no cache.
      this.decisionBytes = Buffer.from(text.slice(decision, error), 'utf8');
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

/**
 * Parts kept by decisionPartOf: one per rule and verdict a gateway's traffic keeps meeting. A busy
 * gateway meets a few rules; a part not among them is written as it would be without the cache.
 */
const decisionsKept = 16;

/** Where the members of `gatewayKeys` that start the parts are. */
const egressIndex = gatewayKeys.indexOf('egressPath');
const connectMsIndex = gatewayKeys.indexOf('connectMs');
const decisionIndex = gatewayKeys.indexOf('expectedPath');
const errorIndex = gatewayKeys.indexOf('error');
const outcomeIndex = gatewayKeys.indexOf('outcome');
const originIndex = gatewayKeys.indexOf('origin');
/** `{"key":` for the first member, `,"key":` for the others: what JSON.stringify writes before each value. */
const memberStarts: readonly string[] = gatewayKeys.map(
  (key, index) => `${index === 0 ? '{' : ','}${JSON.stringify(key)}:`,
);

/**
 * A string JSON.stringify writes as it is, between quotes: no `"`, `\`, control character or
 * surrogate (a lone one is escaped; a pair is not, but is left to JSON.stringify with the rest).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const plainString = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

function jsonString(text: string): string {
  return plainString.test(text) ? `"${text}"` : JSON.stringify(text);
}

/**
 * A member's value as JSON.stringify writes it, for the kinds a gateway record holds (a string, a
 * number, a boolean, null); undefined for anything else, whose record then takes JSON.stringify.
 * A number is written as String() writes it (both use Number::toString; -0 is `0`), a NaN or an
 * infinity as `null`.
 */
function jsonValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return value === null ? 'null' : undefined;
    default:
      return undefined;
  }
}

/** `{"kind":...}` for a plain origin of `kind` alone (a gateway's); undefined for any other. */
function originJson(origin: unknown): string | undefined {
  if (typeof origin !== 'object' || origin === null) return undefined;
  if (Object.getPrototypeOf(origin) !== Object.prototype) return undefined;
  // A toJSON of its own (not enumerable, or a proxy's) is what JSON.stringify would write.
  if ((origin as { toJSON?: unknown }).toJSON !== undefined) return undefined;
  const keys = Object.keys(origin);
  if (keys.length !== 1 || keys[0] !== 'kind') return undefined;
  const kind = (origin as { kind: unknown }).kind;
  return typeof kind === 'string' ? `{"kind":${jsonString(kind)}}` : undefined;
}

interface GatewayJson {
  text: string;
  egress: number;
  connectMs: number;
  decision: number;
  error: number;
  outcome: number;
  decisionBytes: Buffer;
}

/**
 * JSON.stringify(record) for a record with the keys of a decided gateway flow in their order
 * (hasGatewayKeys checked by the caller), written member by member, and where its parts start;
 * undefined when a value is not of the kinds jsonValue writes or the origin is not a plain
 * `{ kind }` (or anything brings a `toJSON`): JSON.stringify then. The generic serializer was about
 * 2 us of a flow, most of it walking the members and checking each string for characters to
 * escape (docs/performance.md, "Gateway per request, session 13"). The decision's four members
 * come from decisionPartOf, written once per rule and verdict.
 */
function gatewayJson(record: FlowRecord): GatewayJson | undefined {
  const values = record as unknown as Record<string, unknown>;
  if (values.toJSON !== undefined) return undefined;
  let text = '';
  let egress = -1;
  let connectMs = -1;
  let decision = -1;
  let error = -1;
  let outcome = -1;
  let decisionBytes: Buffer = noBytes;
  for (let index = 0; index < gatewayKeys.length; index++) {
    if (index === decisionIndex) {
      decision = text.length;
      const part = decisionPartOf(record);
      if (part === undefined) return undefined;
      text += part.text;
      decisionBytes = part.bytes;
      index += 3; // expectedPath, verdict, ruleId and reason
      continue;
    }
    if (index === egressIndex) egress = text.length;
    else if (index === connectMsIndex) connectMs = text.length;
    else if (index === errorIndex) error = text.length;
    else if (index === outcomeIndex) outcome = text.length;
    const value = values[gatewayKeys[index] as string];
    const json = index === originIndex ? originJson(value) : jsonValue(value);
    if (json === undefined) return undefined;
    text += (memberStarts[index] as string) + json;
  }
  text += '}';
  return { text, egress, connectMs, decision, error, outcome, decisionBytes };
}

/** The decision's members written last (most recent first), keyed by their four values. */
interface DecisionPart {
  expectedPath: unknown;
  verdict: unknown;
  ruleId: unknown;
  reason: unknown;
  text: string;
  bytes: Buffer<ArrayBuffer>;
}
const decisionParts: DecisionPart[] = [];

/**
 * `,"expectedPath":...,"verdict":...,"ruleId":...,"reason":...` of the record and its UTF-8, kept for
 * the last `decisionsKept` distinct decisions: every flow of a rule and verdict has the same four
 * values (the policy builds a reason once and shares it), so a hit compares them and writes nothing.
 * Found by value (===), so a kept part is always the record's own; undefined when a value is not of
 * the kinds jsonValue writes.
 */
function decisionPartOf(record: FlowRecord): DecisionPart | undefined {
  const { expectedPath, verdict, ruleId, reason } = record;
  for (let index = 0; index < decisionParts.length; index++) {
    const part = decisionParts[index] as DecisionPart;
    if (
      part.reason === reason &&
      part.expectedPath === expectedPath &&
      part.verdict === verdict &&
      part.ruleId === ruleId
    ) {
      if (index > 0) {
        decisionParts.splice(index, 1);
        decisionParts.unshift(part);
      }
      return part;
    }
  }
  const values = [expectedPath, verdict, ruleId, reason].map(jsonValue);
  if (values.some((json) => json === undefined)) return undefined;
  const bytes = Buffer.from(
    `${memberStarts[decisionIndex]}${values[0]}${memberStarts[decisionIndex + 1]}${values[1]}` +
      `${memberStarts[decisionIndex + 2]}${values[2]}${memberStarts[decisionIndex + 3]}${values[3]}`,
    'utf8',
  );
  // The text and the keys kept are strings of their own (decoded from bytes): a value may be a
  // slice of a larger string, and V8 keeps a slice as a view that holds all of that string for as
  // long as the cache keeps the part. UTF-16LE gives any string back
  // unchanged, lone surrogates included; the JSON text has none (they are escaped).
  const part: DecisionPart = {
    expectedPath: ownString(expectedPath),
    verdict: ownString(verdict),
    ruleId: ownString(ruleId),
    reason: ownString(reason),
    text: bytes.toString('utf8'),
    bytes,
  };
  decisionParts.unshift(part);
  if (decisionParts.length > decisionsKept) decisionParts.length = decisionsKept;
  return part;
}

function ownString(value: unknown): unknown {
  return typeof value === 'string' && value.length > 0
    ? Buffer.from(value, 'utf16le').toString('utf16le')
    : value;
}
