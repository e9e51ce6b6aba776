// The gateway's flow records: born when a request (or tunnel) arrives, filled as it is routed,
// classified by decide() once its egress is known, and handed to every sink exactly once — the
// FlowStore, the metrics, the JSON log and the `pathwarden:gateway:flow` diagnostics channel.
import { channel } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import type { Component } from '../catalog/model.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { RecordJson } from '../flow/record-json.js';
import type { Decision } from '../policy/policy.js';
import type { ActualPath } from '../policy/verdict.js';
import type { FlowStore } from '../store/store.js';
import type { GatewayMetricsSink } from './contracts.js';
import { type GatewayErrorCode, gatewayErrorCodes } from './errors.js';
import { logFlow } from './logger.js';

/** Subscribers get every finished gateway FlowRecord (tracing without touching the proxy code). */
export const flowChannel = channel('pathwarden:gateway:flow');

/** Re-runs the decision of a flow with its actual path, for the final verdict and reason. */
export type Redecide = (actualPath: ActualPath) => Decision;

/** A record under construction plus what the gateway needs to finish it. */
export interface GatewayFlow {
  record: FlowRecord;
  redecide: Redecide | null;
  /** True once the outbound connection carried (part of) the request or tunnel. */
  forwarded: boolean;
  actualPathEvidence: string | null;
  finished: boolean;
  /**
   * The final verdict and reason for the record's egress path, worked out ahead by settleDecision
   * (a tunnel, which may stay open for hours); null while `redecide` is still to be run at the end.
   */
  settled: Pick<Decision, 'verdict' | 'reason'> | null;
}

export function startFlow(client: string | null, connectionId: string, component: Component): GatewayFlow {
  const record = emptyFlow({ kind: 'gateway' });
  record.start = Date.now();
  record.client = client;
  record.connectionId = connectionId;
  record.component = component;
  record.egressPath = null;
  record.connectMs = null;
  record.bytesUp = 0;
  record.bytesDown = 0;
  return {
    record,
    redecide: null,
    forwarded: false,
    actualPathEvidence: null,
    finished: false,
    settled: null,
  };
}

/** True once a decision was applied to the flow, whether still to be run (`redecide`) or settled ahead. */
export function isDecided(flow: GatewayFlow): boolean {
  return flow.redecide !== null || flow.settled !== null;
}

export function applyDecision(flow: GatewayFlow, decision: Decision, redecide: Redecide): void {
  flow.redecide = redecide;
  flow.settled = null;
  const record = flow.record;
  record.expectedPath = decision.path;
  record.verdict = decision.verdict;
  record.ruleId = decision.rule?.id ?? null;
  record.reason = decision.reason;
}

/**
 * For a flow about to stay open (a tunnel): runs the final decision for its egress now and drops
 * `redecide`, whose closure holds the lookup's inputs (the target, its host string cut from the
 * request head, the options) for as long as the flow lives. A later applyDecision (a tunnel
 * rerouted by its SNI) brings `redecide` back; finish() gives the same verdict either way.
 */
export function settleDecision(flow: GatewayFlow): void {
  const path = flow.record.egressPath;
  if (flow.redecide === null || !path) return;
  const { verdict, reason } = flow.redecide(path);
  flow.settled = { verdict, reason };
  flow.redecide = null;
}

/**
 * A copy of `text` that shares no memory with the string it was cut from: V8 represents a slice
 * of a string (a regular-expression match, `slice`) as a view that keeps the whole original alive,
 * so a host cut from a request head would hold that head's text (every header line) for as long
 * as a tunnel's record lives. Strings of characters up to U+00FF only (what a latin1-decoded head
 * holds); others are returned as they are.
 */
export function ownCopy(text: string): string {
  return /[\u0100-\uffff]/.test(text) ? text : Buffer.from(text, 'latin1').toString('latin1');
}

/**
 * The record's JSON text for the log and the store, or undefined when JSON cannot hold the record (a
 * value JSON.stringify throws on): the store then takes the record the way it would without a log,
 * and only the log line fails.
 */
function recordJsonOf(record: FlowRecord): RecordJson | undefined {
  try {
    return new RecordJson(record);
  } catch {
    return undefined;
  }
}

export class FlowRecorder {
  readonly #store: FlowStore;
  readonly #metrics: GatewayMetricsSink;
  readonly #logger: Logger | undefined;

  constructor(store: FlowStore, metrics: GatewayMetricsSink, logger?: Logger) {
    this.#store = store;
    this.#metrics = metrics;
    this.#logger = logger;
  }

  /**
   * Completes a flow and sends it to the sinks, once (later calls are ignored). The actual path
   * of a forwarded flow is its egress path; a flow that never left has none, so its verdict stays
   * what decide() says without one.
   */
  finish(flow: GatewayFlow, error: GatewayErrorCode | null): void {
    if (flow.finished) return;
    flow.finished = true;
    const record = flow.record;
    record.end = Date.now();
    record.error = error;
    record.outcome = flow.forwarded
      ? 'forwarded'
      : error === null
        ? 'forwarded'
        : gatewayErrorCodes[error].outcome;
    if (flow.forwarded && record.egressPath) {
      record.actualPath = record.egressPath;
      record.actualPathEvidence = flow.actualPathEvidence;
      const decision = flow.redecide ? flow.redecide(record.egressPath) : flow.settled;
      if (decision) {
        record.verdict = decision.verdict;
        record.reason = decision.reason;
      }
    }
    try {
      // One JSON text of the record for the log line and the store's line (a JSONL store builds
      // its line from it; docs/performance.md, "Gateway per request, session 11").
      const logger = this.#logger?.isLevelEnabled('info') ? this.#logger : undefined;
      const json = logger === undefined ? undefined : recordJsonOf(record);
      this.#store.append(record, json);
      this.#metrics.flowFinished(record);
      if (logger !== undefined) logFlow(logger, record, json);
      if (flowChannel.hasSubscribers) flowChannel.publish(record);
    } catch (cause) {
      // A sink must never take the proxy down; the store counts its own write failures.
      this.#logger?.error({ err: cause }, 'flow sink failed');
    }
  }
}
