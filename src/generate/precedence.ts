// Orders destinations into first-match blocks that give decide()'s most-specific answer. A
// destination must come before every broader one that answers differently; destinations that
// answer alike and do not shadow each other share a block. This is the shape of Microsoft's
// Get-PacFile output (specific proxy names first, then the broad direct wildcards), computed.

export interface Block<E> {
  /** Grouping key shared by the block's entries (their answer). */
  key: string;
  entries: E[];
}

/**
 * `entries` must be sorted most specific first (a covered entry before any entry covering it).
 * `covers(general, specific)` says that every destination of `specific` is one of `general`.
 * Each entry's level is the number of answer changes on the longest chain of more specific
 * entries under it; blocks are emitted by level, so an entry always precedes any broader entry
 * that disagrees with it, and two disagreeing entries of one level never overlap.
 */
export function precedenceBlocks<E>(
  entries: readonly E[],
  covers: (general: E, specific: E) => boolean,
  key: (entry: E) => string,
): Block<E>[] {
  const levels: number[] = [];
  entries.forEach((entry, i) => {
    let level = 0;
    const entryKey = key(entry);
    for (let j = 0; j < i; j++) {
      const inner = entries[j] as E;
      if (covers(entry, inner)) {
        level = Math.max(level, (levels[j] as number) + (key(inner) === entryKey ? 0 : 1));
      }
    }
    levels.push(level);
  });
  const blocks = new Map<string, { level: number; block: Block<E> }>();
  entries.forEach((entry, i) => {
    const level = levels[i] as number;
    const blockKey = `${level}\u0000${key(entry)}`;
    let found = blocks.get(blockKey);
    if (!found) {
      found = { level, block: { key: key(entry), entries: [] } };
      blocks.set(blockKey, found);
    }
    found.block.entries.push(entry);
  });
  // Stable: within a level, blocks keep the order of their first (most specific) entry.
  return [...blocks.values()].sort((a, b) => a.level - b.level).map(({ block }) => block);
}
