// The gateway log's blocks: every line reaches the destination byte for byte and in order, in
// blocks of LOG_BLOCK_BYTES, within LOG_FLUSH_MS, on flush and at exit; bytes handed over are never
// overwritten afterwards (the destination may still hold them while an earlier write is in flight).
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { packageRoot } from '../catalog/load.js';
import { emptyFlow } from '../flow/record.js';
import { RecordJson } from '../flow/record-json.js';
import { needPeers } from '../testing/peers.js';
import {
  createGatewayLogger,
  isoTimeNow,
  LOG_BLOCK_BYTES,
  LOG_FLUSH_MS,
  LogBlocks,
  logFlow,
} from './logger.js';

/** Keeps every buffer it is given, as sonic-boom does while a write is in flight. */
class HoldingSink {
  readonly held: (Buffer | string)[] = [];
  write(data: Buffer | string): boolean {
    this.held.push(data);
    return true;
  }
  flush(callback?: (error?: Error) => void): void {
    callback?.();
  }
  flushSync(): void {}
  text(): string {
    return this.held.map((part) => part.toString()).join('');
  }
}

/**
 * Writes what it is given later, as sonic-boom does: `complete(n)` reads the next n bytes of what
 * it holds (reading them only then, as a write system call would) and emits `write` with n.
 */
class WritingSink extends EventEmitter {
  readonly queue: Buffer[] = [];
  readonly out: Buffer[] = [];
  readonly seen = new Set<ArrayBufferLike>();
  write(data: Buffer): boolean {
    this.queue.push(data);
    this.seen.add(data.buffer);
    return true;
  }
  complete(bytes: number): void {
    let left = bytes;
    let done = 0;
    while (left > 0 && this.queue.length > 0) {
      const first = this.queue[0] as Buffer;
      const take = Math.min(left, first.length);
      this.out.push(Buffer.from(first.subarray(0, take)));
      if (take === first.length) this.queue.shift();
      else this.queue[0] = first.subarray(take);
      left -= take;
      done += take;
    }
    if (done > 0) this.emit('write', done);
  }
  pending(): number {
    return this.queue.reduce((sum, part) => sum + part.length, 0);
  }
  flush(callback?: (error?: Error) => void): void {
    callback?.();
  }
  flushSync(): void {}
}

const opened: LogBlocks[] = [];
function blocks(sink: HoldingSink | WritingSink): LogBlocks {
  const made = new LogBlocks(2, sink);
  opened.push(made);
  return made;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pw-logger-'));
});
afterEach(() => {
  for (const made of opened.splice(0)) made.end();
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe('LogBlocks', () => {
  test('every line arrives as written, in order, across blocks, with non-ASCII and an oversized line', () => {
    const sink = new HoldingSink();
    const log = blocks(sink);
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      lines.push(`{"n":${i},"reason":"seed § SaaS → ${'é😀'.repeat(i % 50)} ${'x'.repeat(i % 700)}"}\n`);
    }
    lines.splice(1500, 0, `{"big":"${'§'.repeat(200_000)}"}\n`);
    for (const line of lines) log.write(line);
    log.flush();
    expect(sink.text()).toBe(lines.join(''));
  });

  test('bytes handed over are never overwritten by later lines', () => {
    const sink = new HoldingSink();
    const log = blocks(sink);
    const expected: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const line = `{"line":${i},"pad":"${'p'.repeat(i % 900)}"}\n`;
      log.write(line);
      expected.push(line);
    }
    log.flush();
    // Decoded only now, after every later write: a reused range would show another line's bytes.
    const handed = sink.held.map((part) => part.toString('utf8'));
    expect(handed.join('')).toBe(expected.join(''));
  });

  /**
   * Writes 20,000 lines through a WritingSink that `catchUp` lets write some of what it holds after
   * each line; checks that the bytes it wrote are the lines, in order.
   */
  function throughLaggingSink(catchUp: (i: number, sink: WritingSink) => void): {
    sink: WritingSink;
    expected: string[];
  } {
    const sink = new WritingSink();
    const log = blocks(sink);
    const expected: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const line = `{"line":${i},"reason":"§ ${'r'.repeat(i % 800)}"}\n`;
      log.write(line);
      expected.push(line);
      catchUp(i, sink);
    }
    log.flush();
    sink.complete(sink.pending());
    expect(Buffer.concat(sink.out).toString('utf8')).toBe(expected.join(''));
    return { sink, expected };
  }

  test('a block is filled again only once the sink has written all of it, and the bytes stay right', () => {
    const { sink, expected } = throughLaggingSink((i, lagging) => {
      // The sink lags behind by a varying amount, with partial writes; now and then it catches up.
      if (i % 97 === 0) lagging.complete(Math.floor(lagging.pending() / 3) + 1);
      if (i % 2_000 === 0) lagging.complete(lagging.pending());
    });
    // About 60 blocks' worth of lines went through far fewer blocks.
    expect(Buffer.byteLength(expected.join(''))).toBeGreaterThan(50 * 128 * 1024);
    expect(sink.seen.size).toBeLessThan(20);
  });

  test('a sink that lags by more than the kept blocks gets every line byte for byte (blocks are filled again only once written)', () => {
    throughLaggingSink((i, lagging) => {
      // 1,500-1,600 KiB unwritten at a time: more than the four full blocks kept to be filled again.
      if (i % 37 === 0 && lagging.pending() > 1600 * 1024) lagging.complete(lagging.pending() - 1500 * 1024);
    });
  });

  test('lines are handed over in blocks of LOG_BLOCK_BYTES, not one write per line', () => {
    const sink = new HoldingSink();
    const log = blocks(sink);
    const line = `${'a'.repeat(999)}\n`;
    for (let i = 0; i < 100; i++) log.write(line);
    expect(sink.held.length).toBeGreaterThan(0);
    expect(sink.held.length).toBeLessThanOrEqual(Math.ceil((100 * line.length) / LOG_BLOCK_BYTES));
    for (const part of sink.held) expect(part.length).toBeGreaterThanOrEqual(LOG_BLOCK_BYTES);
  });

  test('a lone line is handed over within LOG_FLUSH_MS', () => {
    vi.useFakeTimers();
    const sink = new HoldingSink();
    const log = blocks(sink);
    log.write('{"msg":"lone"}\n');
    expect(sink.held).toEqual([]);
    vi.advanceTimersByTime(LOG_FLUSH_MS);
    expect(sink.text()).toBe('{"msg":"lone"}\n');
  });

  test('pino lines through LogBlocks are the lines pino writes', () => {
    const sink = new HoldingSink();
    const logger = pino({ timestamp: false, base: null }, blocks(sink));
    logger.info({ host: 'api.powerbi.com', reason: 'seed § SaaS' }, 'flow');
    logger.warn('second');
    logger.flush();
    expect(
      sink
        .text()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { level: 30, host: 'api.powerbi.com', reason: 'seed § SaaS', msg: 'flow' },
      { level: 40, msg: 'second' },
    ]);
  });
});

test('isoTimeNow is the time now as toISOString gives it, also when the millisecond changes', () => {
  vi.useFakeTimers();
  try {
    for (const at of [0, 1, 1, 999, 1000, 1_796_570_158_070, 1_796_570_158_070, 1_796_570_158_071, 5]) {
      vi.setSystemTime(at);
      expect(isoTimeNow()).toBe(new Date(at).toISOString());
    }
  } finally {
    vi.useRealTimers();
  }
});

describe('logFlow', () => {
  test("writes the line logger.info(record, 'flow') writes", async () => {
    const file = join(dir, 'gateway.log');
    const logger = createGatewayLogger({ level: 'info', file });
    const record = {
      start: 1,
      host: 'api.powerbi.com',
      sni: null,
      origin: { kind: 'gateway' },
      skipped: undefined,
      reason: 'seed § SaaS "quoted" \\ and a backslash',
      bytesUp: 75,
    };
    logger.info(record, 'flow');
    logFlow(logger, record);
    await new Promise<void>((resolve, reject) =>
      logger.flush((error) => (error ? reject(error) : resolve())),
    );
    const [byPino, direct, ...rest] = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rest).toEqual([]);
    expect(typeof direct?.time).toBe('string');
    expect(Object.keys(direct ?? {})).toEqual(Object.keys(byPino ?? {}));
    expect({ ...direct, time: 0 }).toEqual({ ...byPino, time: 0 });
  });

  test('writeFields writes the bytes of the concatenated line, across blocks and with non-ASCII', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-06T05:00:00.123Z'));
    const direct = new HoldingSink();
    const concatenated = new HoldingSink();
    const byFields = blocks(direct);
    const byLine = blocks(concatenated);
    const bindings = ',"pid":1,"hostname":"hôte"';
    for (let i = 0; i < 2000; i++) {
      const record =
        i === 700
          ? { big: '§'.repeat(150_000) }
          : i % 97 === 0
            ? {}
            : { n: i, reason: `seed § SaaS → ${'é😀'.repeat(i % 40)} ${'x'.repeat(i % 900)}`, up: null };
      const body = JSON.stringify(record);
      byFields.writeFields(bindings, body);
      const fields = body.length > 2 ? `,${body.slice(1, -1)}` : '';
      byLine.write(`{"level":30,"time":"2026-12-06T05:00:00.123Z"${bindings}${fields},"msg":"flow"}\n`);
    }
    byFields.flush();
    byLine.flush();
    expect(direct.text()).toBe(concatenated.text());
    expect(direct.text().split('\n')).toHaveLength(2001);
  });

  test('writeFields follows the time and the bindings from line to line (their bytes are kept between lines)', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const direct = new HoldingSink();
    const concatenated = new HoldingSink();
    const byFields = blocks(direct);
    const byLine = blocks(concatenated);
    const bindingsOf = [',"pid":1,"hostname":"hôte"', ',"pid":22,"hostname":"h\ud800"', ''];
    let at = Date.parse('2026-12-06T05:00:00.998Z');
    for (let i = 0; i < 600; i++) {
      // The millisecond changes every other line, and once by years (a longer ISO text).
      if (i % 2 === 0) at += 1;
      if (i === 300) at = Date.parse('+010000-01-01T00:00:00.000Z');
      vi.setSystemTime(at);
      const bindings = (i % 5 === 0 ? bindingsOf[i % 3] : bindingsOf[0]) as string;
      const body = JSON.stringify({ n: i, reason: 'seed § SaaS' });
      byFields.writeFields(bindings, body);
      byLine.write(
        `{"level":30,"time":"${new Date(at).toISOString()}"${bindings},${body.slice(1, -1)},"msg":"flow"}\n`,
      );
    }
    byFields.flush();
    byLine.flush();
    expect(direct.text()).toBe(concatenated.text());
    expect(direct.text()).toContain('"time":"+010000-01-01T00:00:00.000Z"');
  });

  test('writeRecord writes the bytes writeFields writes, for records cut in parts or not', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-06T05:00:00.123Z'));
    const byRecord = new HoldingSink();
    const byText = new HoldingSink();
    const recordBlocks = blocks(byRecord);
    const textBlocks = blocks(byText);
    const bindings = ',"pid":1,"hostname":"hôte"';
    let cut = 0;
    for (let i = 0; i < 3000; i++) {
      // The gateway's keys in its order (startFlow, applyDecision, finish), odd values here and there.
      const record: Record<string, unknown> = { ...emptyFlow({ kind: 'gateway' }) };
      record.egressPath = i % 11 === 0 ? undefined : 'expressroute';
      record.connectMs = i % 5;
      record.expectedPath = 'expressroute';
      record.verdict = i % 13 === 0 ? { nested: ',"error":1' } : 'ok';
      record.ruleId = null;
      record.reason = `rule ${i % 30} § SaaS "quoted" \\ ${'é😀\ud800'.repeat(i % 3)}${i === 900 ? 'x'.repeat(150_000) : ''}`;
      record.error = i % 17 === 0 ? ',"outcome":' : null;
      record.outcome = i % 23 === 0 ? 'forwardé 😀' : 'forwarded';
      record.host = i % 7 === 0 ? 'bücher.example' : 'api.powerbi.com';
      if (i % 19 === 0) delete record.ruleId;
      const json = new RecordJson(record as never);
      if (json.cut) cut++;
      recordBlocks.writeRecord(bindings, json);
      textBlocks.writeFields(bindings, json.text);
    }
    recordBlocks.flush();
    textBlocks.flush();
    expect(byRecord.text()).toBe(byText.text());
    expect(byRecord.text().split('\n')).toHaveLength(3001);
    expect(cut).toBeGreaterThan(2000);
    expect(cut).toBeLessThan(3000);
  });

  test('a lone surrogate is kept as an escape, not replaced', async () => {
    const file = join(dir, 'gateway.log');
    const logger = createGatewayLogger({ level: 'info', file });
    logFlow(logger, { host: 'a\ud800b' });
    await new Promise<void>((resolve, reject) =>
      logger.flush((error) => (error ? reject(error) : resolve())),
    );
    expect(JSON.parse(readFileSync(file, 'utf8')).host).toBe('a\ud800b');
  });

  test('a logger of its own (not createGatewayLogger) gets logger.info', () => {
    const sink = new HoldingSink();
    const logger = pino({ timestamp: false, base: null }, sink);
    logFlow(logger, { host: 'h' });
    expect(JSON.parse(sink.text())).toEqual({ level: 30, host: 'h', msg: 'flow' });
  });
});

/** Runs a child that logs 25 lines through the built gateway logger, then ends as `ending` says. */
async function logThenEnd(file: string, ending: string): Promise<number[]> {
  const module = join(packageRoot(), 'dist', 'src', 'gateway', 'logger.js');
  const script = [
    `const { createGatewayLogger } = await import(${JSON.stringify(module)});`,
    `const logger = createGatewayLogger({ level: 'info', file: ${JSON.stringify(file)} });`,
    'await new Promise((resolve) => setTimeout(resolve, 100));',
    'for (let i = 0; i < 25; i++) logger.info({ i }, "flow");',
    ending,
  ].join('\n');
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]).catch(
    (error: { code?: unknown }) => {
      if (typeof error.code !== 'number') throw error;
    },
  );
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { i: number }).i);
}

describe.skipIf(!needPeers('build'))('the gateway log at exit', () => {
  const all = Array.from({ length: 25 }, (_, i) => i);

  test('lines still in the block are in the file after process.exit()', async () => {
    expect(await logThenEnd(join(dir, 'gateway.log'), 'process.exit(0);')).toEqual(all);
  });

  test('lines still in the block are in the file, once, when the event loop empties', async () => {
    expect(await logThenEnd(join(dir, 'gateway.log'), '')).toEqual(all);
  });

  test('lines still in the block are in the file, once, after an uncaught exception', async () => {
    expect(await logThenEnd(join(dir, 'gateway.log'), 'throw new Error("boom");')).toEqual(all);
  });

  test('a block being written when the process crashes is still written, once (after the lines written at exit)', async () => {
    const file = join(dir, 'gateway.log');
    const module = join(packageRoot(), 'dist', 'src', 'gateway', 'logger.js');
    // The thread pool is kept busy, so a block handed over just before the crash is still queued.
    const script = [
      "const { pbkdf2 } = await import('node:crypto');",
      `const { createGatewayLogger } = await import(${JSON.stringify(module)});`,
      `const logger = createGatewayLogger({ level: 'info', file: ${JSON.stringify(file)} });`,
      'await new Promise((resolve) => setTimeout(resolve, 100));',
      "for (let i = 0; i < 4; i++) pbkdf2('x', 'y', 50000, 32, 'sha512', () => {});",
      "for (let i = 0; i < 500; i++) logger.info({ i, pad: 'p'.repeat(100) }, 'flow');",
      'throw new Error("boom");',
    ].join('\n');
    await expect(
      promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]),
    ).rejects.toMatchObject({ code: 1 });
    const numbers = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { i: number }).i);
    // Every line once; the order is not promised here (docs/gateway.md).
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });
});
