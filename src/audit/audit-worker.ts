// The worker thread of `audit --jobs N` (jobs.ts): reads the work items it is sent (a whole input,
// or a byte range of one) with readAll() on a fresh state each, and sends back each item's counts
// as plain data. Compiles the policy once, from the catalog the main thread already validated.
import { parentPort, workerData } from 'node:worker_threads';
import type { Catalog } from '../catalog/model.js';
import { Policy } from '../policy/policy.js';
import type { JobInit, JobItem, PartResult } from './jobs.js';
import { readAll } from './run-audit.js';

const init = workerData as JobInit;
const policy = Policy.compile(init.catalog as Catalog);

parentPort?.on('message', async (item: JobItem | null) => {
  if (item === null) {
    parentPort?.close();
    return;
  }
  try {
    const state = await readAll({
      inputs: [item.path],
      rename: () => item.name,
      policy,
      topology: init.topology,
      component: init.component,
      format: item.format,
      formatOptions: init.formatOptions,
      limits: init.limits,
      fastCount: init.fastCount,
      part: item.part,
    });
    const entry = state.planned[0];
    const result: PartResult = {
      item: item.index,
      aggregate: state.aggregate.snapshot(),
      problems: state.problems.listed.map((problem) => ({
        ...problem,
        once: state.onceKeys.get(problem) ?? null,
      })),
      problemTotal: state.problems.total,
      failures: state.problems.inputs,
      report: entry === undefined ? null : entry.report,
      dnsAnswers: state.dns.answers,
      seen: state.seen ?? null,
      lines: state.lines,
    };
    parentPort?.postMessage(result);
  } catch (error) {
    parentPort?.postMessage({
      item: item.index,
      error: error instanceof Error ? error.message : String(error),
    });
  }
});
