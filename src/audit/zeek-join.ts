// Joins Zeek ssl.log / http.log records to conn.log records by uid, so that a connection is one
// flow with its server name instead of two or three flows that count its bytes apart.
//
// Memory: the audit reads ssl/http logs before conn logs and keeps one small entry per uid (the
// names only, interned, so a million connections to a hundred hosts store a hundred strings). A conn
// record takes its entry out of the map, so the map holds only names still waiting for their conn.
// After the conn logs, the ssl/http files are read a second time and the records whose uid never
// met a conn are emitted as flows of their own. The map is capped (`limit` uids); past the cap,
// ssl/http records are emitted as flows straight away and their conn records stay unnamed.
import type { FlowRecord } from '../flow/record.js';
import { detach } from '../util/detach.js';

interface Names {
  sni: string | null;
  httpHost: string | null;
}

export class ZeekNameJoin {
  readonly limit: number;
  readonly #byUid = new Map<string, Names>();
  readonly #interned = new Map<string, string>();
  #joined = 0;
  #overflow = 0;

  constructor(limit = 2_000_000) {
    this.limit = limit;
  }

  /** True when `flow` is an ssl/http record whose names were stored to be joined later. */
  remember(flow: FlowRecord): boolean {
    const uid = flow.connectionId;
    if (uid === null) return false;
    const sni = flow.origin.kind === 'zeek-ssl' ? (flow.sni ?? flow.host) : null;
    const httpHost = flow.origin.kind === 'zeek-http' ? (flow.httpHost ?? flow.host) : null;
    let names = this.#byUid.get(uid);
    if (names === undefined) {
      if (this.#byUid.size >= this.limit) {
        this.#overflow++;
        return false;
      }
      names = { sni: null, httpHost: null };
      this.#byUid.set(detach(uid), names);
    }
    // First name wins: the first request of a keep-alive connection names it.
    if (sni !== null && names.sni === null) names.sni = this.#intern(sni);
    if (httpHost !== null && names.httpHost === null) names.httpHost = this.#intern(httpHost);
    return true;
  }

  /** Gives a conn record the names of its uid (when it has none of its own) and consumes them. */
  apply(flow: FlowRecord): void {
    const uid = flow.connectionId;
    // Most audits have conn logs without ssl/http logs: skip hashing every uid for nothing.
    if (uid === null || this.#byUid.size === 0) return;
    const names = this.#byUid.get(uid);
    if (names === undefined) return;
    this.#byUid.delete(uid);
    if (flow.sni === null) flow.sni = names.sni;
    if (flow.httpHost === null) flow.httpHost = names.httpHost;
    this.#joined++;
  }

  /** True when an ssl/http record's uid met no conn record (second pass: emit it as a flow). */
  isUnmatched(flow: FlowRecord): boolean {
    return flow.connectionId !== null && this.#byUid.has(flow.connectionId);
  }

  /** Conn records that got names from ssl/http records. */
  get joined(): number {
    return this.#joined;
  }

  /** uids of ssl/http records still waiting for a conn record. */
  get waiting(): number {
    return this.#byUid.size;
  }

  /** ssl/http records not stored because the map was full (emitted as flows instead). */
  get overflow(): number {
    return this.#overflow;
  }

  #intern(name: string): string {
    const known = this.#interned.get(name);
    if (known !== undefined) return known;
    const copy = detach(name);
    this.#interned.set(copy, copy);
    return copy;
  }
}
