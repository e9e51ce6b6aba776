// `npm run bench:startup`: how long `pathwarden explain HOST` takes as a whole process (spawn to
// exit), against `node -e 0` spawned in the same run, interleaved, so that the machine's load hits
// both alike. docs/performance.md ("Start-up") explains the figures and the target (<= 2x).
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/catalog/builtin.js';
import { childrenCpuSeconds, formatRatio, formatTable, median } from './lib/measure.js';

/** The target: the whole `explain HOST` process within twice a bare node start. */
const GOAL_RATIO = 2;

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '21' },
    host: { type: 'string', default: 'app.powerbi.com' },
    address: { type: 'string', default: '20.37.195.66' },
    before: { type: 'string' },
    command: { type: 'string', multiple: true, default: [] },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  process.stdout.write(`usage: npm run bench:startup -- [options]
  --runs N         spawns of each command, interleaved; medians reported (default 21)
  --host NAME      the host given to explain (default app.powerbi.com)
  --address IP     the address given to explain (default 20.37.195.66, in a catalog prefix)
  --before FILE    another build's dist/src/cli/main.js, timed in the same run (before/after)
  --command ARGS   another pathwarden command line to time (split at spaces; repeatable; exit
                   codes 0-2 count as done), after --before's build too when given
  --quick          smoke run: 5 spawns of each
`);
  process.exit(0);
}

const runs = flags.quick ? 5 : Number(flags.runs);
if (!Number.isSafeInteger(runs) || runs < 1) {
  process.stderr.write(`bench: --runs "${flags.runs}" is not a positive integer\n`);
  process.exit(2);
}

interface Contender {
  name: string;
  args: string[];
  /** Highest exit code that counts as done (a --command may end with 1 or 2 by design). */
  okExit?: number;
  wall: number[];
  cpu: number[];
}

const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const contenders: Contender[] = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: `explain ${flags.host}`, args: [main, 'explain', flags.host] },
  { name: `explain ${flags.address}`, args: [main, 'explain', flags.address] },
  { name: `explain --json ${flags.host}`, args: [main, 'explain', '--json', flags.host] },
  ...(flags.before
    ? [{ name: `before: explain ${flags.host}`, args: [flags.before, 'explain', flags.host] }]
    : []),
  ...flags.command.flatMap((line) => {
    const args = line.split(' ').filter((arg) => arg !== '');
    return [
      { name: line, args: [main, ...args], okExit: 2 },
      ...(flags.before ? [{ name: `before: ${line}`, args: [flags.before, ...args], okExit: 2 }] : []),
    ];
  }),
].map((contender) => ({ ...contender, wall: [], cpu: [] }));

function spawnOnce(contender: Contender): { seconds: number; cpuSeconds: number | undefined } {
  const cpuBefore = childrenCpuSeconds();
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, contender.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuAfter = childrenCpuSeconds();
  if (result.status === null || result.status > (contender.okExit ?? 0)) {
    process.stderr.write(
      `bench: ${contender.name} exited with ${result.status}: ${result.stderr.toString().slice(0, 2000)}\n`,
    );
    process.exit(1);
  }
  return {
    seconds,
    cpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
  };
}

const say = (text = '') => process.stdout.write(`${text}\n`);
say('# pathwarden start-up benchmark');
say();
say(`date      ${new Date().toISOString()}`);
say(`node      ${process.version} (${process.platform}/${process.arch})`);
say(`cpu       ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`);
const loadBefore = loadavg();

// One untimed spawn of each fills the page cache; then the commands take turns, run by run.
for (const contender of contenders) spawnOnce(contender);
for (let run = 0; run < runs; run++) {
  for (const contender of contenders) {
    const { seconds, cpuSeconds } = spawnOnce(contender);
    contender.wall.push(seconds);
    if (cpuSeconds !== undefined) contender.cpu.push(cpuSeconds);
  }
}
const loadAfter = loadavg();
say(
  `load      ${loadBefore.map((value) => value.toFixed(2)).join(' ')} before, ${loadAfter.map((value) => value.toFixed(2)).join(' ')} after (1/5/15 min)`,
);
say();

const [bare] = contenders as [Contender];
const bareWall = median(bare.wall);
const bareCpu = bare.cpu.length === runs ? median(bare.cpu) : undefined;
const ms = (seconds: number | undefined) => (seconds === undefined ? '-' : (seconds * 1000).toFixed(0));
say(`## Whole process, spawn to exit (median of ${runs} interleaved spawns each)`);
say();
say(
  formatTable(
    ['command', 'wall ms', 'vs node -e 0', 'CPU ms', 'CPU vs node -e 0', 'CPU mean ms', 'min ms', 'max ms'],
    contenders.map((contender) => {
      const wall = median(contender.wall);
      const cpu = contender.cpu.length === runs ? median(contender.cpu) : undefined;
      return [
        contender.name,
        ms(wall),
        formatRatio(wall / bareWall),
        ms(cpu),
        cpu === undefined || bareCpu === undefined || bareCpu === 0 ? '-' : formatRatio(cpu / bareCpu),
        contender.cpu.length === runs ? ms(contender.cpu.reduce((sum, value) => sum + value, 0) / runs) : '-',
        ms(Math.min(...contender.wall)),
        ms(Math.max(...contender.wall)),
      ];
    }),
  ),
);
say();
say(
  'CPU: user + system time of the child (/proc/self/stat, 10 ms ticks; the mean tells apart what ties at the median); ratios from medians of the same run.',
);
say();
say('## Target');
say();
const explainHost = contenders[1] as Contender;
const ratio = median(explainHost.wall) / bareWall;
say(
  `${ratio <= GOAL_RATIO ? 'met ' : 'MISS'}  explain ${flags.host} <= ${GOAL_RATIO}x node -e 0 (wall, median): ${formatRatio(ratio)}`,
);
