// A DuckDB store on a disk that fills up for a while (a 64 MB tmpfs this test mounts; root, as the
// suite's network tests): batches fail while it is full and are written again once space is freed
// (docs/gateway-api.md, "Write failures"). The gateway's quiet-time memory release must not turn
// that into a store that never writes again: a CHECKPOINT that runs out of space invalidates the
// whole DuckDB database until it is reopened.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  statfsSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { emptyFlow, type FlowRecord } from '../flow/record.js';
import { needPeers } from '../testing/peers.js';
import type { DuckDbFlowStore } from './duckdb.js';
import type { FlowStore } from './store.js';
import { openFlowStore } from './store.js';

const ready = needPeers('root');
let mount: string | undefined;
let mounted = false;

beforeAll(() => {
  if (!ready) return;
  mount = mkdtempSync(join(tmpdir(), 'pathwarden-disk-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mount]);
  mounted = true;
});
afterAll(() => {
  if (mount === undefined) return;
  try {
    // Lazy: a store a failed or timed-out test left open still holds its files.
    if (mounted) execFileSync('umount', ['-l', mount]);
  } finally {
    rmSync(mount, { recursive: true, force: true });
  }
});

const flow = (i: number): FlowRecord => ({
  ...emptyFlow({ kind: 'gateway' }),
  start: 1e12 + i,
  end: 1e12 + i + 5,
  host: `h${i}.example`,
  port: 443,
  reason: `matches rule ${i % 50}`,
});

/**
 * A gateway's row for api.powerbi.com, about 600 bytes of WAL: the built-in catalog's decision for it
 * (356 characters of reason), copied here because the store's tests may not import the catalog or
 * the policy (architecture.test.ts).
 */
const gatewayReason = {
  path: 'expressroute',
  verdict: 'unverified',
  rule: { id: 'service.backend-api' },
  reason:
    'api.powerbi.com matches rule service.backend-api (Power BI data interactions, REST APIs and backend clusters): this traffic must ride the ExpressRoute circuit. Source: seed § SaaS, paragraph 2 ("subsequent Power BI data interactions occur over ExpressRoute"); pbi-allowlist-2024, "Backend APIs". The path it actually took is not known, so it is unverified.',
} as const;
const gatewayFlow = (i: number): FlowRecord => ({
  ...emptyFlow({ kind: 'gateway' }),
  start: 1e12 + i,
  end: 1e12 + i + 5,
  client: `10.1.${(i >> 8) & 255}.${i & 255}`,
  host: 'api.powerbi.com',
  destination: '20.190.0.1',
  port: 443,
  protocol: 'tls',
  component: 'saas',
  bytesUp: 1200 + (i % 700),
  bytesDown: 5400 + (i % 3000),
  expectedPath: gatewayReason.path,
  verdict: gatewayReason.verdict,
  ruleId: gatewayReason.rule?.id ?? null,
  reason: gatewayReason.reason,
  egressPath: 'expressroute',
  outcome: 'forwarded',
  error: null,
  connectMs: 3,
});
/** 10,000-row batches on the small disk: past the 120 MB the session-11 branch's WAL grew to. */
const smallDiskBatches = 26;

/** Fills the file system holding `dir` with one file, but for `leave` bytes; returns its path. */
function fillDisk(dir: string, leave = 0): string {
  const filler = join(dir, 'filler');
  const block = Buffer.alloc(16 * 1024);
  const fd = openSync(filler, 'w');
  try {
    const free = () => {
      const disk = statfsSync(dir);
      return disk.bavail * disk.bsize;
    };
    while (free() - block.length >= leave) writeSync(fd, block);
  } catch {
    // ENOSPC: full
  } finally {
    closeSync(fd);
  }
  return filler;
}

/** A DuckDB store at `path` whose log lines (error: message and error text; warn) are kept. */
async function openLoggedStore(path: string) {
  const errors: string[] = [];
  const warnings: string[] = [];
  const log = {
    warn: (_fields: unknown, message: string) => warnings.push(message),
    error: (fields: { err?: string }, message: string) => errors.push(`${message}: ${fields.err}`),
    info: () => {},
  };
  const store = await openFlowStore(
    { kind: 'duckdb', path, flushIntervalMs: 60_000 },
    { log: log as never, maxAttempts: 100 },
  );
  return { store, errors, warnings };
}

/** The number of records in the DuckDB file at `path`, opened afresh. */
async function storedAfterReopen(path: string): Promise<number> {
  const reopened = await openFlowStore({ kind: 'duckdb', path, flushIntervalMs: 60_000 });
  try {
    return (await reopened.query({ limit: 0 })).total;
  } finally {
    await reopened.close();
  }
}

describe.skipIf(!ready)('duckdb store on a disk that fills up', () => {
  test('a memory release while the disk is full leaves a store that writes again once space is freed', async () => {
    const folder = mount as string;
    const path = join(folder, 'flows.duckdb');
    rmSync(path, { force: true });
    rmSync(`${path}.wal`, { force: true });
    const opened = await openLoggedStore(path);
    const { errors } = opened;
    let store: FlowStore | undefined = opened.store;
    try {
      let n = 0;
      for (; n < 20_000; n++) store.append(flow(n));
      await store.flush();
      const filler = fillDisk(folder);
      for (; n < 40_000; n++) store.append(flow(n));
      await store.flush(); // fails: the disk is full; the batch waits for the next attempt
      expect(errors.length).toBeGreaterThan(0);
      await store.releaseMemory?.().catch(() => undefined);
      rmSync(filler);
      await store.flush();
      expect((await store.query({ limit: 0 })).total).toBe(40_000);
      await store.close();
      store = undefined;
      expect(await storedAfterReopen(path)).toBe(40_000);
    } finally {
      await store?.close().catch(() => undefined);
    }
  }, 60_000);

  test("the store's checkpoint at a full row group running out of disk: no batch is lost, and the store reopens the database and writes again once space is freed", async () => {
    const folder = mount as string;
    const path = join(folder, 'own.duckdb');
    const wal = () => (existsSync(`${path}.wal`) ? statSync(`${path}.wal`).size : 0);
    const opened = await openLoggedStore(path);
    const { errors, warnings } = opened;
    let store: FlowStore | undefined = opened.store;
    let filler: string | undefined;
    try {
      // A disk with room for the checkpoint per row group (ceilingFor), as far as the store can tell.
      (store as DuckDbFlowStore).diskReading = () => ({ free: 1 << 30, wal: wal() });
      let n = 0;
      // 112,000 rows, under a row group: no checkpoint yet.
      for (let batch = 0; batch < 14; batch++) {
        for (let i = 0; i < 8000; i++) store.append(flow(n++));
        await store.flush();
      }
      const before = wal();
      expect(before).toBeGreaterThan(0);
      // The room is there when it is read, and gone when the checkpoint runs: another process took
      // it in between. (The reading is made just before the checkpoint, after the commit.)
      (store as DuckDbFlowStore).checkpointRoom = () => {
        filler = fillDisk(folder);
        return 0;
      };
      // 118,000 rows: another batch of 6,000 would not fit in the row group, so the store checkpoints.
      for (let i = 0; i < 6000; i++) store.append(flow(n++));
      await store.flush();
      expect(filler).toBeDefined();
      // The batch was committed before: it is not failed, the checkpoint's fatal error is logged.
      expect(errors).toEqual([]);
      expect(warnings).toContain('checkpoint failed; the rows stay in the WAL');
      expect(wal()).toBeGreaterThan(before);
      rmSync(filler as string);
      (store as DuckDbFlowStore).checkpointRoom = () => 0;
      for (let i = 0; i < 10; i++) store.append(flow(n++));
      await store.flush();
      expect(warnings).toContain('database opened again after a fatal error');
      expect((await store.query({ limit: 0 })).total).toBe(n);
      await store.close();
      store = undefined;
      expect(await storedAfterReopen(path)).toBe(n);
    } finally {
      if (filler !== undefined) rmSync(filler, { force: true });
      await store?.close().catch(() => undefined);
    }
  }, 120_000);

  test("without disk room for it the store's checkpoint is skipped, and DuckDB's own at the lowered threshold folds the WAL", async () => {
    const folder = mount as string;
    const path = join(folder, 'skipped.duckdb');
    const wal = () => (existsSync(`${path}.wal`) ? statSync(`${path}.wal`).size : 0);
    const opened = await openLoggedStore(path);
    const { errors, warnings } = opened;
    let store: FlowStore | undefined = opened.store;
    try {
      // The room reading never finds enough: every checkpoint of the store's own is skipped.
      (store as DuckDbFlowStore).checkpointRoom = () => Number.POSITIVE_INFINITY;
      let n = 0;
      const sizes: number[] = [];
      // Past a row group, in batches of about 1.5 MB of WAL with these rows.
      for (let batch = 0; batch < 30; batch++) {
        for (let i = 0; i < 5000; i++) store.append(gatewayFlow(n++));
        await store.flush();
        sizes.push(wal());
      }
      // On this 64 MB disk DuckDB's threshold is its default 16 MiB (ceilingFor): its own checkpoint
      // folded the WAL there, well before a row group's rows (about 74 MB of WAL) filled the disk.
      expect(sizes.some((size, i) => i > 0 && size < (sizes[i - 1] as number))).toBe(true);
      expect(Math.max(...sizes)).toBeLessThan(24_000_000);
      expect(errors).toEqual([]);
      expect(warnings).toEqual([]);
      expect((await store.query({ limit: 0 })).total).toBe(n);
      await store.close();
      store = undefined;
      expect(await storedAfterReopen(path)).toBe(n);
    } finally {
      await store?.close().catch(() => undefined);
    }
  }, 120_000);

  test('on a small disk, gateway rows in a WAL that would outgrow it: no batch fails, every row is kept', async () => {
    // A disk with room for main's WAL (DuckDB's 16 MB) but not for a row group's (about 74 MB of
    // these rows) and the checkpoint after it: the review's repro of session 11's branch, which
    // dropped 100,000-140,000 of 400,000 flows here while main dropped none.
    const small = mkdtempSync(join(tmpdir(), 'pathwarden-small-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=120m', 'tmpfs', small]);
    const path = join(small, 'flows.duckdb');
    const wal = () => (existsSync(`${path}.wal`) ? statSync(`${path}.wal`).size : 0);
    let store: FlowStore | undefined;
    try {
      const opened = await openLoggedStore(path);
      const { errors } = opened;
      store = opened.store;
      let n = 0;
      let mostWal = 0;
      for (let batch = 0; batch < smallDiskBatches; batch++) {
        for (let i = 0; i < 10_000; i++) store.append(gatewayFlow(n++));
        await store.flush();
        mostWal = Math.max(mostWal, wal());
        expect(errors).toEqual([]);
      }
      expect((await store.query({ limit: 0 })).total).toBe(n);
      // The WAL kept well inside the disk, with room left for the checkpoint that folds it.
      expect(mostWal).toBeLessThan(60_000_000);
      await store.close();
      store = undefined;
      expect(await storedAfterReopen(path)).toBe(n);
    } finally {
      await store?.close().catch(() => undefined);
      execFileSync('umount', ['-l', small]);
      rmSync(small, { recursive: true, force: true });
    }
  }, 180_000);
});
