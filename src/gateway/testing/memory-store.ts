// Test doubles for the gateway's sinks: a FlowStore that keeps records in memory and a metrics
// sink that counts calls. The real stores and metrics have their own tests.
import type { EgressPath } from '../../catalog/model.js';
import type { FlowRecord } from '../../flow/record.js';
import type { FlowPage, FlowStats, FlowStore } from '../../store/store.js';
import type { ConnectionRefusal, GatewayMetricsSink } from '../contracts.js';

export class MemoryFlowStore implements FlowStore {
  readonly kind = 'memory';
  readonly flows: FlowRecord[] = [];
  closed = false;
  #waiters: { count: number; resolve: () => void }[] = [];

  append(flow: FlowRecord): void {
    this.flows.push(structuredClone(flow));
    this.#waiters = this.#waiters.filter((waiter) => {
      if (this.flows.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves once `count` records are in (rejects after `ms`). */
  waitFor(count: number, ms = 10_000): Promise<FlowRecord[]> {
    if (this.flows.length >= count) return Promise.resolve(this.flows);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} flow records, have ${this.flows.length}`)),
        ms,
      );
      this.#waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.flows);
        },
      });
    });
  }

  async flush(): Promise<void> {}

  async query(): Promise<FlowPage> {
    return { total: this.flows.length, offset: 0, limit: this.flows.length, flows: [], next: null };
  }

  async stats(): Promise<FlowStats> {
    throw new Error('not used by the proxy tests');
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export class RecordingMetrics implements GatewayMetricsSink {
  decisions = 0;
  tunnelsOpened = 0;
  tunnelsClosed = 0;
  flows = 0;
  readonly health: { path: EgressPath; up: boolean }[] = [];
  readonly refused: Record<ConnectionRefusal, number> = { limit: 0, silent: 0 };

  decisionObserved(): void {
    this.decisions++;
  }
  tunnelOpened(): void {
    this.tunnelsOpened++;
  }
  tunnelClosed(): void {
    this.tunnelsClosed++;
  }
  flowFinished(): void {
    this.flows++;
  }
  pathHealth(path: EgressPath, up: boolean): void {
    this.health.push({ path, up });
  }
  connectionRefused(reason: ConnectionRefusal): void {
    this.refused[reason]++;
  }
}
