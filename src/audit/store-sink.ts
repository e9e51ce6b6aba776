// `audit --store`: every classified flow goes into a flow store (DuckDB file or ClickHouse), stamped
// with the audit's id in the `gateway` column (`audit:<id>`), so audits run where the logs are and
// their flows are read centrally. Records dropped by the store are counted and reported at close.
import { PathwardenError } from '../errors.js';
import type { FlowRecord } from '../flow/record.js';
import type { FlowStoreObserver, StoreLog } from '../store/buffer.js';
import { FlowLoader } from '../store/load.js';
import { type FlowStore, type FlowStoreConfig, openFlowStore } from '../store/store.js';
import type { FlowSink } from './flow-sink.js';

export interface StoreSink extends FlowSink {
  /** The value of the `gateway` column of this audit's flows. */
  readonly writer: string;
}

export async function openStoreSink(
  config: FlowStoreConfig,
  auditId: string,
  log?: StoreLog,
): Promise<StoreSink> {
  if (!/^[A-Za-z0-9._:-]{1,120}$/.test(auditId)) {
    throw new PathwardenError(
      'PW_ERR_USAGE',
      `--audit-id must be 1-120 letters, digits, . _ : -; got ${JSON.stringify(auditId)}`,
    );
  }
  let dropped = 0;
  const observer: FlowStoreObserver = {
    storeWriteFailed: () => undefined,
    storeFlowsDropped: (count) => {
      dropped += count;
    },
    storeFlowsBuffered: () => undefined,
  };
  const writer = `audit:${auditId}`;
  const store: FlowStore = await openFlowStore(config, { gateway: writer, observer, log });
  // Paced bulk appends: the audit keeps classifying while the store writes, and waits only while the
  // store is behind (memory stays flat on big inputs).
  const loader = new FlowLoader(store);
  return {
    writer,
    write(flow: FlowRecord) {
      return loader.append(flow);
    },
    async close() {
      await store.close();
      if (dropped > 0) {
        throw new PathwardenError(
          'PW_ERR_STORE_IO',
          `the flow store dropped ${dropped} of ${loader.appended} audit flows (see the log above)`,
        );
      }
    },
  };
}
