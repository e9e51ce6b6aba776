// Runs one format over one whole input and collects its flows, problems and DNS answers in memory:
// for tests and small programmatic uses (the audit streams instead).
import { Readable } from 'node:stream';
import type { FlowRecord } from '../flow/record.js';
import { flowBatches } from './batches.js';
import { DnsAnswers } from './dns-answers.js';
import type { FormatOptions, IngestContext, IngestFormat } from './format.js';
import { openInput } from './open-input.js';

export interface CollectedProblem {
  line: number;
  message: string;
  field?: string;
}

export interface Collected {
  flows: FlowRecord[];
  problems: CollectedProblem[];
  dns: DnsAnswers;
}

export interface CollectOptions {
  /** Name the flows' origin carries (default `input`, or the path for collectFile). */
  file?: string;
  /** Read through `parse` (one flow at a time) instead of `parseBatches`. */
  oneByOne?: boolean;
  dns?: DnsAnswers;
  /** Settings for the format (`--vpc-fields`, `--squid-logformat`). */
  formatOptions?: FormatOptions;
}

/** Parses `input` (a stream, or the whole content as a Buffer / string) with `format`. */
export async function collectFlows(
  format: IngestFormat,
  input: Readable | Buffer | string,
  options: CollectOptions = {},
): Promise<Collected> {
  const problems: CollectedProblem[] = [];
  const dns = options.dns ?? new DnsAnswers();
  const ctx: IngestContext = {
    file: options.file ?? 'input',
    dns,
    options: options.formatOptions,
    problem(line, message, field) {
      problems.push(field === undefined ? { line, message } : { line, message, field });
    },
  };
  const stream = input instanceof Readable ? input : Readable.from([Buffer.from(input)]);
  const flows: FlowRecord[] = [];
  if (options.oneByOne) {
    for await (const flow of format.parse(stream, ctx)) flows.push(flow);
  } else {
    for await (const batch of flowBatches(format, stream, ctx)) for (const flow of batch) flows.push(flow);
  }
  return { flows, problems, dns };
}

/** Opens a file like the audit does (gunzipped when compressed) and collects what `format` reads. */
export async function collectFile(
  format: IngestFormat,
  path: string,
  options: CollectOptions = {},
): Promise<Collected> {
  const opened = await openInput(path);
  return collectFlows(format, opened.stream, { ...options, file: options.file ?? path });
}
