// The idle release's watch: it fires once after work, when the process has been quiet long enough,
// and not again until there was work again; and the collection it runs does collect.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { collectAllGarbage, IdleReleaseWatch } from './idle-release.js';

const options = { quietMs: 6000, quietShare: 0.02, workMs: 1000 };

/** Feeds one sample a second: `busyMs` of CPU in each. */
function run(watch: IdleReleaseWatch, clock: { now: number; cpuUs: number }, busyMs: number[]): boolean[] {
  return busyMs.map((busy) => {
    clock.now += 1000;
    clock.cpuUs += busy * 1000;
    return watch.sample(clock.now, clock.cpuUs);
  });
}

test('fires once, after work and 6 s of quiet', () => {
  const clock = { now: 0, cpuUs: 0 };
  const watch = new IdleReleaseWatch(options, clock.now, clock.cpuUs);
  // 3 s of load (600 ms of CPU a second), then quiet (5 ms a second: timers, the idle sweep).
  const fired = run(watch, clock, [600, 600, 600, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
  expect(fired.indexOf(true)).toBe(8); // the 6th quiet second after the last busy one
  expect(fired.filter(Boolean)).toHaveLength(1);
});

test('never fires for a process that did no work, nor twice for one load', () => {
  const clock = { now: 0, cpuUs: 0 };
  const watch = new IdleReleaseWatch(options, clock.now, clock.cpuUs);
  expect(run(watch, clock, Array(20).fill(5))).not.toContain(true);
  // Less than workMs of CPU in all (a few handshakes): not worth a collection.
  expect(run(watch, clock, [300, 300, ...Array(10).fill(0)])).not.toContain(true);
  // More work: fires once more.
  expect(run(watch, clock, [500, ...Array(10).fill(0)]).filter(Boolean)).toHaveLength(1);
});

test('a busy sample in the quiet spell starts it again', () => {
  const clock = { now: 0, cpuUs: 0 };
  const watch = new IdleReleaseWatch(options, clock.now, clock.cpuUs);
  const fired = run(watch, clock, [900, 900, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0]);
  expect(fired.indexOf(true)).toBe(13);
});

test('collectAllGarbage collects an object nothing refers to', async () => {
  let target: object | undefined = { payload: new Array(1000).fill('x') };
  const ref = new WeakRef(target);
  target = undefined;
  await nextTurn(); // WeakRef targets stay alive until the job that read them ends
  collectAllGarbage();
  await nextTurn();
  expect(ref.deref()).toBeUndefined();
});

test('the follow-up collection comes once, quietMs after the release, later if work came between', () => {
  const clock = { now: 0, cpuUs: 0 };
  const watch = new IdleReleaseWatch(options, clock.now, clock.cpuUs);
  expect(run(watch, clock, [600, 600, 0, 0, 0, 0, 0, 0]).indexOf(true)).toBe(7);
  expect(watch.followUpDue(clock.now)).toBe(false); // no release reported yet
  watch.released(clock.now);
  const due: boolean[] = [];
  for (const busy of [0, 0, 100, 0, 0, 0, 0, 0, 0, 0]) {
    clock.now += 1000;
    clock.cpuUs += busy * 1000;
    watch.sample(clock.now, clock.cpuUs);
    due.push(watch.followUpDue(clock.now));
  }
  // The busy 3rd second moves it to 6 s after that one.
  expect(due.indexOf(true)).toBe(8);
  expect(due.filter(Boolean)).toHaveLength(1);
});

test("the release's own CPU is skipped: no second release for it", () => {
  const clock = { now: 0, cpuUs: 0 };
  const watch = new IdleReleaseWatch(options, clock.now, clock.cpuUs);
  expect(run(watch, clock, [600, 600, 0, 0, 0, 0, 0, 0]).indexOf(true)).toBe(7);
  // The release: 1.2 s of CPU (its collections with 9,000 tunnels on a loaded machine took that).
  clock.now += 1200;
  clock.cpuUs += 1_200_000;
  watch.skip(clock.now, clock.cpuUs);
  watch.released(clock.now);
  expect(run(watch, clock, Array(20).fill(0))).not.toContain(true);
});
