// FileChunks when a read fails: the read that runs ahead (the next chunk, read while the consumer
// works on this one) fails while the consumer is busy elsewhere. The error must reach the consumer
// when it asks for that chunk, as a read error did before the reads ran ahead, and must not surface
// first as an unhandled rejection (which ends the CLI with exit code 1). A consumer that stops
// early: the file is closed only once the read in flight has ended.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, expect, test, vi } from 'vitest';

const events = vi.hoisted(() => [] as string[]);

vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...original,
    // A file whose first read gives 8 bytes and whose second fails 5 ms later with EIO.
    open: async () => {
      let reads = 0;
      events.push('open');
      return {
        read: async (into: Buffer) => {
          reads++;
          if (reads === 1) {
            into.write('line 1\nl');
            return { bytesRead: 8 };
          }
          await sleep(5);
          events.push('read failed');
          throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
        },
        close: async () => {
          events.push('close');
        },
      };
    },
  };
});

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
afterEach(() => {
  unhandled.length = 0;
  events.length = 0;
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

test('a failed read-ahead reaches the consumer that asks for the chunk, not the process', async () => {
  const { FileChunks } = await import('./file-chunks.js');
  const seen: string[] = [];
  let error: unknown;
  try {
    for await (const chunk of new FileChunks('/any/log', 0, Number.POSITIVE_INFINITY, null, 8)) {
      seen.push(chunk.toString());
      // A consumer held up by its sink (an NDJSON writer, a store) while the next read fails.
      await sleep(50);
    }
  } catch (caught) {
    error = caught;
  }
  // Let any stray rejection be reported before looking.
  await sleep(10);
  expect(seen).toEqual(['line 1\nl']);
  expect(error).toMatchObject({ code: 'EIO' });
  expect(unhandled).toEqual([]);
});

test('a consumer that stops early: the file closes after the read in flight ends', async () => {
  const { FileChunks } = await import('./file-chunks.js');
  for await (const chunk of new FileChunks('/any/log', 0, Number.POSITIVE_INFINITY, null, 8)) {
    expect(chunk.toString()).toBe('line 1\nl');
    break;
  }
  await sleep(10);
  expect(events).toEqual(['open', 'read failed', 'close']);
  expect(unhandled).toEqual([]);
});
