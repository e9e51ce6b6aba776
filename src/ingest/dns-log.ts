// DNS query logs: dnsmasq `log-queries` lines and BIND query logs (plain `queries` channel, or
// named messages relayed over syslog, including Infoblox NIOS response lines with answers). Each
// query is a flow record (the client looked the name up); answers link names to addresses for the
// other records of the audit. Other lines of these daemons are skipped without a problem.
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { defineFormat, headLines, type LineParser, lineBatches } from './batches.js';
import {
  isUnspecified,
  lowerAscii,
  monthIndex,
  normalizeAddress,
  parseClock,
  parseIsoTime,
  parseSyslogTime,
  parseUint,
} from './fields.js';
import type { IngestContext } from './format.js';
import { quote } from './problems.js';

const DNSMASQ_QUERY = /dnsmasq(?:\[\d+\])?: (?:\d+ \S+\/\d+ )?query\[[\w=]+\] \S+ from \S+/;
const BIND_QUERY = /\bclient (?:@0x[0-9a-fA-F]+ )?[0-9a-fA-F.:]+#\d+.* query: \S+ \S+ \S+/;

export const dnsFormat = defineFormat({
  name: 'dns',
  description: 'DNS query logs: dnsmasq log-queries, BIND query log (also via syslog, Infoblox responses)',
  sniff(head) {
    const lines = headLines(head, 50);
    if (lines.length === 0) return 0;
    let dnsmasq = 0;
    let bind = 0;
    for (const line of lines) {
      if (DNSMASQ_QUERY.test(line)) dnsmasq++;
      else if (BIND_QUERY.test(line)) bind++;
    }
    const found = Math.max(dnsmasq, bind);
    return found === 0 ? 0 : 0.7 + 0.25 * Math.min(1, (found * 4) / lines.length);
  },
  parseBatches: lineBatches((ctx) => new DnsLineParser(ctx)),
});

// `<PRI>` of a syslog line, and the times a line may start with.
const PRIORITY = /^<\d{1,3}>/;
const RFC5424 = /^\d{1,2} (\d{4}-\d{2}-\d{2}T\S+) /;
const ISO_START = /^(\d{4}-\d{2}-\d{2}T\S+) /;
const RFC3164 = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}:\d{2}:\d{2}) /;
/** BIND's own `print-time` stamp: `07-Apr-2022 08:08:10.043`. */
const BIND_TIME = /(\d{2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) /;

const DNSMASQ_TAG = /\bdnsmasq(?:\[\d+\])?: /;
const DNSMASQ_EXTRA = /^\d+ \S+\/\d+ /;
const DNSMASQ_QUERY_MESSAGE = /^query\[([\w=]+)\] (\S+) from (\S+)$/;
/** `reply`, `cached`, `cached-stale`, `config`, `DHCP`, `auth` or a hosts file path, then `name is value`. */
const DNSMASQ_ANSWER = /^(reply|cached|cached-stale|config|DHCP|auth|\/\S+) (\S+) is (.+)$/;

const BIND_QUERY_MESSAGE =
  /\bclient (?:@0x[0-9a-fA-F]+ )?([0-9a-fA-F.:]+)#(\d+)(?: \([^)]*\))?:?(?: view [^:]+:)?(?: (?:UDP|TCP):)? query: (\S+) (\S+) (\S+)(.*)$/;

interface CnameChain {
  /** The name the client asked for: addresses at the end of the chain are linked to it. */
  head: string;
  /** A name of the chain in a `privatelink.` zone (Private Link evidence), if any. */
  privateLink: string | undefined;
  /** Name of the last answer line. */
  last: string;
  /** The last answer line was a `<CNAME>`: the next one continues the chain. */
  afterCname: boolean;
}

/** A line of a DNS daemon (dnsmasq, named): not every one is a query, but the input is right. */
const DNS_DAEMON =
  /\b(?:dnsmasq(?:-dhcp)?|named)(?:\[\d+\])?: |\bclient (?:@0x[0-9a-fA-F]+ )?[0-9a-fA-F.:]+#\d+/;

class DnsLineParser implements LineParser {
  #chain: CnameChain | null = null;
  #daemonLines = 0;
  #firstLine = 0;

  constructor(private readonly ctx: IngestContext) {}

  /** An input with lines but none from a DNS daemon is most likely the wrong file: say so once. */
  end(): void {
    if (this.#firstLine > 0 && this.#daemonLines === 0) {
      this.ctx.problem(this.#firstLine, 'no dnsmasq or BIND (named) log lines in this input');
    }
  }

  line(line: string, lineNumber: number, out: FlowRecord[]): void {
    if (this.#firstLine === 0) this.#firstLine = lineNumber;
    if (this.#daemonLines === 0 && DNS_DAEMON.test(line)) this.#daemonLines++;
    const dnsmasq = DNSMASQ_TAG.exec(line);
    if (dnsmasq) {
      this.dnsmasq(line, line.slice(dnsmasq.index + dnsmasq[0].length), lineNumber, out);
      return;
    }
    this.#chain = null;
    if (line.includes(' query: ') && line.includes('client ')) this.bind(line, lineNumber, out);
    // Anything else (transfers, notifies, DNSSEC, RPZ, `query failed`, other daemons) is no query.
  }

  dnsmasq(line: string, message: string, lineNumber: number, out: FlowRecord[]): void {
    const extra = DNSMASQ_EXTRA.exec(message);
    const text = extra ? message.slice(extra[0].length) : message;
    const answer = DNSMASQ_ANSWER.exec(text);
    if (answer) {
      this.#answer(lowerAscii(answer[2] as string), answer[3] as string);
      return;
    }
    this.#chain = null;
    const query = DNSMASQ_QUERY_MESSAGE.exec(text);
    if (!query) return; // forwarded, validation, dnssec-query, DHCP, start-up messages, ...
    const client = normalizeAddress(query[3] as string);
    if (client === undefined) {
      this.ctx.problem(lineNumber, `dnsmasq query from ${quote(query[3])}: not an IP address`, 'client');
      return;
    }
    const flow = this.#flow('dnsmasq', lineNumber, line, query[2] as string, client);
    if (flow) out.push(flow);
  }

  /**
   * dnsmasq logs a CNAME chain as consecutive lines, `reply a is <CNAME>`, `reply b is <CNAME>`,
   * `reply c is 1.2.3.4`: the addresses are linked to the first name, the one the client asked for.
   */
  #answer(name: string, value: string): void {
    const chain = this.#chain;
    const continues = chain !== null && (chain.afterCname || chain.last === name);
    const head = continues ? chain.head : name;
    const privateLink = (continues ? chain.privateLink : undefined) ?? privateLinkName(name);
    const isCname = value === '<CNAME>';
    this.#chain = { head, last: name, afterCname: isCname, privateLink };
    if (isCname) return;
    const address = normalizeAddress(value);
    if (address !== undefined && !isUnspecified(address)) this.ctx.dns.add(head, address, privateLink);
  }

  bind(line: string, lineNumber: number, out: FlowRecord[]): void {
    const match = BIND_QUERY_MESSAGE.exec(line);
    if (!match) {
      this.ctx.problem(lineNumber, 'a "query:" line that is not a BIND query-log line');
      return;
    }
    const [, clientText, , name, queryClass, , rest] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (queryClass !== 'IN') return; // CHAOS (version.bind, ...): a probe of the server, not a lookup
    const client = normalizeAddress(clientText);
    if (client === undefined) {
      this.ctx.problem(lineNumber, `BIND query from ${quote(clientText)}: not an IP address`, 'client');
      return;
    }
    const flow = this.#flow('bind', lineNumber, line, name, client);
    if (!flow) return;
    out.push(flow);
    const response = rest.indexOf(' response: ');
    if (response >= 0 && flow.host !== null) this.#bindAnswers(flow.host, rest.slice(response + 11));
  }

  /** Infoblox `response: NOERROR +ED name ttl IN A 1.2.3.4; name ttl IN CNAME x; ...` */
  #bindAnswers(query: string, response: string): void {
    let privateLink: string | undefined;
    for (const record of response.split(';')) {
      const fields = record.trim().split(/\s+/);
      // The first record follows the rcode and flags: take the last five fields.
      if (fields.length < 5) continue;
      const [type, data] = fields.slice(-2) as [string, string];
      if (type === 'CNAME') privateLink ??= privateLinkName(lowerAscii(data));
      if (type !== 'A' && type !== 'AAAA') continue;
      privateLink ??= privateLinkName(lowerAscii(fields.at(-5) ?? ''));
      const address = normalizeAddress(data);
      if (address !== undefined && !isUnspecified(address)) this.ctx.dns.add(query, address, privateLink);
    }
  }

  #flow(
    kind: 'dnsmasq' | 'bind',
    lineNumber: number,
    line: string,
    name: string,
    client: string,
  ): FlowRecord | null {
    const host = lowerAscii(name.endsWith('.') && name.length > 1 ? name.slice(0, -1) : name);
    const flow = emptyFlow({ kind, file: this.ctx.file, line: lineNumber });
    flow.start = lineTime(line);
    flow.client = client;
    flow.host = host;
    flow.protocol = 'dns';
    return flow;
  }
}

/** The name itself when it lies in a `privatelink.` zone (Azure Private Link DNS), else undefined. */
function privateLinkName(name: string): string | undefined {
  return name.startsWith('privatelink.') || name.includes('.privatelink.')
    ? name.replace(/\.$/, '')
    : undefined;
}

/**
 * The time of a log line: BIND's own stamp when present (it has the year), else a leading ISO 8601
 * / RFC 5424 time, else a syslog `Mmm dd hh:mm:ss` (year inferred, see parseSyslogTime), else null.
 * Times without a zone are taken as UTC.
 */
export function lineTime(line: string, now = Date.now()): number | null {
  const bind = BIND_TIME.exec(line);
  if (bind) {
    const [, day, month, year, clock] = bind as unknown as [string, string, string, string, string];
    const monthNumber = monthIndex[month];
    const ms = parseClock(clock);
    if (monthNumber !== undefined && !Number.isNaN(ms))
      return Date.UTC(parseUint(year), monthNumber, parseUint(day)) + ms;
  }
  const text = line.replace(PRIORITY, '');
  const iso = RFC5424.exec(text) ?? ISO_START.exec(text);
  if (iso) {
    const time = parseIsoTime(iso[1] as string);
    if (!Number.isNaN(time)) return time;
  }
  const syslog = RFC3164.exec(text);
  if (syslog) {
    const time = parseSyslogTime(syslog[1] as string, syslog[2] as string, syslog[3] as string, now);
    if (!Number.isNaN(time)) return time;
  }
  return null;
}
