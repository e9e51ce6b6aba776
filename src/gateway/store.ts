// Opens the flow store the gateway config names: DuckDB (default) or JSON lines. Both keep the same
// records and answer the same queries (src/gateway/store.test.ts runs one contract against both).
import type { GatewayConfig } from './config.js';
import type { FlowStore } from './contracts.js';
import type { FlowStoreOptions } from './store-buffer.js';
import { openDuckDbFlowStore } from './store-duckdb.js';
import { openJsonlFlowStore } from './store-jsonl.js';

export type { FlowStoreObserver, FlowStoreOptions, StoreLog } from './store-buffer.js';

/**
 * Opens (creating when needed) the store at `config.path`; records already there are kept and new
 * ones appended after them. Throws PW_ERR_STORE_OPEN when the file cannot be used.
 */
export function openFlowStore(
  config: GatewayConfig['store'],
  options: FlowStoreOptions = {},
): Promise<FlowStore> {
  switch (config.kind) {
    case 'duckdb':
      return openDuckDbFlowStore(config.path, config.flushIntervalMs, options);
    case 'jsonl':
      return openJsonlFlowStore(config.path, config.flushIntervalMs, options);
  }
}
