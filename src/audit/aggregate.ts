// Running totals of an audit, fed one classified flow at a time: flows and bytes per (rule,
// component, actual path, verdict) cell, from which the totals per verdict, path, component, rule
// and activity are derived at the end; per destination; a time series; and the evidence of every
// leak. Memory is bounded: the destination table stops growing at
// `destinations` distinct names (later names are counted in one "untracked" row) and leak
// evidence stops at `leaks` records (the total is still counted).
import { type Component, components } from '../catalog/model.js';
import type { FlowRecord } from '../flow/record.js';
import type { Decision, ExpectedPath, RuleRef } from '../policy/policy.js';
import { type Verdict, verdicts } from '../policy/verdict.js';
import { detach, detachOrNull } from '../util/detach.js';
import { type SeriesPath, type SeriesSnapshot, seriesPaths, TimeSeries } from './time-series.js';

const verdictIndex: Readonly<Record<Verdict, number>> = Object.fromEntries(
  verdicts.map((verdict, i) => [verdict, i]),
) as Record<Verdict, number>;
const pathIndex: Readonly<Record<SeriesPath, number>> = Object.fromEntries(
  seriesPaths.map((path, i) => [path, i]),
) as Record<SeriesPath, number>;
const componentIndex: Readonly<Record<Component, number>> = Object.fromEntries(
  components.map((component, i) => [component, i]),
) as Record<Component, number>;
const LEAK = verdictIndex.leak;
/**
 * Doubles per row of AuditAggregate's block: one row per (destination, verdict) that has flows,
 * flows at [0], bytes up [1], bytes down [2], first start [3], last end [4]. Most destinations
 * have flows of one verdict: a row per verdict seen costs 40 bytes where 30 doubles per
 * destination cost 240 (31 MB at 100,000 destinations with the block's doubling; docs/
 * performance.md, "Audit memory with many destinations", session 10).
 */
const ROW_DOUBLES = 5;
/** Destinations and rows the tables have room for at first (they double as they come). */
const FIRST_DESTINATIONS = 256;

/** Flows, bytes and time span of a set of flows, with flow counts per verdict. */
export class Tally {
  // Stored as 0.5 first, then 0 by the constructor: V8 gives a field the representation of its
  // first value, and a sum that outgrows a small integer (bytes do early) would otherwise change
  // it to a double mid-audit and throw away the optimized code that counts into it.
  flows = 0.5;
  bytesUp = 0.5;
  bytesDown = 0.5;
  /** Earliest start / latest end seen, epoch ms; ±Infinity while no flow carried a time. */
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;
  /** Flow counts indexed like `verdicts`. */
  readonly verdicts = new Float64Array(verdicts.length);

  constructor() {
    this.flows = 0;
    this.bytesUp = 0;
    this.bytesDown = 0;
  }

  add(verdict: number, up: number, down: number, first: number, last: number, flows = 1): void {
    this.flows += flows;
    this.bytesUp += up;
    this.bytesDown += down;
    (this.verdicts[verdict] as number) += flows;
    if (first < this.first) this.first = first;
    if (last > this.last) this.last = last;
  }

  /** Adds the flows of one cell, all of verdict `verdict`. */
  merge(cell: Cell, verdict: number): void {
    this.flows += cell.flows;
    this.bytesUp += cell.bytesUp;
    this.bytesDown += cell.bytesDown;
    (this.verdicts[verdict] as number) += cell.flows;
    if (cell.first < this.first) this.first = cell.first;
    if (cell.last > this.last) this.last = cell.last;
  }
}

/** The flows of one (rule, component, actual path, verdict) combination: what the hot path counts. */
export class Cell {
  // Doubles from the start, as in Tally.
  flows = 0.5;
  bytesUp = 0.5;
  bytesDown = 0.5;
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;

  constructor() {
    this.flows = 0;
    this.bytesUp = 0;
    this.bytesDown = 0;
  }
}

/** A rule's totals and what the report needs to describe it. */
export class RuleTally extends Tally {
  constructor(
    readonly ruleId: string | null,
    readonly activity: string | null,
    readonly expectedPath: ExpectedPath,
  ) {
    super();
  }
}

/** The cells of one rule (or of "no rule"), indexed by component, actual path and verdict. */
class RuleCells {
  readonly cells: (Cell | undefined)[] = new Array(components.length * seriesPaths.length * verdicts.length);

  constructor(
    readonly ruleId: string | null,
    readonly activity: string | null,
    readonly expectedPath: ExpectedPath,
  ) {}
}

/**
 * Each tracked destination's totals over its verdicts, indexed by destination number: flows and
 * bytes summed verdict by verdict in verdict order, the earliest first and latest last seen.
 */
export interface DestinationTotals {
  flows: Float64Array;
  bytesUp: Float64Array;
  bytesDown: Float64Array;
  first: Float64Array;
  last: Float64Array;
}

/** Totals derived from the cells once the audit is over. */
export interface AggregateTotals {
  byVerdict: Tally[];
  byPath: Tally[];
  byComponent: Map<Component, Tally>;
  byRule: Map<string, RuleTally>;
}

/** Everything a report shows about one leak. Strings are copies, not views of log lines. */
export interface LeakEvidence {
  file: string | null;
  line: number | null;
  start: number | null;
  client: string | null;
  /** The name the flow was classified by (requested host, SNI, HTTP Host or DNS name). */
  host: string;
  destination: string | null;
  port: number | null;
  upstream: string | null;
  sourceAddress: string | null;
  actualPathEvidence: string | null;
  ruleId: string | null;
  activity: string | null;
  component: Component;
  bytesUp: number | null;
  bytesDown: number | null;
}

/**
 * Where `AuditAggregate.add()` counted a flow: its verdict and actual path (indexes), component,
 * cell and destination tally (undefined: the untracked row). Every flow with the same decision,
 * component and actual path is counted in the same slot.
 */
export interface CountSlot {
  readonly verdict: number;
  readonly path: number;
  readonly component: Component;
  readonly cell: Cell;
  /** The destination's number in the aggregate (`destinationName()`); -1: the untracked row. */
  readonly destination: number;
  /** The row of the destination's counts for this verdict in the aggregate's block; -1: untracked. */
  readonly row: number;
}

/** AuditAggregate.snapshot(): the counts of (part of) an audit as plain, cloneable data. */
export interface AggregateSnapshot {
  flows: number;
  leakTotal: number;
  undated: number;
  first: number;
  last: number;
  rules: {
    key: string;
    ruleId: string | null;
    activity: string | null;
    expectedPath: ExpectedPath;
    cells: (readonly [number, Omit<Cell, never>])[];
  }[];
  /**
   * The tracked destinations in `destinationOrder()`, as flat arrays (a few objects to clone
   * whatever their number; an object and a typed array per destination cost a worker and this
   * thread ~450 bytes each at 100,000 destinations): `names[k]`, the k-th one's name; its row of
   * verdict v plus one at `rowOf[k * 6 + v]` (0: none), a row's counts at `rows[r * 5 ...]`
   * (flows, bytes up, bytes down, first, last) and its rule at `rules[ruleOfRow[r]]`.
   */
  destinations: {
    names: string[];
    rowOf: Int32Array;
    rows: Float64Array;
    ruleOfRow: Int32Array;
    rules: (string | null)[];
  };
  untracked: {
    flows: number;
    bytesUp: number;
    bytesDown: number;
    first: number;
    last: number;
    verdicts: Float64Array;
  };
  series: SeriesSnapshot;
  leaks: LeakEvidence[];
}

export interface AggregateLimits {
  /** Distinct destinations tracked one by one (default 100,000). */
  destinations?: number;
  /** Leak evidence records kept (default 1,000); the total is always counted. */
  leaks?: number;
  /** Internal time buckets before widening them (default 4,096). */
  timeBuckets?: number;
}

export class AuditAggregate {
  readonly #rules = new Map<string, RuleCells>();
  // Destination names to their numbers (0, 1, ... in the order they came). A prototype-less object
  // rather than a Map: destination names are fresh slices of log lines, and V8 looks such keys up
  // in an object several times faster than in a Map (measured ~10 ns against ~70 ns per lookup),
  // which matters at a million flows a second.
  readonly #destinations: Record<string, number | undefined> = Object.create(null);
  /** Each destination's name, by number. */
  readonly #names: string[] = [];
  /**
   * The destinations in the order the report used to list them (`Object.values` of a table keyed
   * by their names): `#indexed` (names that are array indexes, which an object lists first, in
   * numeric order) and `#named` (the others, in insertion order).
   */
  readonly #named: number[] = [];
  readonly #indexed: number[] = [];
  /**
   * The counts of each (destination, verdict) that has flows, ROW_DOUBLES from its row's number
   * times that. A placeholder first, replaced in the constructor: stored twice, V8 does not
   * compile it into the counting code as a constant, so growing it does not throw that code away.
   */
  #cells = new Float64Array(0);
  /** Rows in use in `#cells`. */
  #rows = 0;
  /** Each destination's row for each verdict plus one (0: none), at its number times 6 plus the verdict. */
  #rowOf = new Int32Array(0);
  /** Rule of each row's first flow (the destination's first flow of that verdict), by row. */
  readonly #ruleOf: (string | null)[] = [];
  /** Rules matched by an exact host pattern to their one destination's number; -1: not exact. */
  readonly #byExactRef = new Map<RuleRef, number>();
  /** Flows to destinations that arrived after the destination table was full. */
  readonly untracked = new Tally();
  readonly series: TimeSeries;
  readonly leaks: LeakEvidence[] = [];
  readonly destinationLimit: number;
  readonly leakLimit: number;
  flows = 0;
  leakTotal = 0;
  /** Flows without a start or end time (counted everywhere except the time series). */
  undated = 0;
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;
  // The rule of the previous flow: logs repeat the same few rules, so one string compare usually
  // replaces the map lookup.
  #lastRuleKey: string | undefined;
  #lastRule: RuleCells | undefined;

  constructor(
    readonly defaultComponent: Component,
    limits: AggregateLimits = {},
  ) {
    this.destinationLimit = limits.destinations ?? 100_000;
    this.leakLimit = limits.leaks ?? 1000;
    this.series = new TimeSeries(limits.timeBuckets ?? 4096);
    this.#cells = new Float64Array(FIRST_DESTINATIONS * ROW_DOUBLES);
    this.#rowOf = new Int32Array(FIRST_DESTINATIONS * verdicts.length);
  }

  /**
   * Adds one flow that classifyFlow() has just classified with `decision`. The hot path of an audit:
   * one cell (rule x component x path x verdict), one destination, one time bucket; every other
   * total is derived from the cells at the end (`totals()`). Returns where the flow was counted:
   * a later flow with the same decision and actual path can be counted there with `count()`.
   */
  add(flow: FlowRecord, decision: Decision): CountSlot {
    const slot = this.#slotFor(flow, decision);
    this.count(slot, flow.bytesUp ?? 0, flow.bytesDown ?? 0, flow.start, flow.end);
    if (slot.verdict === LEAK) this.#recordLeak(flow, decision, slot.component);
    return slot;
  }

  /**
   * Counts one more flow in `slot` (from an earlier `add()` of a flow with the same decision,
   * component and actual path) without its record. Leak evidence is not recorded here: while the
   * evidence list has room (`leakEvidenceFull` false), leaks go through `add()`.
   */
  count(slot: CountSlot, up: number, down: number, start: number | null, end: number | null): void {
    const first = start ?? end ?? Number.POSITIVE_INFINITY;
    const last = end ?? start ?? Number.NEGATIVE_INFINITY;
    this.countTime(slot.path, slot.verdict, up + down, start ?? end ?? Number.NaN, first, last);
    this.addToSlot(slot, 1, up, down, first, last);
  }

  /**
   * The part of count() that is not the slot's: the flow total, the time range and the time series
   * (`time` NaN: undated). With addToSlot() for the slot's part, a counter can sum its flows per
   * slot and add them later (AuditCounter), as long as it adds them before anything reads the counts.
   */
  countTime(path: number, verdict: number, bytes: number, time: number, first: number, last: number): void {
    this.flows++;
    if (first < this.first) this.first = first;
    if (last > this.last) this.last = last;
    if (Number.isNaN(time)) this.undated++;
    else this.series.add(time, path, verdict, bytes);
  }

  /**
   * countTime() for `flows` flows of one path and verdict at once, whose times (`time` the first
   * one's) fall into one bucket of the time series (TimeSeries.addRun), `first` and `last` the
   * smallest and largest of theirs.
   */
  countRun(
    path: number,
    verdict: number,
    flows: number,
    bytes: number,
    time: number,
    first: number,
    last: number,
  ): void {
    this.flows += flows;
    if (first < this.first) this.first = first;
    if (last > this.last) this.last = last;
    if (Number.isNaN(time)) this.undated += flows;
    else this.series.addRun(time, path, verdict, flows, bytes);
  }

  /** The slot's part of count() for `flows` flows at once: its cell, destination and leak total. */
  addToSlot(slot: CountSlot, flows: number, up: number, down: number, first: number, last: number): void {
    this.addToCell(slot.verdict, slot.cell, slot.row, flows, up, down, first, last);
  }

  /**
   * addToSlot() from a slot's parts (`row` its row, -1: untracked), for a counter that keeps them
   * rather than the slot object (AuditCounter: ~110,000 keys would keep as many objects).
   */
  addToCell(
    verdict: number,
    cell: Cell,
    row: number,
    flows: number,
    up: number,
    down: number,
    first: number,
    last: number,
  ): void {
    cell.flows += flows;
    cell.bytesUp += up;
    cell.bytesDown += down;
    if (first < cell.first) cell.first = first;
    if (last > cell.last) cell.last = last;
    if (row < 0) {
      this.untracked.add(verdict, up, down, first, last, flows);
    } else {
      const cellsOf = this.#cells;
      const at = row * ROW_DOUBLES;
      (cellsOf[at] as number) += flows;
      (cellsOf[at + 1] as number) += up;
      (cellsOf[at + 2] as number) += down;
      if (first < (cellsOf[at + 3] as number)) cellsOf[at + 3] = first;
      if (last > (cellsOf[at + 4] as number)) cellsOf[at + 4] = last;
    }
    if (verdict === LEAK && this.leaks.length >= this.leakLimit) this.leakTotal += flows;
  }

  /** True once no more leak evidence is kept (later leaks are only counted). */
  get leakEvidenceFull(): boolean {
    return this.leaks.length >= this.leakLimit;
  }

  #slotFor(flow: FlowRecord, decision: Decision): CountSlot {
    const verdict = verdictIndex[decision.verdict];
    const path = pathIndex[flow.actualPath];
    const rule = decision.rule;
    const ruleKey = rule === null ? '' : rule.id;
    let cells = this.#lastRule;
    if (ruleKey !== this.#lastRuleKey) {
      cells = this.#rules.get(ruleKey);
      if (cells === undefined) {
        cells = new RuleCells(rule === null ? null : detach(rule.id), rule?.activity ?? null, decision.path);
        this.#rules.set(cells.ruleId ?? '', cells);
      }
      this.#lastRuleKey = ruleKey;
      this.#lastRule = cells;
    }
    const component = flow.component ?? this.defaultComponent;
    const index = (componentIndex[component] * seriesPaths.length + path) * verdicts.length + verdict;
    let cell = (cells as RuleCells).cells[index];
    if (cell === undefined) {
      cell = new Cell();
      (cells as RuleCells).cells[index] = cell;
    }

    // Classified by name when it could be; a host that is not a valid name is still shown as seen.
    const name =
      decision.host !== ''
        ? decision.host
        : (flow.host ?? flow.sni ?? flow.httpHost ?? flow.destination ?? '(none)');
    // A rule reached through an exact host pattern always names the same destination: its number
    // hangs off the rule reference (identity lookup) instead of hashing the name of every flow.
    let destination = rule === null ? undefined : this.#byExactRef.get(rule);
    if (destination === undefined || destination < 0) {
      destination = this.#destinations[name];
      if (destination === undefined && this.#names.length < this.destinationLimit) {
        destination = this.#newDestination(detach(name));
      }
      if (rule !== null && destination !== undefined) this.#rememberRef(rule, decision, destination);
    }
    let row = -1;
    if (destination === undefined) destination = -1;
    else row = this.#rowFor(destination, verdict, cells?.ruleId ?? null);
    return { verdict, path, component, cell, destination, row };
  }

  /** Destination `destination`'s row for `verdict`, made with `rule` as its rule when it has none. */
  #rowFor(destination: number, verdict: number, rule: string | null): number {
    const at = destination * verdicts.length + verdict;
    const known = this.#rowOf[at] as number;
    if (known !== 0) return known - 1;
    const row = this.#rows++;
    if ((row + 1) * ROW_DOUBLES > this.#cells.length) {
      const cells = new Float64Array(this.#cells.length * 2);
      cells.set(this.#cells);
      this.#cells = cells;
    }
    this.#cells[row * ROW_DOUBLES + 3] = Number.POSITIVE_INFINITY;
    this.#cells[row * ROW_DOUBLES + 4] = Number.NEGATIVE_INFINITY;
    this.#ruleOf.push(rule);
    this.#rowOf[at] = row + 1;
    return row;
  }

  /** Everything counted so far as plain data, for a worker thread to send its part of an audit. */
  snapshot(): AggregateSnapshot {
    const plain = (cell: Cell) => ({ ...cell });
    return {
      flows: this.flows,
      leakTotal: this.leakTotal,
      undated: this.undated,
      first: this.first,
      last: this.last,
      rules: [...this.#rules].map(([key, rule]) => ({
        key,
        ruleId: rule.ruleId,
        activity: rule.activity,
        expectedPath: rule.expectedPath,
        cells: rule.cells.flatMap((cell, index) =>
          cell === undefined ? [] : [[index, plain(cell)] as const],
        ),
      })),
      destinations: this.#destinationsSnapshot(),
      untracked: { ...this.untracked, verdicts: this.untracked.verdicts },
      series: this.series.snapshot(),
      leaks: this.leaks,
    };
  }

  #destinationsSnapshot(): AggregateSnapshot['destinations'] {
    const order = this.destinationOrder();
    const rules: (string | null)[] = [];
    const ruleNumbers = new Map<string | null, number>();
    const ruleOfRow = new Int32Array(this.#rows);
    for (let row = 0; row < this.#rows; row++) {
      const rule = this.#ruleOf[row] as string | null;
      let number = ruleNumbers.get(rule);
      if (number === undefined) {
        number = rules.length;
        rules.push(rule);
        ruleNumbers.set(rule, number);
      }
      ruleOfRow[row] = number;
    }
    const rowOf = new Int32Array(order.length * verdicts.length);
    for (let k = 0; k < order.length; k++)
      rowOf.set(
        this.#rowOf.subarray(
          (order[k] as number) * verdicts.length,
          ((order[k] as number) + 1) * verdicts.length,
        ),
        k * verdicts.length,
      );
    return {
      names: order.map((index) => this.#names[index] as string),
      rowOf,
      rows: this.#cells.slice(0, this.#rows * ROW_DOUBLES),
      ruleOfRow,
      rules,
    };
  }

  /**
   * Adds the counts of a later part of the same audit (a snapshot of the flows that come after
   * every flow counted here), as if its flows had been added one by one after these: new rules and
   * destinations go after the known ones, leak evidence is appended up to the limit. Returns false,
   * having changed nothing, when that is not possible exactly: when the destination table would
   * overflow (which names are tracked would depend on the order of flows within the parts).
   */
  merge(part: AggregateSnapshot): boolean {
    let added = 0;
    for (const name of part.destinations.names) if (this.#destinations[name] === undefined) added++;
    if (
      part.untracked.flows > 0 ||
      this.untracked.flows > 0 ||
      this.#names.length + added > this.destinationLimit
    )
      return false;
    this.flows += part.flows;
    this.leakTotal += part.leakTotal;
    this.undated += part.undated;
    this.first = Math.min(this.first, part.first);
    this.last = Math.max(this.last, part.last);
    for (const rule of part.rules) {
      let cells = this.#rules.get(rule.key);
      if (cells === undefined) {
        cells = new RuleCells(rule.ruleId, rule.activity, rule.expectedPath);
        this.#rules.set(rule.key, cells);
      }
      for (const [index, from] of rule.cells) {
        let cell = cells.cells[index];
        if (cell === undefined) {
          cell = new Cell();
          cells.cells[index] = cell;
        }
        cell.flows += from.flows;
        cell.bytesUp += from.bytesUp;
        cell.bytesDown += from.bytesDown;
        cell.first = Math.min(cell.first, from.first);
        cell.last = Math.max(cell.last, from.last);
      }
    }
    this.#lastRuleKey = undefined;
    this.#lastRule = undefined;
    const { names, rowOf, rows, ruleOfRow, rules } = part.destinations;
    for (let k = 0; k < names.length; k++) {
      const name = names[k] as string;
      let index = this.#destinations[name];
      if (index === undefined) index = this.#newDestination(name);
      for (let v = 0; v < verdicts.length; v++) {
        // A part has a row (and a rule) for every verdict it counted flows of, none for the others.
        const fromRow = (rowOf[k * verdicts.length + v] as number) - 1;
        if (fromRow < 0) continue;
        const from = fromRow * ROW_DOUBLES;
        const at = this.#rowFor(index, v, rules[ruleOfRow[fromRow] as number] as string | null) * ROW_DOUBLES;
        const cells = this.#cells;
        (cells[at] as number) += rows[from] as number;
        (cells[at + 1] as number) += rows[from + 1] as number;
        (cells[at + 2] as number) += rows[from + 2] as number;
        cells[at + 3] = Math.min(cells[at + 3] as number, rows[from + 3] as number);
        cells[at + 4] = Math.max(cells[at + 4] as number, rows[from + 4] as number);
      }
    }
    this.series.merge(part.series);
    for (const leak of part.leaks) {
      if (this.leaks.length >= this.leakLimit) break;
      this.leaks.push(leak);
    }
    return true;
  }

  /** Totals per verdict, actual path, component and rule, summed from the cells. */
  totals(): AggregateTotals {
    const byVerdict = verdicts.map(() => new Tally());
    const byPath = seriesPaths.map(() => new Tally());
    const byComponent = new Map<Component, Tally>();
    const byRule = new Map<string, RuleTally>();
    for (const [key, rule] of this.#rules) {
      const ruleTally = new RuleTally(rule.ruleId, rule.activity, rule.expectedPath);
      rule.cells.forEach((cell, index) => {
        if (cell === undefined) return;
        const verdict = index % verdicts.length;
        const path = Math.floor(index / verdicts.length) % seriesPaths.length;
        const component = components[Math.floor(index / (verdicts.length * seriesPaths.length))] as Component;
        ruleTally.merge(cell, verdict);
        (byVerdict[verdict] as Tally).merge(cell, verdict);
        (byPath[path] as Tally).merge(cell, verdict);
        let componentTally = byComponent.get(component);
        if (componentTally === undefined) {
          componentTally = new Tally();
          byComponent.set(component, componentTally);
        }
        componentTally.merge(cell, verdict);
      });
      byRule.set(key, ruleTally);
    }
    return { byVerdict, byPath, byComponent, byRule };
  }

  /**
   * Every tracked destination's number, in the order `Object.values` of a table keyed by their
   * names gives: names that are array indexes first (numeric order), then the others as added. The
   * aggregate keeps no object per destination (a class with a typed array and double fields cost
   * about 10 us to construct in a fresh process, 50 ms per 5,000 destinations; docs/performance.md,
   * "Audit fixed costs, session 9"): `destination*()` read a number's name and counts. A new array
   * each call (callers sort it).
   */
  destinationOrder(): number[] {
    if (this.#indexed.length === 0) return this.#named.slice();
    const names = this.#names;
    const indexed = this.#indexed.slice().sort((a, b) => Number(names[a]) - Number(names[b]));
    return indexed.concat(this.#named);
  }

  /** The name of destination number `index`. */
  destinationName(index: number): string {
    return this.#names[index] as string;
  }

  /** Flows, bytes up and down, first start and last end of destination `index` with verdict `verdict`. */
  destinationFlows(index: number, verdict: number): number {
    const row = this.#rowOf[index * verdicts.length + verdict] as number;
    return row === 0 ? 0 : (this.#cells[(row - 1) * ROW_DOUBLES] as number);
  }

  destinationBytesUp(index: number, verdict: number): number {
    const row = this.#rowOf[index * verdicts.length + verdict] as number;
    return row === 0 ? 0 : (this.#cells[(row - 1) * ROW_DOUBLES + 1] as number);
  }

  destinationBytesDown(index: number, verdict: number): number {
    const row = this.#rowOf[index * verdicts.length + verdict] as number;
    return row === 0 ? 0 : (this.#cells[(row - 1) * ROW_DOUBLES + 2] as number);
  }

  destinationFirst(index: number, verdict: number): number {
    const row = this.#rowOf[index * verdicts.length + verdict] as number;
    return row === 0 ? Number.POSITIVE_INFINITY : (this.#cells[(row - 1) * ROW_DOUBLES + 3] as number);
  }

  destinationLast(index: number, verdict: number): number {
    const row = this.#rowOf[index * verdicts.length + verdict] as number;
    return row === 0 ? Number.NEGATIVE_INFINITY : (this.#cells[(row - 1) * ROW_DOUBLES + 4] as number);
  }

  /** The rule of destination `index`'s first flow with verdict `verdict` (undefined: none). */
  destinationRule(index: number, verdict: number): string | null | undefined {
    const row = this.#rowOf[index * verdicts.length + verdict] as number;
    return row === 0 ? undefined : this.#ruleOf[row - 1];
  }

  /** Every tracked destination's totals over its verdicts (DestinationTotals), by number. */
  destinationTotals(): DestinationTotals {
    const count = this.#names.length;
    const totals: DestinationTotals = {
      flows: new Float64Array(count),
      bytesUp: new Float64Array(count),
      bytesDown: new Float64Array(count),
      first: new Float64Array(count),
      last: new Float64Array(count),
    };
    const cells = this.#cells;
    const rowOf = this.#rowOf;
    for (let index = 0; index < count; index++) {
      let flows = 0;
      let up = 0;
      let down = 0;
      let first = Number.POSITIVE_INFINITY;
      let last = Number.NEGATIVE_INFINITY;
      // Verdict by verdict in verdict order, as before rows (a verdict without a row added 0s).
      for (let v = 0; v < verdicts.length; v++) {
        const row = rowOf[index * verdicts.length + v] as number;
        if (row === 0) continue;
        const at = (row - 1) * ROW_DOUBLES;
        flows += cells[at] as number;
        up += cells[at + 1] as number;
        down += cells[at + 2] as number;
        first = Math.min(first, cells[at + 3] as number);
        last = Math.max(last, cells[at + 4] as number);
      }
      totals.flows[index] = flows;
      totals.bytesUp[index] = up;
      totals.bytesDown[index] = down;
      totals.first[index] = first;
      totals.last[index] = last;
    }
    return totals;
  }

  #newDestination(name: string): number {
    const index = this.#names.length;
    if ((index + 1) * verdicts.length > this.#rowOf.length) {
      // Doubling, but not past the destination limit (the last doubling would waste up to half).
      const size = Math.min(
        this.#rowOf.length * 2,
        Math.max(this.destinationLimit, index + 1) * verdicts.length,
      );
      const rowOf = new Int32Array(size);
      rowOf.set(this.#rowOf);
      this.#rowOf = rowOf;
    }
    this.#names.push(name);
    this.#destinations[name] = index;
    (isArrayIndex(name) ? this.#indexed : this.#named).push(index);
    return index;
  }

  /** Distinct destinations tracked (at most `destinationLimit`). */
  get destinationCount(): number {
    return this.#names.length;
  }

  /**
   * Ties `rule` to `destination` when the rule matched by an exact host pattern (so every flow it
   * decides has that one name), or marks it as not exact. Bounded, and not-covered decisions are
   * left out: a policy that made a new reference per decision must not grow this map.
   */
  #rememberRef(rule: RuleRef, decision: Decision, destination: number): void {
    if (this.#byExactRef.has(rule) || this.#byExactRef.size >= 10_000 || decision.path === 'not-covered')
      return;
    const matched = rule.matched;
    const exact =
      matched !== null && !matched.startsWith('*') && !matched.includes('/') && matched === decision.host;
    this.#byExactRef.set(rule, exact ? destination : -1);
  }

  #recordLeak(flow: FlowRecord, decision: Decision, component: Component): void {
    if (this.leaks.length >= this.leakLimit) return; // then count() counted it
    this.leakTotal++;
    this.leaks.push({
      file: detachOrNull(flow.origin.file ?? null),
      line: flow.origin.line ?? null,
      start: flow.start,
      client: detachOrNull(flow.client),
      host: detach(decision.host !== '' ? decision.host : (flow.host ?? flow.sni ?? '(none)')),
      destination: detachOrNull(flow.destination),
      port: flow.port,
      upstream: detachOrNull(flow.upstream),
      sourceAddress: detachOrNull(flow.sourceAddress),
      actualPathEvidence: detachOrNull(flow.actualPathEvidence),
      ruleId: decision.rule?.id ?? null,
      activity: decision.rule?.activity ?? null,
      component,
      bytesUp: flow.bytesUp,
      bytesDown: flow.bytesDown,
    });
  }
}

/** True for a key that an object lists before its other keys: an array index ("0" to "4294967294"). */
export function isArrayIndex(key: string): boolean {
  if (key.length === 0 || key.length > 10) return false;
  const first = key.charCodeAt(0);
  if (first < 0x30 || first > 0x39 || (first === 0x30 && key.length > 1)) return false;
  for (let i = 1; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return Number(key) < 4_294_967_295;
}
