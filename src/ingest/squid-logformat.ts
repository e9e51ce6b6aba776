// Squid access logs in any custom format, read by the `logformat` definition that wrote them
// (`--squid-logformat`, squid.conf syntax: `%ts.%03tu %6tr %>a %Ss/%03>Hs ...`). The definition is
// compiled once into a regular expression with one group per format code; what a line's values
// mean (URL, hierarchy, sizes) is then read by the same code as the built-in formats (squid.ts).
// Codes and their meaning: squid.conf's `logformat` documentation (src/cf.data.pre).
import { PathwardenError } from '../errors.js';
import type { FlowRecord } from '../flow/record.js';
import { emptyFlow } from '../flow/record.js';
import type { LineParser } from './batches.js';
import {
  lowerAscii,
  monthIndex,
  normalizeAddress,
  parseClfTime,
  parseEpochSeconds,
  parseUint,
  splitHostPort,
} from './fields.js';
import type { IngestContext } from './format.js';
import { badField } from './problems.js';
import type { SquidLineParser } from './squid.js';

/** Squid's built-in formats, usable by name (`--squid-logformat combined`). */
export const builtinLogformats: Readonly<Record<string, string>> = {
  squid: '%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt',
  common: '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st %Ss:%Sh',
  combined: '%>a %[ui %[un [%tl] "%rm %ru HTTP/%rv" %>Hs %<st "%{Referer}>h" "%{User-Agent}>h" %Ss:%Sh',
};

/**
 * Format codes without a namespace that Squid knows (v4 to v7), longest first where one is a
 * prefix of another. Codes pathwarden reads are listed in docs/formats.md; the others are matched
 * and their values skipped. Namespaced codes (`ssl::>sni`, `adapt::<last_h`, ...) are read by shape.
 */
const KNOWN_CODES = [
  // connection
  '>eui',
  '>qos',
  '>nfmark',
  '<qos',
  '<nfmark',
  '>la',
  '>lp',
  '<la',
  '<lp',
  '>a',
  '>A',
  '>p',
  '<a',
  '<A',
  '<p',
  'la',
  'lp',
  // time
  'busy_time',
  'ts',
  'tu',
  'tl',
  'tg',
  'tr',
  'tS',
  'dt',
  '<pt',
  '<tt',
  '<tS',
  // request / reply
  '>rm',
  '<rm',
  'rm',
  '>ru',
  '<ru',
  'ru',
  '>rs',
  '<rs',
  'rs',
  '>rd',
  '<rd',
  'rd',
  '>rP',
  '<rP',
  'rP',
  '>rp',
  '<rp',
  'rp',
  '>rv',
  '<rv',
  'rv',
  '>ha',
  '>h',
  '<h',
  '>Hs',
  '<Hs',
  'Hs',
  '>sh',
  '<sh',
  '>st',
  '<st',
  'st',
  '<bs',
  'mt',
  'Ss',
  'Sh',
  // users, access control, misc
  'un',
  'ul',
  'ui',
  'ue',
  'us',
  'credentials',
  'ea',
  'et',
  'sn',
  'err_code',
  'err_detail',
  'note',
  'master_xaction',
  '%',
].sort((a, b) => b.length - a.length);

/** One `%` code of a logformat. */
export interface LogformatCode {
  /** The code without modifiers (`>a`, `ts`, `ssl::>sni`, `>h`). */
  code: string;
  /** Its `{argument}` (a header name, a strftime format), or null. */
  arg: string | null;
  /** Where the code starts in the definition (0-based), for messages. */
  column: number;
}

export interface CompiledLogformat {
  definition: string;
  regex: RegExp;
  /** The code of each capture group, in order. */
  codes: LogformatCode[];
  /** Reads the value of the format's `%tl` / `%tg` (null when it has none). */
  clock: ((text: string) => number) | null;
}

/**
 * Compiles a logformat definition (or a built-in format's name). Throws PW_ERR_USAGE naming the
 * column of a code it does not know, or when the format names no destination at all.
 */
export function compileSquidLogformat(text: string): CompiledLogformat {
  const definition = (builtinLogformats[text.trim()] ?? text).trim();
  const tokens = tokenize(definition);
  const codes: LogformatCode[] = [];
  let pattern = '^ *';
  for (const [index, token] of tokens.entries()) {
    if (typeof token === 'string') {
      pattern += token.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/ +/g, ' +');
      continue;
    }
    if (token.code === '%') {
      pattern += '%';
      continue;
    }
    const before = tokens[index - 1];
    const after = tokens[index + 1];
    const previous = typeof before === 'string' ? before.slice(-1) : '';
    const next = typeof after === 'string' ? after.charAt(0) : '';
    codes.push({ code: token.code, arg: token.arg, column: token.column });
    // Padded numbers (`%6tr`) start with spaces unless a literal space run already took them.
    if (token.padded && previous !== ' ') pattern += ' *';
    pattern += `(${valuePattern(token, previous, next)})`;
  }
  pattern += ' *$';
  const names = new Set(codes.map((code) => code.code));
  const destination = ['ru', '>ru', 'rd', '>rd', 'ssl::>sni', '<a', '<A'].some((code) => names.has(code));
  const hostHeader = codes.some((code) => code.code === '>h' && code.arg?.toLowerCase() === 'host');
  if (!destination && !hostHeader) {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      '--squid-logformat names no destination: give at least one of %ru, %>ru, %>rd, %ssl::>sni, %{Host}>h, %<a',
    );
  }
  const time = codes.find((code) => code.code === 'tl' || code.code === 'tg');
  return { definition, regex: new RegExp(pattern), codes, clock: time ? strftimeParser(time.arg) : null };
}

interface CodeToken {
  code: string;
  arg: string | null;
  column: number;
  /** `"` encoding: Squid quotes the value itself. */
  quoted: boolean;
  /** A width without a leading 0: the value may be padded with spaces. */
  padded: boolean;
}

/** `% [encoding] [-] [[0]width] [{arg}] formatcode [{arg}]` codes and the literal text between them. */
function tokenize(definition: string): (string | CodeToken)[] {
  const tokens: (string | CodeToken)[] = [];
  let literal = '';
  let at = 0;
  while (at < definition.length) {
    const char = definition[at] as string;
    if (char !== '%') {
      literal += char;
      at++;
      continue;
    }
    const column = at;
    at++;
    let quoted = false;
    if ('"[#/\''.includes(definition[at] ?? 'x')) {
      quoted = definition[at] === '"';
      at++;
    }
    if (definition[at] === '-') at++;
    const width = /^(0?)(\d+)(?:\.\d+)?/.exec(definition.slice(at));
    const padded = width !== null && width[1] === '';
    if (width) at += width[0].length;
    let arg: string | null = null;
    const readArg = () => {
      if (definition[at] !== '{') return;
      const close = definition.indexOf('}', at);
      if (close < 0) usage(`unclosed { at column ${at + 1}`);
      arg = definition.slice(at + 1, close);
      at = close + 1;
    };
    readArg();
    const rest = definition.slice(at);
    let code = /^[a-z_]+::[<>]?[A-Za-z_]+/.exec(rest)?.[0];
    code ??= KNOWN_CODES.find((known) => rest.startsWith(known));
    if (code === undefined) {
      usage(
        `unknown format code at column ${column + 1}: ${JSON.stringify(definition.slice(column, column + 12))}`,
      );
    }
    at += code.length;
    if (arg === null) readArg();
    if (literal !== '') tokens.push(literal);
    literal = '';
    tokens.push({ code, arg, column, quoted, padded });
  }
  if (literal !== '') tokens.push(literal);
  return tokens;
}

function usage(message: string): never {
  throw new PathwardenError('PW_ERR_USAGE', `--squid-logformat: ${message}`);
}

const escapeClass = (char: string) => char.replace(/[\]\\^-]/g, '\\$&');

/** The regular expression of one code's value, by what surrounds it in the definition. */
function valuePattern(token: CodeToken, previous: string, next: string): string {
  if (previous === '"' && next === '"') return '(?:[^"\\\\]|\\\\.)*';
  if (previous === '[' && next === ']') return '[^\\]]*';
  if (token.quoted) return '"(?:[^"\\\\]|\\\\.)*"|[^\\s]*';
  if (token.code === 'tl' || token.code === 'tg') {
    // A time written with spaces (the default `%d/%b/%Y:%H:%M:%S %z`) spans that many more tokens.
    const spaces = (token.arg ?? '%d/%b/%Y:%H:%M:%S %z').split(' ').length - 1;
    return `[^\\s]*${'(?: [^\\s]*)'.repeat(spaces)}`;
  }
  if (next === '' || next === ' ') return '[^\\s]*';
  return `[^\\s${escapeClass(next)}]*`;
}

/** The values of one line, by code (`>h` by header name: `{host}>h`). */
type LineValues = Map<string, string>;

function valuesOf(compiled: CompiledLogformat, match: RegExpExecArray): LineValues {
  const values: LineValues = new Map();
  for (const [index, code] of compiled.codes.entries()) {
    let value = match[index + 1] ?? '';
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    const key =
      code.arg !== null && (code.code === '>h' || code.code === '<h')
        ? `{${code.arg.toLowerCase()}}${code.code}`
        : code.code;
    if (!values.has(key)) values.set(key, value);
  }
  return values;
}

/** A value that says something: not absent, empty or Squid's `-`. */
function present(value: string | undefined): value is string {
  return value !== undefined && value !== '' && value !== '-';
}

/** Reads lines written by a custom logformat into flows, with the built-in formats' field logic. */
export class SquidLogformatParser implements LineParser {
  constructor(
    private readonly ctx: IngestContext,
    private readonly compiled: CompiledLogformat,
    private readonly fields: SquidLineParser,
  ) {}

  line(text: string, lineNumber: number, out: FlowRecord[]): void {
    if (text.charCodeAt(0) === 0x23 /* # */) return;
    const ctx = this.ctx;
    const match = this.compiled.regex.exec(text);
    if (match === null) {
      ctx.problem(
        lineNumber,
        `line does not follow --squid-logformat ${JSON.stringify(this.compiled.definition)}`,
      );
      return;
    }
    const values = valuesOf(this.compiled, match);
    const flow = emptyFlow({ kind: 'squid', file: ctx.file, line: lineNumber });
    if (!this.#target(flow, values, lineNumber)) return;
    if (!this.#times(flow, values, lineNumber)) return;
    const client = values.get('>a') ?? values.get('>A');
    if (present(client)) flow.client = client;
    const sni = values.get('ssl::>sni');
    if (present(sni)) flow.sni = lowerAscii(sni);
    const hostHeader = values.get('{host}>h');
    if (present(hostHeader)) flow.httpHost = lowerAscii(splitHostPort(hostHeader)?.host ?? hostHeader);
    for (const [code, key] of [
      ['<st', 'bytesDown'],
      ['>st', 'bytesUp'],
    ] as const) {
      const value = values.get(code);
      if (!present(value)) continue;
      const count = parseUint(value);
      if (Number.isNaN(count)) {
        badField(ctx, lineNumber, `%${code}`, value, 'a byte count or -');
        return;
      }
      flow[key] = count;
    }
    const local = values.get('<la');
    if (present(local)) flow.sourceAddress = normalizeAddress(local) ?? null;
    const hierarchy = values.get('Sh');
    const peer = values.get('<a') ?? values.get('<A');
    if (present(hierarchy)) this.fields.hierarchy(flow, `${hierarchy}/${peer ?? '-'}`, lineNumber);
    else if (present(peer)) flow.destination = normalizeAddress(peer) ?? null;
    if (flow.host === null && flow.sni === null && flow.httpHost === null && flow.destination === null) {
      ctx.problem(lineNumber, 'names no destination (no URL, domain, SNI, Host or server address)');
      return;
    }
    out.push(flow);
  }

  /** Host, port and protocol from the method and URL, else the request domain, port and scheme. */
  #target(flow: FlowRecord, values: LineValues, lineNumber: number): boolean {
    const url = values.get('>ru') ?? values.get('ru');
    const method = values.get('>rm') ?? values.get('rm');
    if (present(url)) {
      if (url.startsWith('error:')) return false; // no request was made (as in the native format)
      return this.fields.target(flow, present(method) ? method : 'GET', url, lineNumber);
    }
    const domain = values.get('>rd') ?? values.get('rd');
    if (!present(domain)) return true; // the SNI, Host or server address may still name it
    flow.host = lowerAscii(domain);
    const scheme = values.get('>rs') ?? values.get('rs');
    const portText = values.get('>rP') ?? values.get('rP');
    if (present(portText)) {
      const port = parseUint(portText);
      if (!(port <= 65535)) {
        badField(this.ctx, lineNumber, '%>rP', portText, 'a port');
        return false;
      }
      flow.port = port;
    }
    if (present(scheme)) flow.protocol = lowerAscii(scheme);
    flow.port ??= flow.protocol === 'http' ? 80 : 443;
    flow.protocol ??= flow.port === 443 ? 'https' : 'tcp';
    return true;
  }

  /** Squid logs a transaction when it ends: the end time, less `%tr`, is its start. */
  #times(flow: FlowRecord, values: LineValues, lineNumber: number): boolean {
    const ctx = this.ctx;
    let elapsed = 0;
    const tr = values.get('tr');
    if (present(tr)) {
      elapsed = parseUint(tr);
      if (Number.isNaN(elapsed)) {
        badField(ctx, lineNumber, '%tr', tr, 'milliseconds');
        return false;
      }
    }
    let end = Number.NaN;
    const ts = values.get('ts');
    const tS = values.get('tS');
    const clock = values.get('tl') ?? values.get('tg');
    if (present(ts)) {
      end = parseEpochSeconds(ts);
      const tu = values.get('tu');
      if (present(tu) && !Number.isNaN(end)) end += parseUint(tu);
      if (Number.isNaN(end)) {
        badField(ctx, lineNumber, '%ts', ts, 'epoch seconds');
        return false;
      }
    } else if (present(tS)) {
      const start = parseEpochSeconds(tS);
      if (Number.isNaN(start)) {
        badField(ctx, lineNumber, '%tS', tS, 'epoch seconds');
        return false;
      }
      flow.start = start;
      if (present(tr)) flow.end = start + elapsed;
      return true;
    } else if (present(clock) && this.compiled.clock !== null) {
      end = this.compiled.clock(clock);
      if (Number.isNaN(end)) {
        badField(ctx, lineNumber, '%tl', clock, 'a time in the logformat');
        return false;
      }
    } else {
      return true; // the format logs no time
    }
    // Without %tr the transaction's length is unknown: the time stands for its start, as in the
    // built-in common format.
    flow.start = end - elapsed;
    flow.end = present(tr) ? end : null;
    return true;
  }
}

/**
 * A parser for the times `%{format}tl` / `%tg` write: the default `%d/%b/%Y:%H:%M:%S %z` (common
 * log format, milliseconds allowed), or a strftime format of `%Y %m %d %e %b %H %M %S %z` and
 * literal text. Without `%z` the time is taken as UTC.
 */
function strftimeParser(format: string | null): (text: string) => number {
  if (format === null) return parseClfTime;
  const parts: string[] = [];
  let pattern = '^';
  for (let i = 0; i < format.length; i++) {
    const char = format[i] as string;
    if (char !== '%' || i + 1 >= format.length) {
      pattern += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      continue;
    }
    const directive = format[++i] as string;
    const piece: Record<string, string> = {
      Y: '(\\d{4})',
      m: '(\\d{1,2})',
      d: '(\\d{1,2})',
      e: ' ?(\\d{1,2})',
      b: '([A-Za-z]{3})',
      H: '(\\d{1,2})',
      M: '(\\d{2})',
      S: '(\\d{2})(?:\\.\\d+)?',
      z: '([+-]\\d{4})',
    };
    if (piece[directive] === undefined) usage(`time format %${directive} in %{${format}}tl is not supported`);
    parts.push(directive);
    pattern += piece[directive];
  }
  const regex = new RegExp(`${pattern}$`);
  return (text) => {
    const match = regex.exec(text);
    if (!match) return Number.NaN;
    const get = (directive: string) => {
      const index = parts.indexOf(directive);
      return index < 0 ? undefined : match[index + 1];
    };
    const month = parts.includes('b') ? monthIndex[get('b') ?? ''] : Number(get('m')) - 1;
    const day = Number(get('d') ?? get('e'));
    if (month === undefined || !(month >= 0 && month <= 11) || !(day >= 1 && day <= 31)) return Number.NaN;
    const hour = Number(get('H') ?? 0);
    const minute = Number(get('M') ?? 0);
    const second = Number(get('S') ?? 0);
    if (hour > 23 || minute > 59 || second > 60) return Number.NaN;
    let time = Date.UTC(Number(get('Y')), month, day, hour, minute, second);
    const zone = get('z');
    if (zone !== undefined) {
      const sign = zone[0] === '-' ? -1 : 1;
      time -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
    }
    return time;
  };
}
