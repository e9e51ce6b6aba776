// The gateway's flow records: born when a request (or tunnel) arrives, filled as it is routed,
// classified by decide() once its egress is known, and handed to every sink exactly once — the
// FlowStore, the metrics, the JSON log and the `pathwarden:gateway:flow` diagnostics channel.
import { channel } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import type { Component } from '../catalog/model.js';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import type { Decision } from '../policy/policy.js';
import type { ActualPath } from '../policy/verdict.js';
import type { FlowStore } from '../store/store.js';
import type { GatewayMetricsSink } from './contracts.js';
import { type GatewayErrorCode, gatewayErrorCodes } from './errors.js';

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
  return { record, redecide: null, forwarded: false, actualPathEvidence: null, finished: false };
}

export function applyDecision(flow: GatewayFlow, decision: Decision, redecide: Redecide): void {
  flow.redecide = redecide;
  const record = flow.record;
  record.expectedPath = decision.path;
  record.verdict = decision.verdict;
  record.ruleId = decision.rule?.id ?? null;
  record.reason = decision.reason;
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
      if (flow.redecide) {
        const decision = flow.redecide(record.egressPath);
        record.verdict = decision.verdict;
        record.reason = decision.reason;
      }
    }
    try {
      this.#store.append(record);
      this.#metrics.flowFinished(record);
      if (this.#logger?.isLevelEnabled('info')) this.#logger.info(record, 'flow');
      if (flowChannel.hasSubscribers) flowChannel.publish(record);
    } catch (cause) {
      // A sink must never take the proxy down; the store counts its own write failures.
      this.#logger?.error({ err: cause }, 'flow sink failed');
    }
  }
}
