// JSON form of a Decision, written for streams of millions: the rule and reason part of a line
// depends only on the matched entry and verdict, so it is serialized once and reused — as text for
// decisionToJson, and as UTF-8 bytes for writeDecisionLine, which copies them instead of encoding
// the same few hundred characters again for every line.
import type { Decision, RuleRef } from './policy.js';

/** The part of a line after the verdict, for one (rule, reason) pair. */
interface Tail {
  /** What this tail was built for. */
  rule: RuleRef | null;
  reason: string;
  profile: string;
  /**
   * The text, kept once `decisionToJson` asks for it. `writeDecisionLine` keeps only the bytes:
   * in `explain -` the ~850 characters of each of the ~1,000 tails would otherwise be promoted to
   * the old generation next to their bytes, for nothing.
   */
  text: string | undefined;
  /**
   * The last rest-of-line seen with this tail, as bytes: from `,"component"` to the newline.
   * The fields it covers are the same for almost every line of a stream, so one memo per tail
   * turns nearly every line into a copy.
   */
  rest: RestOfLine | undefined;
  /** The next tail of the same rule (another reason) or reason (another profile). */
  next: Tail | undefined;
}

interface RestOfLine {
  component: Decision['component'];
  port: Decision['port'];
  path: Decision['path'];
  actualPath: Decision['actualPath'];
  verdict: Decision['verdict'];
  bytes: Buffer;
}

/**
 * Tails in chains, one hash probe per line: by rule (a RuleRef belongs to one compiled policy, so
 * one profile; its chain holds one tail per reason it came with), and for decisions without a rule
 * by reason (the chain holds one tail per profile). The first tail of a chain answers nearly every
 * line: a stream's actual path is fixed, so a rule comes with one reason. (Two probes, rule or
 * profile and then reason, were 4-5% of a line's time in `explain -`, and a map per rule was
 * promoted to the old generation with each of the ~1,000 tails: docs/performance.md, "explain -
 * warm-up, session 7".)
 */
const ruleTails = new WeakMap<RuleRef, Tail>();
const ruleLessTails = new Map<string, Tail>();
/** Tails kept per chain. */
const MAX_CHAIN = 16;

function tail(rule: RuleRef | null, reason: string, profile: string): Tail {
  const first = rule === null ? ruleLessTails.get(reason) : ruleTails.get(rule);
  let length = 0;
  for (let entry = first; entry !== undefined; entry = entry.next) {
    if (entry.reason === reason && entry.profile === profile) return entry;
    length++;
  }
  // A policy gives a rule at most a few reasons; a caller whose reasons vary without bound (say,
  // per host) gets its tail uncached rather than a chain that every line walks.
  if (length >= MAX_CHAIN)
    return { rule, reason, profile, text: undefined, rest: undefined, next: undefined };
  const entry: Tail = { rule, reason, profile, text: undefined, rest: undefined, next: first };
  if (rule === null) ruleLessTails.set(reason, entry);
  else ruleTails.set(rule, entry);
  return entry;
}

/** The part of a line after the verdict: `,"rule":…,"reason":…,"profile":…}`. */
function tailText(entry: Tail): string {
  return `,"rule":${JSON.stringify(entry.rule)},"reason":${JSON.stringify(entry.reason)},"profile":${JSON.stringify(entry.profile)}}`;
}

/** `{"input":…,"host":…` — the only part of a line that is new for every target. */
function head(decision: Decision): string {
  const input = JSON.stringify(decision.input);
  const host = decision.host === decision.input ? input : JSON.stringify(decision.host);
  return `{"input":${input},"host":${host}`;
}

function middle(decision: Decision): string {
  return (
    `,"component":"${decision.component}","port":${decision.port},"path":"${decision.path}",` +
    `"actualPath":"${decision.actualPath}","verdict":"${decision.verdict}"`
  );
}

/** One decision as a JSON object text (no trailing newline). Field order is stable. */
export function decisionToJson(decision: Decision): string {
  const entry = tail(decision.rule, decision.reason, decision.profile);
  entry.text ??= tailText(entry);
  return head(decision) + middle(decision) + entry.text;
}

/**
 * Writes `decisionToJson(decision)` and a newline into `out` at `offset`, as UTF-8. Returns the
 * offset after the line, or -1 (nothing written) when the line might not fit.
 */
export function writeDecisionLine(decision: Decision, out: Buffer, offset: number): number {
  const entry = tail(decision.rule, decision.reason, decision.profile);
  let rest = entry.rest;
  if (
    rest === undefined ||
    rest.component !== decision.component ||
    rest.port !== decision.port ||
    rest.path !== decision.path ||
    rest.actualPath !== decision.actualPath ||
    rest.verdict !== decision.verdict
  ) {
    rest = {
      component: decision.component,
      port: decision.port,
      path: decision.path,
      actualPath: decision.actualPath,
      verdict: decision.verdict,
      bytes: Buffer.from(`${middle(decision)}${entry.text ?? tailText(entry)}\n`),
    };
    entry.rest = rest;
  }
  const { input, host } = decision;
  // Room for the worst case: a UTF-16 code unit never takes more than 6 bytes as JSON (\uXXXX).
  const room = HEAD_FIXED_BYTES + (input.length + (host === input ? 0 : host.length)) * 6 + rest.bytes.length;
  if (offset + room > out.length) return -1;
  // Short pieces are copied with loops: a call into TypedArray#set or #copyWithin costs more
  // than moving a dozen bytes. Only the long rest of the line goes through set(). (Unrolled
  // stores of the two keys saved about 6% of this function, Buffer#writeUInt32BE cost 13% more:
  // measured, and left as the loop.)
  let end = copyBytes(INPUT_KEY, out, offset);
  const inputStart = end;
  end = writeJsonString(input, out, end);
  const inputEnd = end;
  end = copyBytes(HOST_KEY, out, end);
  if (host === input) {
    for (let i = inputStart; i < inputEnd; i++) out[end++] = out[i] as number;
  } else {
    end = writeJsonString(host, out, end);
  }
  out.set(rest.bytes, end);
  return end + rest.bytes.length;
}

function copyBytes(bytes: Uint8Array, out: Buffer, offset: number): number {
  let end = offset;
  for (let i = 0; i < bytes.length; i++) out[end++] = bytes[i] as number;
  return end;
}

const INPUT_KEY = Buffer.from('{"input":');
const HOST_KEY = Buffer.from(',"host":');
/** Bytes of the two keys and the four quotes of the head, for the room check. */
const HEAD_FIXED_BYTES = INPUT_KEY.length + HOST_KEY.length + 4;

/**
 * Writes JSON.stringify(text) as UTF-8 at `offset`; returns the offset after it. Targets are
 * nearly always printable ASCII without quotes or backslashes, which are copied one byte per
 * character here; anything else goes through JSON.stringify and Buffer#write.
 */
function writeJsonString(text: string, out: Buffer, offset: number): number {
  let end = offset;
  out[end++] = 0x22;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) {
      return offset + out.write(JSON.stringify(text), offset);
    }
    out[end++] = code;
  }
  out[end++] = 0x22;
  return end;
}
