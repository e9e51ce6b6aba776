import { describe, expect, test } from 'vitest';
import { ReassemblyBudget, StreamHead } from './tcp-reassembly.js';

const text = (head: StreamHead) => head.data.toString('latin1', 0, head.contiguous);

describe('StreamHead', () => {
  test('in order, out of order, retransmitted', () => {
    const head = new StreamHead(1000, 16384, new ReassemblyBudget(1 << 20));
    expect(head.add(1010, Buffer.from('KLMNOPQRST'), 0, 10)).toBe(false); // a hole before it
    expect(head.contiguous).toBe(0);
    expect(head.add(1000, Buffer.from('ABCDE'), 0, 5)).toBe(true);
    expect(text(head)).toBe('ABCDE');
    expect(head.add(1000, Buffer.from('ABCDE'), 0, 5)).toBe(false); // retransmit
    expect(head.add(1005, Buffer.from('FGHIJ'), 0, 5)).toBe(true); // fills the hole
    expect(text(head)).toBe('ABCDEFGHIJKLMNOPQRST');
  });

  test('overlapping data: the first copy wins; bytes before the base are ignored', () => {
    const head = new StreamHead(500, 16384, new ReassemblyBudget(1 << 20));
    head.add(500, Buffer.from('hello'), 0, 5);
    head.add(497, Buffer.from('xxxHELLO world'), 0, 14); // starts 3 bytes early, overlaps "hello"
    expect(text(head)).toBe('hello world');
  });

  test('sequence numbers wrap around 2^32', () => {
    const head = new StreamHead(0xfffffffe, 16384, new ReassemblyBudget(1 << 20));
    head.add(0, Buffer.from('CD'), 0, 2);
    head.add(0xfffffffe, Buffer.from('AB'), 0, 2);
    expect(text(head)).toBe('ABCD');
  });

  test('the limit clips the head and marks it exhausted', () => {
    const head = new StreamHead(0, 8, new ReassemblyBudget(1 << 20));
    head.add(0, Buffer.from('0123456789'), 0, 10);
    expect(text(head)).toBe('01234567');
    expect(head.exhausted).toBe(true);
    expect(head.add(20, Buffer.from('late'), 0, 4)).toBe(false);
  });

  test('the shared budget starves new growth, and release gives bytes back', () => {
    const budget = new ReassemblyBudget(4096);
    const first = new StreamHead(0, 16384, budget);
    first.add(0, Buffer.alloc(3000), 0, 3000);
    expect(budget.used).toBe(4096);
    const second = new StreamHead(0, 16384, budget);
    expect(second.add(0, Buffer.alloc(10), 0, 10)).toBe(false);
    expect(second.exhausted).toBe(true);
    first.release();
    expect(budget.used).toBe(0);
  });

  test('at most 64 holes are tracked', () => {
    const head = new StreamHead(0, 16384, new ReassemblyBudget(1 << 20));
    for (let i = 0; i < 100; i++) head.add(1 + i * 2, Buffer.from('x'), 0, 1);
    head.add(0, Buffer.from('y'), 0, 1);
    // Ranges 1..127 (odd offsets) up to the 64th were kept; the first merges with offset 0.
    expect(head.contiguous).toBe(2);
  });
});
