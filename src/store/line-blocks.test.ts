import { describe, expect, it } from 'vitest';
import { LineBlocks } from './jsonl.js';

const text = (pieces: Buffer[]) => Buffer.concat(pieces).toString('utf8');

describe('LineBlocks', () => {
  it('numbers lines in order and gives back any run of them across blocks, oversized lines included', () => {
    const lines = new LineBlocks();
    const written: string[] = [];
    for (let i = 0; i < 3000; i++) {
      // Non-ASCII text (2- and 3-byte UTF-8) and, now and then, a line longer than a block.
      const line = i % 997 === 5 ? `big-${i}-${'é'.repeat(100_000)}` : `line-${i} § ${'x'.repeat(i % 300)} €`;
      expect(lines.add(line)).toBe(i);
      written.push(`${line}\n`);
    }
    expect(lines.blocks).toBeGreaterThan(4);
    for (const [first, last] of [
      [0, 2999],
      [0, 0],
      [5, 5],
      [4, 6],
      [1234, 2345],
      [2999, 2999],
    ] as const) {
      expect(text(lines.ranges(first, last))).toBe(written.slice(first, last + 1).join(''));
    }
  });

  it('frees the blocks whose lines are all released, never the one still taking lines', () => {
    const lines = new LineBlocks();
    const line = 'y'.repeat(1000);
    for (let i = 0; i < 2000; i++) lines.add(line);
    const held = lines.blocks;
    expect(held).toBeGreaterThan(3);
    lines.release(1000);
    expect(lines.blocks).toBeLessThan(held);
    expect(lines.blocks).toBeGreaterThan(1);
    // What is still held reads back whole.
    expect(text(lines.ranges(1000, 1999))).toBe(`${line}\n`.repeat(1000));
    lines.release(2000);
    expect(lines.blocks).toBe(1);
    expect(lines.add('after')).toBe(2000);
    expect(text(lines.ranges(2000, 2000))).toBe('after\n');
  });

  it('fills freed blocks again, and every line still held reads back whole across the reuse', () => {
    const lines = new LineBlocks();
    const written: string[] = [];
    const add = (i: number) => {
      const line = `line-${i} § ${'z'.repeat(i % 700)} €`;
      expect(lines.add(line)).toBe(i);
      written.push(`${line}\n`);
    };
    let next = 0;
    while (lines.blocks < 3) add(next++);
    // Written in batches as the store does: release what is done, keep adding, read the rest back.
    let done = 0;
    const buffers = new Set<ArrayBufferLike>();
    let bytes = 0;
    for (let round = 0; round < 20; round++) {
      const upTo = next - 1;
      expect(text(lines.ranges(done, upTo))).toBe(written.slice(done, upTo + 1).join(''));
      lines.release(upTo + 1);
      done = upTo + 1;
      for (let i = 0; i < 700; i++) add(next++);
      for (const piece of lines.ranges(done, next - 1)) {
        buffers.add(piece.buffer);
        bytes += piece.length;
      }
    }
    expect(text(lines.ranges(done, next - 1))).toBe(written.slice(done).join(''));
    // About twenty blocks' worth of lines went through a handful of blocks.
    expect(bytes).toBeGreaterThan(15 * 256 * 1024);
    expect(buffers.size).toBeLessThanOrEqual(5);
  });

  it('keeps a bounded number of freed blocks after a burst (a written outage backlog is let go)', () => {
    const lines = new LineBlocks();
    let next = 0;
    // About a hundred blocks of lines, as a backlog after a write outage would be.
    while (lines.blocks < 100) lines.add(`line-${next++} ${'x'.repeat(2000)}`);
    lines.release(next);
    expect(lines.spares).toBeLessThanOrEqual(8);
    expect(lines.spares).toBeGreaterThanOrEqual(2);
  });
});
