// `npm run bench:decide`: decisions per second of pathwarden's index against a naive linear scan
// of the same rules and against a PAC file evaluated by pac-resolver, all on one deterministic
// target array in one process, plus the throughput of `pathwarden explain -` on a host list.
// docs/performance.md explains the figures; the naive scan doubles as a correctness oracle.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBuiltinCatalog, packageRoot } from '../src/catalog/load.js';
import { components } from '../src/catalog/model.js';
import { selectProfile } from '../src/catalog/profiles.js';
import { type Decision, Policy } from '../src/policy/policy.js';
import { parseTarget, type Target } from '../src/policy/target.js';
import { Random } from '../src/util/random.js';
import {
  explainTimeline,
  type ProcessTiming,
  readlineFloorScript,
  runProcess,
  type TimelineBlock,
  timelineBlocks,
  timeProcess,
  timeProcesses,
} from './lib/explain-throughput.js';
import type { TimelineMark } from './lib/explain-timeline.js';
import {
  formatRate,
  formatRatio,
  formatTable,
  type Measurement,
  measureAsync,
  measureSync,
  median,
} from './lib/measure.js';
import { type NaiveAnswer, NaiveScanner } from './lib/naive.js';
import { buildPac, createPac, pacArguments, pathOfPacResult } from './lib/pac.js';
import { generateTargets, type TargetKind } from './lib/targets.js';

/** The issues' targets (docs/performance.md): issue 12 raised them to these. */
const GOAL_INDEX_RATE = 3_000_000;
const GOAL_INDEX_VS_PAC = 100;
/** `explain -` lines per second after start-up (the run's time minus the empty-input run's). */
const GOAL_EXPLAIN_RATE = 800_000;

const { values: flags } = parseArgs({
  options: {
    targets: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '11' },
    before: { type: 'string' },
    'pac-targets': { type: 'string', default: '20000' },
    'explain-lines': { type: 'string' },
    seed: { type: 'string', default: '20261126' },
    quick: { type: 'boolean', default: false },
    'no-explain': { type: 'boolean', default: false },
    'explain-steady': { type: 'boolean', default: false },
    'explain-timeline': { type: 'boolean', default: false },
    'only-explain': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  process.stdout.write(`usage: npm run bench:decide -- [options]
  --targets N        targets decided by each contender (default 1000000)
  --runs N           timed runs of each index contender; the median is reported (default 11;
                     naive scan and explain: at most 5, PAC: at most 3)
  --before FILE      another build's dist/src/cli/main.js: its explain - timed in the same run
  --pac-targets N    first N targets given to the PAC contender (default 20000)
  --explain-lines N  lines of the host list fed to explain - (default: --targets)
  --seed N           PRNG seed of the target mix (default 20261126)
  --quick            smoke run: 20000 targets, 2000 PAC targets, 3 runs
  --no-explain       skip the explain - throughput part
  --explain-steady   also time explain - on the host list written 3 times: the rate of its last
                     two thirds (JIT warm-up and the first address's prefix table left out)
  --explain-timeline also run explain - (and --before's) with a preload that marks each stdin chunk:
                     wall, main-thread and process CPU ms per block of lines (medians of the runs)
  --only-explain     skip the index, naive-scan and PAC contenders and their checks
`);
  process.exit(0);
}

const count = positive('targets', flags.quick ? '20000' : flags.targets);
const runs = positive('runs', flags.quick ? '3' : flags.runs);
const pacCount = Math.min(count, positive('pac-targets', flags.quick ? '2000' : flags['pac-targets']));
const explainLines = positive('explain-lines', flags['explain-lines'] ?? String(count));
const seed = positive('seed', flags.seed);

function positive(name: string, text: string): number {
  const value = Number(text.replaceAll('_', ''));
  if (!Number.isSafeInteger(value) || value < 1) {
    process.stderr.write(`bench: --${name} "${text}" is not a positive integer\n`);
    process.exit(2);
  }
  return value;
}

const say = (text = '') => process.stdout.write(`${text}\n`);
/** The 1, 5 and 15 minute load averages: the machine is shared, and every figure depends on them. */
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

// ---- Setup: catalog, policy, targets -------------------------------------------------------
// The default profile's view: what Policy.compile decides with, so the naive scan, the generated
// targets and the PAC see the same rules (other profiles' rules may disagree with them).
const catalog = selectProfile(loadBuiltinCatalog().catalog);
const policy = Policy.compile(catalog);
const naive = new NaiveScanner(catalog.rules);
const { targets, counts } = generateTargets(catalog, count, new Random(seed));

const hostPatterns = catalog.rules.reduce((sum, rule) => sum + rule.hosts.length, 0);
const prefixes = catalog.rules.reduce((sum, rule) => sum + (rule.prefixes?.length ?? 0), 0);
say('# pathwarden decision benchmark');
say();
say(`date      ${new Date().toISOString()}`);
say(`node      ${process.version} (${process.platform}/${process.arch})`);
say(`cpu       ${cpus()[0]?.model ?? 'unknown'} x ${cpus().length} (the benchmark itself uses one)`);
say(`load      ${load()} (1, 5, 15 min)`);
say(
  `catalog   ${catalog.name} ${catalog.version}: ${catalog.rules.length} rules, ${hostPatterns} host patterns, ${prefixes} prefixes`,
);
say(
  `targets   ${count.toLocaleString('en-US')} (seed ${seed}); component saas, no port, actual path unknown`,
);
say(
  `mix       ${(Object.entries(counts) as [TargetKind, number][])
    .map(([kind, n]) => `${kind} ${((100 * n) / count).toFixed(1)}%`)
    .join(', ')}`,
);
say();

/**
 * Checks the index against the naive scan and the PAC, then times the three contenders and prints
 * their table (skipped with --only-explain).
 */
async function decideContenders(): Promise<{ index: Measurement; pacRate: Measurement }> {
  // ---- Correctness: the index and the naive scan must agree on every target ------------------
  function agree(decision: Decision, answer: NaiveAnswer): boolean {
    if (decision.path !== answer.path) return false;
    // A not-covered decision names the component's open rule for context; the scan names none.
    if (decision.path === 'not-covered') return true;
    return (
      (decision.rule?.id ?? null) === answer.ruleId && (decision.rule?.matched ?? null) === answer.matched
    );
  }

  let mismatches = 0;
  const pathCounts: Record<string, number> = {};
  for (const text of targets) {
    const decision = policy.decide(text);
    const answer = naive.decide(text);
    pathCounts[decision.path] = (pathCounts[decision.path] ?? 0) + 1;
    if (!agree(decision, answer)) {
      mismatches++;
      if (mismatches <= 10) {
        say(
          `MISMATCH ${JSON.stringify(text)}: index ${decision.path} ${decision.rule?.id ?? '-'} [${decision.rule?.matched ?? '-'}], naive ${answer.path} ${answer.ruleId ?? '-'} [${answer.matched ?? '-'}]`,
        );
      }
    }
  }
  say(
    `check     index and naive scan agree on ${(count - mismatches).toLocaleString('en-US')} of ${count.toLocaleString('en-US')} targets; expected paths: ${Object.entries(
      pathCounts,
    )
      .map(([path, n]) => `${path} ${((100 * n) / count).toFixed(1)}%`)
      .join(', ')}`,
  );
  // The other components (component-specific rules, mobile not covered) on a slice of the targets:
  // the scan is slow, and the slice already holds every kind of target many times over.
  const otherComponents = components.filter((component) => component !== 'saas');
  const sliceCount = Math.min(count, 50_000);
  for (const component of otherComponents) {
    for (let i = 0; i < sliceCount; i++) {
      const text = targets[i] as string;
      const decision = policy.decide(text, { component });
      const answer = naive.decide(text, component);
      if (!agree(decision, answer)) {
        mismatches++;
        if (mismatches <= 10) {
          say(
            `MISMATCH ${JSON.stringify(text)} (${component}): index ${decision.path} ${decision.rule?.id ?? '-'}, naive ${answer.path} ${answer.ruleId ?? '-'}`,
          );
        }
      }
    }
  }
  say(
    `check     ... and on the first ${sliceCount.toLocaleString('en-US')} targets for ${otherComponents.join(', ')}`,
  );
  if (mismatches > 0) {
    say(`FAIL: ${mismatches} decisions differ between the index and the naive scan`);
    process.exit(1);
  }

  // ---- (a) the index, (b) the naive scan -----------------------------------------------------
  // Only the target texts are alive while these run: holding a million parsed targets as well makes
  // every full GC slower and, measured, doubles the cost of policy.decide(text).
  function decideAll(): number {
    let sum = 0;
    for (let i = 0; i < targets.length; i++) sum += policy.decide(targets[i] as string).path.length;
    return sum;
  }
  function scanAll(): number {
    let sum = 0;
    for (let i = 0; i < targets.length; i++) sum += naive.decide(targets[i] as string).path.length;
    return sum;
  }

  // Warm-up: enough calls for the JIT to settle on optimized code for every kind of target.
  const warm = Math.min(count, 200_000);
  for (let i = 0; i < warm; i++) {
    policy.decide(targets[i] as string);
    naive.decide(targets[i] as string);
  }
  const index = measureSync(runs, count, decideAll);
  // The naive scan is the slow baseline (a ratio, not a target): fewer runs of it.
  const scanRuns = Math.min(runs, 5);
  const scan = measureSync(scanRuns, count, scanAll);

  // The same targets parsed (and, for names, canonicalized) beforehand: what the lookup alone costs.
  let parsed: Target[] = targets.map((text) => parseTarget(text) as Target);
  let canonicalHosts = parsed.filter((target) => target.address === undefined).map((target) => target.host);
  function decideParsed(): number {
    let sum = 0;
    for (let i = 0; i < parsed.length; i++) sum += policy.decideTarget(parsed[i] as Target).path.length;
    return sum;
  }
  function decideHosts(): number {
    let sum = 0;
    for (let i = 0; i < canonicalHosts.length; i++) {
      sum += policy.decideHost(canonicalHosts[i] as string).path.length;
    }
    return sum;
  }
  for (let i = 0; i < warm; i++) policy.decideTarget(parsed[i] as Target);
  decideHosts();
  const indexParsed = measureSync(runs, parsed.length, decideParsed);
  const indexHosts = measureSync(runs, canonicalHosts.length, decideHosts);
  parsed = [];
  canonicalHosts = [];

  // ---- (c) pac-resolver + quickjs-wasi on the first pacCount targets -------------------------
  const pac = buildPac(catalog.rules, 'saas');
  const pacSubset = targets.slice(0, pacCount).map(pacArguments);
  const resolver = await createPac(pac.text);
  let pacMismatches = 0;
  let pacHostTargets = 0;
  for (let i = 0; i < pacCount; i++) {
    const { url, host } = pacSubset[i] as { url: string; host: string };
    const result = await resolver.resolve(url, host);
    // The PAC has no IP checks (like Get-PacFile), so only host targets can be compared.
    if ((parseTarget(targets[i] as string) as Target).address !== undefined) continue;
    pacHostTargets++;
    if (pathOfPacResult(result) !== policy.decide(targets[i] as string).path) {
      pacMismatches++;
      if (pacMismatches <= 5) say(`PAC MISMATCH ${JSON.stringify(targets[i])}: PAC says ${result}`);
    }
  }
  say(
    `check     PAC (${pac.patterns} shExpMatch patterns) agrees with the index on ${pacHostTargets - pacMismatches} of ${pacHostTargets} host targets among the first ${pacCount.toLocaleString('en-US')}`,
  );
  if (pacMismatches > 0) {
    say(`FAIL: the generated PAC disagrees with the index on ${pacMismatches} host targets`);
    process.exit(1);
  }
  const pacRuns = Math.min(runs, 3);
  const pacRate = await measureAsync(pacRuns, pacCount, async () => {
    let sum = 0;
    for (let i = 0; i < pacCount; i++) {
      const { url, host } = pacSubset[i] as { url: string; host: string };
      sum += (await resolver.resolve(url, host)).length;
    }
    return sum;
  });
  resolver.dispose();

  // ---- Table ---------------------------------------------------------------------------------
  say();
  say(
    `## Decisions per second (median of ${runs} runs; naive scan: ${scanRuns}; PAC: ${pacRuns} runs on the first ${pacCount.toLocaleString('en-US')} targets)`,
  );
  say();
  const row = (name: string, measurement: Measurement, note: string): string[] => [
    name,
    measurement.operations.toLocaleString('en-US'),
    formatRate(measurement.rate),
    (1e9 / measurement.rate).toFixed(0),
    formatRate(measurement.cpuRate),
    formatRatio(measurement.rate / pacRate.rate),
    formatRatio(measurement.rate / scan.rate),
    note,
  ];
  say(
    formatTable(
      [
        'contender',
        'targets',
        'decisions/s',
        'ns/decision',
        'decisions/CPU-s',
        'vs (c) PAC',
        'vs (b) naive',
        'what is timed',
      ],
      [
        row('(a) index: policy.decide(text)', index, 'parse + canonicalize + lookup + Decision'),
        row('(a) index: decideTarget(parsed)', indexParsed, 'lookup + Decision (targets pre-parsed)'),
        row('(a) index: decideHost(canonical)', indexHosts, 'host targets only, names pre-canonicalized'),
        row('(b) naive linear scan', scan, 'parse + canonicalize + scan of every pattern'),
        row('(c) pac-resolver + quickjs-wasi', pacRate, 'FindProxyForURL(url, host), awaited'),
      ],
    ),
  );
  say();
  say(
    'decisions/s and ns/decision: median wall-clock rate; decisions/CPU-s: median rate per CPU second of this process; ratios: wall-clock rates of the same run.',
  );
  const runList = (measurement: Measurement) => measurement.rates.map(formatRate).join(' ');
  say(`runs      (a) ${runList(index)}; (b) ${runList(scan)}; (c) ${runList(pacRate)}`);
  return { index, pacRate };
}

const contenders = flags['only-explain'] ? undefined : await decideContenders();

// ---- explain - throughput -----------------------------------------------------------------
let explainRate: number | undefined;
let explainCpuRate: number | undefined;
if (!flags['no-explain']) {
  const dir = mkdtempSync(join(tmpdir(), 'pathwarden-bench-'));
  try {
    const file = join(dir, 'hosts.txt');
    const lines: string[] = [];
    for (let i = 0; i < explainLines; i++) lines.push(targets[i % targets.length] as string);
    writeFileSync(file, `${lines.join('\n')}\n`);
    // Real host lists repeat names; this one repeats some too (catalog hosts are drawn from a few
    // hundred names): printed so that a cache of recent lines could not pass for a faster decide.
    const distinctLines = new Set(lines).size;
    const steadyFile = join(dir, 'hosts-3x.txt');
    if (flags['explain-steady']) writeFileSync(steadyFile, `${lines.join('\n')}\n`.repeat(3));
    lines.length = 0;
    const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
    const explainArgs = [main, 'explain', '-'];
    // First run counts the output (every line must yield one NDJSON line) and warms the disk cache.
    const checked = await runProcess(process.execPath, explainArgs, file, 'count');
    if (checked.exitCode !== 0 || checked.stdoutLines !== explainLines) {
      say(
        `FAIL: explain - exited with ${checked.exitCode} and wrote ${checked.stdoutLines} lines for ${explainLines} (${checked.stderr.trim()})`,
      );
      process.exit(1);
    }
    const explainRuns = Math.min(runs, 5);
    const emptyFile = join(dir, 'empty.txt');
    writeFileSync(emptyFile, '');
    // The runs with and without input (and another build's, with --before) take turns.
    const before = flags.before ? [flags.before, 'explain', '-'] : undefined;
    const [startup, explain, beforeStartup, beforeExplain] = (await timeProcesses(
      [
        { command: process.execPath, args: explainArgs, inputFile: emptyFile },
        { command: process.execPath, args: explainArgs, inputFile: file },
        ...(before
          ? [
              { command: process.execPath, args: before, inputFile: emptyFile },
              { command: process.execPath, args: before, inputFile: file },
            ]
          : []),
      ],
      explainRuns,
    )) as [ProcessTiming, ProcessTiming, ProcessTiming | undefined, ProcessTiming | undefined];
    const floor = await timeProcess(
      process.execPath,
      ['--input-type=module', '-e', readlineFloorScript],
      file,
      explainRuns,
    );
    const wc = await timeProcess('wc', ['-l'], file, explainRuns);
    const loadAfter = load();
    // The list and the list written 3 times, interleaved: lines N+1..3N run with the JIT warm and
    // the prefix table built, which the first N lines pay for.
    const steady = flags['explain-steady']
      ? ((await timeProcesses(
          [
            { command: process.execPath, args: explainArgs, inputFile: file },
            { command: process.execPath, args: explainArgs, inputFile: steadyFile },
          ],
          explainRuns,
        )) as [ProcessTiming, ProcessTiming])
      : undefined;
    // Per block of lines, where the time of a run goes: the warm-up is in the first blocks.
    const timeline = flags['explain-timeline']
      ? await timelineTable(
          [
            { name: 'this build', script: main },
            ...(flags.before ? [{ name: 'before', script: flags.before }] : []),
          ],
          file,
          explainRuns,
        )
      : undefined;
    explainRate = explainLines / (explain.seconds - startup.seconds);
    explainCpuRate =
      explain.cpuSeconds === undefined || startup.cpuSeconds === undefined
        ? undefined
        : explainLines / (explain.cpuSeconds - startup.cpuSeconds);
    const line = (name: string, timing: ProcessTiming, versus: string, lines = explainLines): string[] => [
      name,
      timing.seconds.toFixed(2),
      formatRate(lines / timing.seconds),
      timing.cpuSeconds === undefined ? '-' : timing.cpuSeconds.toFixed(2),
      timing.cpuSeconds === undefined || timing.cpuSeconds === 0
        ? '-'
        : formatRate(lines / timing.cpuSeconds),
      versus,
    ];
    const minus = (run: ProcessTiming, empty: ProcessTiming): ProcessTiming => ({
      seconds: run.seconds - empty.seconds,
      cpuSeconds:
        run.cpuSeconds === undefined || empty.cpuSeconds === undefined
          ? undefined
          : run.cpuSeconds - empty.cpuSeconds,
    });
    const minusStartup = minus(explain, startup);
    say();
    say(
      `## explain - on a ${explainLines.toLocaleString('en-US')}-line host list (median of ${explainRuns} runs, spawn to exit, stdout to /dev/null)`,
    );
    say();
    say(
      formatTable(
        ['command', 'wall s', 'lines/s', 'CPU s', 'lines/CPU-s', 'explain - is'],
        [
          line('pathwarden explain -', explain, '1x'),
          line('  the same, minus startup', minusStartup, '-'),
          ...(beforeExplain && beforeStartup
            ? [
                line(
                  'before: explain -',
                  beforeExplain,
                  `${formatRatio(beforeExplain.seconds / explain.seconds)} slower`,
                ),
                line(
                  '  the same, minus startup',
                  minus(beforeExplain, beforeStartup),
                  `${formatRatio(minus(beforeExplain, beforeStartup).seconds / minusStartup.seconds)} slower`,
                ),
              ]
            : []),
          ...(steady
            ? [
                line(
                  'explain -, lines N+1..3N of the list x3',
                  minus(steady[1], steady[0]),
                  'steady state',
                  2 * explainLines,
                ),
              ]
            : []),
          line('node readline floor', floor, `${formatRatio(explain.seconds / floor.seconds)} slower`),
          line('wc -l', wc, `${formatRatio(explain.seconds / wc.seconds)} slower`),
        ],
      ),
    );
    say();
    say(
      `startup   explain - on empty stdin: ${(startup.seconds * 1000).toFixed(0)} ms wall (catalog load and compile); output ${((checked.stdoutBytes ?? 0) / 1e6).toFixed(0)} MB NDJSON, ${((checked.stdoutBytes ?? 0) / explainLines).toFixed(0)} bytes/line`,
    );
    if (timeline) {
      say();
      say(
        `## explain - per block of lines (median of ${explainRuns} runs of each build with bench/lib/explain-timeline.ts preloaded)`,
      );
      say();
      say(timeline);
    }
    say(
      `input     ${distinctLines.toLocaleString('en-US')} distinct lines of ${explainLines.toLocaleString('en-US')} (${((100 * distinctLines) / explainLines).toFixed(1)}%); load ${loadAfter} after these runs`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `explain -` of each build run `runs` times, interleaved, under the timeline preload; per block of
 * lines the median wall, main-thread CPU and process CPU milliseconds, and the main thread's
 * nanoseconds per line. The row before the blocks is the start-up (process start to the first
 * stdin chunk).
 */
async function timelineTable(
  builds: readonly { name: string; script: string }[],
  file: string,
  runs: number,
): Promise<string> {
  const boundaries = [10_000, 20_000, 50_000, 100_000, 200_000, 300_000, 600_000, 900_000].filter(
    (boundary) => boundary < explainLines,
  );
  boundaries.push(explainLines);
  const marksOf = builds.map((): TimelineMark[][] => []);
  for (let run = 0; run < runs; run++) {
    for (const [i, build] of builds.entries()) marksOf[i]?.push(await explainTimeline(build.script, file));
  }
  const blocksOf = marksOf.map((runsOfBuild) =>
    runsOfBuild.map((marks) => timelineBlocks(marks, boundaries)),
  );
  const starts = marksOf.map((runsOfBuild) => runsOfBuild.map((marks) => marks[0]));
  const rows: string[][] = [];
  const cells = (wall: number[], main: number[], proc: number[], lines: number) => [
    median(wall).toFixed(1),
    median(main).toFixed(1),
    median(proc).toFixed(1),
    lines > 0 ? ((median(main) * 1e6) / lines).toFixed(0) : '-',
  ];
  rows.push([
    'start-up (to the first chunk)',
    ...starts.flatMap((marks) =>
      cells(
        marks.map((mark) => mark?.[1] ?? Number.NaN),
        marks.map((mark) => mark?.[2] ?? Number.NaN),
        marks.map((mark) => mark?.[3] ?? Number.NaN),
        0,
      ),
    ),
  ]);
  const blockCount = Math.min(
    ...blocksOf.flatMap((runsOfBuild) => runsOfBuild.map((blocks) => blocks.length)),
  );
  for (let b = 0; b < blockCount; b++) {
    const first = blocksOf[0]?.[0]?.[b];
    if (first === undefined) continue;
    rows.push([
      `lines ${first.from.toLocaleString('en-US')}-${first.to.toLocaleString('en-US')}`,
      ...blocksOf.flatMap((runsOfBuild) => {
        const blocks = runsOfBuild.map((all) => all[b] as TimelineBlock);
        return cells(
          blocks.map((block) => block.wallMs),
          blocks.map((block) => block.mainCpuMs),
          blocks.map((block) => block.processCpuMs),
          (blocks[0] as TimelineBlock).to - (blocks[0] as TimelineBlock).from,
        );
      }),
    ]);
  }
  return formatTable(
    [
      'block',
      ...builds.flatMap(({ name }) => [
        `${name}: wall ms`,
        'main-thread CPU ms',
        'process CPU ms',
        'main ns/line',
      ]),
    ],
    rows,
  );
}

// ---- Targets ------------------------------------------------------------------------------
say();
say('## Targets');
say();
say(`load      ${load()} (1, 5, 15 min) at the end of the run`);
const goal = (ok: boolean) => (ok ? 'met ' : 'MISS');
const cpuNote = (rate: number | undefined) =>
  rate === undefined ? '' : `; per CPU second ${formatRate(rate)}`;
if (contenders) {
  const { index, pacRate } = contenders;
  say(
    `${goal(index.rate >= GOAL_INDEX_RATE)}  (a) >= ${formatRate(GOAL_INDEX_RATE)} decisions/s on one core: ${formatRate(index.rate)} (median of ${index.rates.length} runs, ${formatRate(Math.min(...index.rates))}-${formatRate(Math.max(...index.rates))})${cpuNote(index.cpuRate)}`,
  );
  say(
    `${goal(index.rate / pacRate.rate >= GOAL_INDEX_VS_PAC)}  (a) >= ${GOAL_INDEX_VS_PAC}x (c): ${formatRatio(index.rate / pacRate.rate)}; per CPU second ${formatRatio(index.cpuRate / pacRate.cpuRate)}`,
  );
}
if (explainRate !== undefined) {
  say(
    `${goal(explainRate >= GOAL_EXPLAIN_RATE)}  explain - >= ${formatRate(GOAL_EXPLAIN_RATE)} lines/s after start-up: ${formatRate(explainRate)}${cpuNote(explainCpuRate)}`,
  );
}
