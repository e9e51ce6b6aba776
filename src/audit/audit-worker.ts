// The worker thread of `audit --jobs N` (jobs.ts): reads the work items it is sent (a whole input,
// or a byte range of one) with readItem() and sends back each item's counts as plain data.
// Compiles the policy once, from the catalog the main thread already validated (its first message).
import { parentPort } from 'node:worker_threads';
import type { Catalog } from '../catalog/model.js';
import { Policy } from '../policy/policy.js';
import { sharedProgress } from './job-progress.js';
import { mark } from './job-trace.js';
import { type JobInit, type JobItem, readItem } from './jobs.js';
import { useScanModule } from './wasm-scan.js';

mark('worker modules loaded');
let init: JobInit | undefined;
let policy: Policy | undefined;

// The first message is the audit's JobInit (the worker may have been started before the main
// thread had read the catalog: JobWorkers); each later one an item, or null to stop.
parentPort?.on('message', async (message: JobInit | JobItem | null) => {
  if (init === undefined) {
    init = message as JobInit;
    // The WebAssembly scanner as the main thread compiled it (or null: JavaScript only).
    useScanModule(init.scanModule ?? null);
    // The test hook below exits before any hot code has run: Node 20 can abort the whole process
    // when a worker's isolate goes away while V8 still optimises its code on a background thread
    // (seen once in CI: `NodePlatform::ForIsolate` assertion after Policy.compile).
    if (!init.exit && !init.fail) policy = Policy.compile(init.catalog as Catalog);
    mark('worker policy compiled');
    // Ready for an item (jobs.ts, splitLate: the main thread cuts a range for it now).
    parentPort?.postMessage({ ready: true });
    return;
  }
  const item = message as JobItem | null;
  if (item === null) {
    parentPort?.close();
    return;
  }
  // A worker that dies without an 'error' event (tests: AuditOptions.workerExit).
  if (init.exit) process.exit(3);
  // A worker whose read fails (tests: AuditOptions.workerFail); the audit then runs on one thread.
  if (init.fail) {
    parentPort?.postMessage({ item: item.index, error: 'test: AuditOptions.workerFail' });
    return;
  }
  try {
    const progress = item.progress ? sharedProgress(item.progress) : undefined;
    parentPort?.postMessage(await readItem(item, policy as Policy, init, undefined, progress));
  } catch (error) {
    parentPort?.postMessage({
      item: item.index,
      error: error instanceof Error ? error.message : String(error),
    });
  }
});
