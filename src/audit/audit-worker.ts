// The worker thread of `audit --jobs N` (jobs.ts): reads the work items it is sent (a whole input,
// or a byte range of one) with readItem() and sends back each item's counts as plain data.
// Compiles the policy once, from the catalog the main thread already validated.
import { parentPort, workerData } from 'node:worker_threads';
import type { Catalog } from '../catalog/model.js';
import { Policy } from '../policy/policy.js';
import { type JobInit, type JobItem, readItem } from './jobs.js';

const init = workerData as JobInit;
const policy = Policy.compile(init.catalog as Catalog);

parentPort?.on('message', async (item: JobItem | null) => {
  if (item === null) {
    parentPort?.close();
    return;
  }
  // A worker that dies without an 'error' event (tests: AuditOptions.workerExit).
  if (init.exit) process.exit(3);
  try {
    parentPort?.postMessage(await readItem(item, policy, init));
  } catch (error) {
    parentPort?.postMessage({
      item: item.index,
      error: error instanceof Error ? error.message : String(error),
    });
  }
});
