// Turns the command line's inputs (files, directories, `-`) into the ordered list of files an
// audit reads. Directories are walked recursively in byte order of their names, so two runs over
// the same tree read (and number) the same files in the same order.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface InputFile {
  /** Path to open, or `-` for stdin. */
  path: string;
  /** Name shown in reports and evidence (`file:line`). */
  name: string;
  /** Size on disk in bytes (compressed size for .gz); null for stdin. */
  size: number | null;
  /** True when the file was found by walking a directory rather than named by the user. */
  discovered: boolean;
}

export interface InputError {
  file: string;
  message: string;
}

export interface ExpandedInputs {
  files: InputFile[];
  errors: InputError[];
}

/**
 * Expands inputs in the order given. `rename` maps a path to the name shown in reports (the demo
 * shows paths relative to the package). Hidden entries (`.name`) inside directories are skipped:
 * they are editor and VCS files, never logs a user meant to audit.
 */
export function expandInputs(
  inputs: readonly string[],
  rename: (path: string) => string = (p) => p,
): ExpandedInputs {
  const files: InputFile[] = [];
  const errors: InputError[] = [];
  let stdinSeen = false;
  for (const input of inputs) {
    if (input === '-') {
      if (stdinSeen) {
        errors.push({ file: '-', message: 'stdin ("-") can be given only once' });
        continue;
      }
      stdinSeen = true;
      files.push({ path: '-', name: '-', size: null, discovered: false });
      continue;
    }
    let isDirectory: boolean;
    let size: number;
    try {
      const stat = statSync(input);
      isDirectory = stat.isDirectory();
      size = stat.size;
    } catch (cause) {
      errors.push({ file: input, message: describeFsError(cause) });
      continue;
    }
    if (isDirectory) walk(input, files, errors, rename);
    else files.push({ path: input, name: rename(input), size, discovered: false });
  }
  return { files, errors };
}

function walk(dir: string, files: InputFile[], errors: InputError[], rename: (path: string) => string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    errors.push({ file: dir, message: describeFsError(cause) });
    return;
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const entry of names) {
    if (entry.startsWith('.')) continue;
    const path = join(dir, entry);
    try {
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path, files, errors, rename);
      else if (stat.isFile()) files.push({ path, name: rename(path), size: stat.size, discovered: true });
    } catch (cause) {
      errors.push({ file: path, message: describeFsError(cause) });
    }
  }
}

/** A short reason for a failed file operation (`no such file`, `permission denied`). */
export function describeFsError(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'Z_DATA_ERROR':
    case 'Z_BUF_ERROR':
      return `corrupt gzip data (${(cause as Error).message})`;
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}
