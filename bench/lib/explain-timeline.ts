// Preload for `bench:decide --explain-timeline` (`node --import THIS main.js explain -`): records,
// each time `explain -` asks stdin for its next chunk, how many lines it was given so far, the wall
// time, the main thread's CPU time (Linux: /proc/self/task/PID/schedstat, nanoseconds) and the
// whole process's CPU time (which adds V8's compiler and GC threads). `explain -` asks for the next
// chunk only once it has decided and serialized every line of the one before, so the marks split
// the run into blocks of lines with the time each took. Written as JSON to the file named by
// PATHWARDEN_TIMELINE_FILE when the process exits. Works on the `for await` over stdin that
// `explain -` (through src/ingest/line-reader.ts) does; other readers are not seen.
import { readFileSync, writeFileSync } from 'node:fs';

/** [lines given so far, wall ms, main-thread CPU ms, process CPU ms] */
export type TimelineMark = [number, number, number, number];

function mainThreadCpuMs(): number {
  try {
    const text = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'latin1');
    return Number(text.split(' ')[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

const target = process.env.PATHWARDEN_TIMELINE_FILE;
if (target) {
  const marks: TimelineMark[] = [];
  let lines = 0;
  const mark = () => {
    const cpu = process.cpuUsage();
    marks.push([lines, performance.now(), mainThreadCpuMs(), (cpu.user + cpu.system) / 1000]);
  };
  const stdin = process.stdin;
  const chunks = stdin[Symbol.asyncIterator].bind(stdin);
  stdin[Symbol.asyncIterator] = async function* timed() {
    for await (const chunk of chunks()) {
      mark();
      const bytes = chunk as Buffer;
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) lines++;
      yield chunk;
    }
  } as (typeof stdin)[typeof Symbol.asyncIterator];
  process.on('exit', () => {
    mark();
    writeFileSync(target, JSON.stringify(marks));
  });
}
