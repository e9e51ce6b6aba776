import { describe, expect, test } from 'vitest';
import { IdleSweep, type IdleWatched } from './idle-sweep.js';

function watched(): IdleWatched & { bytes: number; idled: number } {
  return {
    bytes: 0,
    idled: 0,
    bytesMoved() {
      return this.bytes;
    },
    onIdle() {
      this.idled++;
    },
  };
}

describe('IdleSweep', () => {
  test('only what moved no byte for idleMs is told, once, and then forgotten', () => {
    const sweep = new IdleSweep(1000);
    const quiet = watched();
    const busy = watched();
    const start = Date.now();
    sweep.add(quiet);
    sweep.add(busy);
    for (let t = 100; t <= 1500; t += 100) {
      busy.bytes += 10;
      sweep.sweep(start + t);
    }
    expect(quiet.idled).toBe(1);
    expect(busy.idled).toBe(0);
    expect(sweep.size).toBe(1);
    sweep.sweep(start + 5000);
    expect(quiet.idled).toBe(1);
    expect(busy.idled).toBe(1);
    expect(sweep.size).toBe(0);
  });

  test('a byte restarts the idle time; a deleted entry is never told', () => {
    const sweep = new IdleSweep(1000);
    const entry = watched();
    const gone = watched();
    const start = Date.now();
    sweep.add(entry);
    sweep.add(gone);
    sweep.delete(gone);
    sweep.sweep(start + 900);
    entry.bytes = 1;
    sweep.sweep(start + 1200);
    sweep.sweep(start + 2100);
    expect(entry.idled).toBe(0);
    sweep.sweep(start + 2200);
    expect(entry.idled).toBe(1);
    expect(gone.idled).toBe(0);
    sweep.stop();
  });

  test('the sweep period is a tenth of the idle time, at least 250 ms', () => {
    expect(new IdleSweep(300_000).periodMs).toBe(30_000);
    expect(new IdleSweep(1000).periodMs).toBe(250);
  });
});
