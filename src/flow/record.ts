// FlowRecord: the one record type for every flow, whether an ingest parser read it from a log or
// capture or the gateway carried it. Reports, stores, metrics and the dashboard consume only this.
import type { Component, EgressPath } from '../catalog/model.js';
import type { ExpectedPath } from '../policy/policy.js';
import type { ActualPath, Verdict } from '../policy/verdict.js';

/** Input kinds that produce flow records (ingest format names), plus the gateway itself. */
export type FlowOriginKind =
  | 'har'
  | 'squid'
  | 'zeek-conn'
  | 'zeek-ssl'
  | 'zeek-http'
  | 'zeek-dns'
  | 'dnsmasq'
  | 'bind'
  | 'pcap'
  | 'nsg'
  | 'vnet'
  | 'azfw'
  | 'vpc'
  | 'csv'
  | 'ndjson'
  | 'gateway';

export interface FlowOrigin {
  kind: FlowOriginKind;
  /** File the record came from (`-` for stdin); absent for the gateway. */
  file?: string;
  /** 1-based line where the record starts (text formats; also HAR entries and Azure JSON records), or packet number (pcap). */
  line?: number;
}

/** What the gateway did with a connection (absent for logged flows). */
export type FlowOutcome = 'forwarded' | 'blocked' | 'denied' | 'error';

export interface FlowRecord {
  /** Start and end, epoch milliseconds (UTC); null when the input does not say. */
  start: number | null;
  end: number | null;
  origin: FlowOrigin;
  /** Client (source) address as seen by the input, e.g. the browser's address in a proxy log. */
  client: string | null;
  /** Host name the client asked for: CONNECT host, URL host, FQDN of a firewall log, DNS query name. */
  host: string | null;
  /** TLS server name (ClientHello SNI), when seen. */
  sni: string | null;
  /** HTTP Host header, when seen. */
  httpHost: string | null;
  /** Destination address the traffic went to (origin server, or the next-hop proxy). */
  destination: string | null;
  port: number | null;
  /** `tcp`, `udp`, `http`, `https`, `tls`, `dns`, ... as the input names it, lower-case. */
  protocol: string | null;
  component: Component | null;
  /** Bytes from client to server and back; null when unknown. */
  bytesUp: number | null;
  bytesDown: number | null;
  /** Evidence for the actual path, as the input gives it. */
  /** Local source address of the outbound connection (the gateway's localAddress, a flow log's source). */
  sourceAddress: string | null;
  /** Upstream proxy the flow was handed to (Squid hierarchy peer), host or host:port. */
  upstream: string | null;
  /** Connection id linking records of one connection across logs (Zeek uid). */
  connectionId: string | null;
  /** Actual path and the evidence it was inferred from (`FIRSTUP_PARENT/10.9.0.1`, `prefix ...`). */
  actualPath: ActualPath;
  actualPathEvidence: string | null;
  /** Classification added by classifyFlow() (decide()); absent until then. */
  expectedPath?: ExpectedPath;
  verdict?: Verdict;
  ruleId?: string | null;
  reason?: string;
  /** Gateway only: which egress it used, what happened, why. */
  egressPath?: EgressPath | null;
  outcome?: FlowOutcome;
  /** Stable error code when the gateway refused or failed (e.g. PW_GW_CIRCUIT_DOWN). */
  error?: string | null;
  /** Milliseconds to establish the outbound connection. */
  connectMs?: number | null;
}

/** A record with every field present and unknown, for parsers to fill in. */
export function emptyFlow(origin: FlowOrigin): FlowRecord {
  return {
    start: null,
    end: null,
    origin,
    client: null,
    host: null,
    sni: null,
    httpHost: null,
    destination: null,
    port: null,
    protocol: null,
    component: null,
    bytesUp: null,
    bytesDown: null,
    sourceAddress: null,
    upstream: null,
    connectionId: null,
    actualPath: 'unknown',
    actualPathEvidence: null,
  };
}
