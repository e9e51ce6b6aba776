// All ingest formats, and content-based detection of which one an input is.
import type { FormatName, IngestFormat } from './format.js';

/** Every format pathwarden reads, in detection order. */
export const formats: readonly IngestFormat[] = [];

export function getFormat(name: FormatName): IngestFormat | undefined {
  return formats.find((format) => format.name === name);
}

/**
 * The format of an input from its first bytes (decompressed); the file name breaks ties only.
 * Returns undefined when no format is confident (score below 0.5).
 */
export function detectFormat(head: Buffer, fileName?: string): IngestFormat | undefined {
  let best: IngestFormat | undefined;
  let bestScore = 0.5;
  for (const format of formats) {
    let score = format.sniff(head);
    if (score > 0 && fileName?.toLowerCase().includes(format.name)) score += 0.01;
    if (score > bestScore || (score === bestScore && best === undefined)) {
      best = format;
      bestScore = score;
    }
  }
  return best;
}
