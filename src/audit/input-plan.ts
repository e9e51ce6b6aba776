// Planning an audit: open every input once, detect its format from its first bytes, and decide in
// which pass it is read. DNS-bearing inputs go first (their answers name the addresses of later
// flows); Zeek ssl/http logs go before conn logs so that conn records can be given their names.
import { createReadStream, type ReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import type { FormatName, IngestFormat } from '../ingest/format.js';
import { type InputEncoding, type OpenedInput, openInput } from '../ingest/open-input.js';
import { detectFormat, getFormat } from '../ingest/registry.js';
import { describeFsError, type InputFile } from './inputs.js';

/** How the audit uses an input. */
export type InputRole =
  /** DNS logs (dnsmasq, BIND, Zeek dns.log): read first, their answers name later flows. */
  | 'dns'
  /** Zeek ssl.log / http.log while the audit has conn logs: their names are joined to conn by uid. */
  | 'zeek-names'
  /** Zeek conn.log: gets sni / httpHost from the ssl / http records of the same uid. */
  | 'zeek-conn'
  /** Everything else. */
  | 'flows';

/** Where formats come from: the registry in production, fakes in tests. */
export interface FormatSource {
  detect(head: Buffer, fileName: string): IngestFormat | undefined;
  get(name: FormatName): IngestFormat | undefined;
}

export const registryFormats: FormatSource = { detect: detectFormat, get: getFormat };

export interface PlannedInput extends InputFile {
  /** Null for an empty input (nothing to detect, nothing to read). */
  format: IngestFormat | null;
  /** Zeek log type from `#path` or the record's fields (`conn`, `ssl`, `http`, `dns`, ...). */
  zeekLog: string | null;
  role: InputRole;
  compressed: boolean;
  /** How the text was encoded (UTF-16 inputs are decoded by openInput's stream). */
  encoding?: InputEncoding;
  /** Stdin stays open from planning to reading, because it cannot be opened twice. */
  pending?: OpenedFile;
}

export interface OpenedFile {
  opened: OpenedInput;
  /** The file stream under any gunzip; its `bytesRead` drives the progress bar. Null for stdin. */
  raw: ReadStream | null;
}

/** Read size for input files, as openInput uses: 1 MiB reads keep stream overhead off the hot path. */
const READ_CHUNK = 1 << 20;

/** Opens a file (or stdin) through openInput, keeping hold of the raw stream for progress. */
export async function openFile(path: string, stdin: Readable | undefined): Promise<OpenedFile> {
  if (path === '-') return { opened: await openInput('-', stdin), raw: null };
  // openInput reads from the stream it is given when the name is `-`; handing it our own file
  // stream lets us read `bytesRead` (compressed bytes, matching the size on disk) and pick the
  // read size, while openInput still does the gzip sniffing and head peek.
  const raw = createReadStream(path, { highWaterMark: READ_CHUNK });
  try {
    return { opened: await openInput('-', raw), raw };
  } catch (error) {
    raw.destroy();
    throw error;
  }
}

/**
 * Whether an input can be read straight from its file (FileChunks), without a stream: a regular
 * file, not compressed, UTF-8, whose format only iterates its input.
 */
export function readsDirectly(input: PlannedInput): boolean {
  return (
    input.path !== '-' &&
    !input.compressed &&
    input.encoding === 'utf-8' &&
    input.format?.iteratesInput === true
  );
}

export function closeFile(file: OpenedFile): void {
  file.opened.stream.destroy();
  file.raw?.destroy();
}

export type PlanOutcome = { input: PlannedInput } | { error: string; skip: boolean };

/**
 * Opens one input, detects its format and role. A file whose format cannot be detected is an
 * error when the user named it, and is skipped (and listed) when it was found in a directory.
 */
export async function planInput(
  file: InputFile,
  forced: IngestFormat | undefined,
  formats: FormatSource,
  stdin: Readable | undefined,
): Promise<PlanOutcome> {
  let handle: OpenedFile;
  try {
    handle = await openFile(file.path, stdin);
  } catch (cause) {
    return { error: describeFsError(cause), skip: false };
  }
  const { head, compressed } = handle.opened;
  let format: IngestFormat | null = null;
  if (head.length > 0) {
    // The name only breaks ties between formats: its last component, without .gz, is what counts.
    format = forced ?? formats.detect(head, basename(file.name).replace(/\.gz$/i, '')) ?? null;
    if (!format) {
      closeFile(handle);
      return {
        error: 'format not recognised from its content (give --format to name it)',
        skip: file.discovered,
      };
    }
  }
  const zeekLog = format?.name === 'zeek' ? zeekLogType(head) : null;
  const input: PlannedInput = {
    ...file,
    format,
    zeekLog,
    role: roleOf(format?.name, zeekLog),
    compressed,
    encoding: handle.opened.encoding,
  };
  if (file.path === '-') input.pending = handle;
  else closeFile(handle);
  return { input };
}

function roleOf(format: FormatName | undefined, zeekLog: string | null): InputRole {
  if (format === 'dns') return 'dns';
  if (format !== 'zeek') return 'flows';
  if (zeekLog === 'dns') return 'dns';
  if (zeekLog === 'ssl' || zeekLog === 'http') return 'zeek-names';
  if (zeekLog === 'conn') return 'zeek-conn';
  return 'flows';
}

/**
 * The Zeek log type of an input: the `#path` header of TSV logs, the `_path` field of JSON logs,
 * else guessed from the field names each log type is known by (Zeek's JSON writer omits `_path`
 * unless configured to add it).
 */
export function zeekLogType(head: Buffer): string | null {
  const text = head.toString('utf8', 0, Math.min(head.length, 16384));
  const pathHeader = /^#path\t([^\t\r\n]+)/m.exec(text);
  if (pathHeader) return pathHeader[1] as string;
  let fields: string[] = [];
  const fieldsHeader = /^#fields\t(.*)$/m.exec(text);
  if (fieldsHeader) {
    fields = (fieldsHeader[1] as string).split('\t');
  } else {
    const firstLine = text.split('\n').find((line) => line.trim().startsWith('{'));
    if (firstLine) {
      try {
        const record = JSON.parse(firstLine) as Record<string, unknown>;
        if (typeof record._path === 'string') return record._path;
        fields = Object.keys(record);
      } catch {
        return null;
      }
    }
  }
  const has = (name: string) => fields.includes(name);
  if (has('query') && (has('qtype') || has('answers') || has('rcode'))) return 'dns';
  if (has('server_name') || (has('cipher') && has('version'))) return 'ssl';
  if (has('method') && (has('uri') || has('status_code'))) return 'http';
  if (has('conn_state') || has('orig_bytes') || has('history')) return 'conn';
  return null;
}
