// `pathwarden explain`: which path does this URL / host / IP take, and why.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import type { Component } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import type { Decision, Policy } from '../policy/policy.js';
import { decisionToJson, writeDecisionLine } from '../policy/serialize.js';
import { parseTarget } from '../policy/target.js';
import type { ActualPath } from '../policy/verdict.js';
import { type CliIo, write } from './io.js';
import {
  type CatalogOptions,
  catalogOption,
  componentOption,
  loadProfileFromOptions,
  noBuiltinOption,
  parseComponent,
  profileOption,
} from './options.js';
import { compilePolicy } from './policy-cache.js';

interface ExplainOptions extends CatalogOptions {
  component?: string;
  json?: boolean;
  actualPath?: ActualPath;
  port?: number;
}

export function explainCommand(io: CliIo, setExit: (code: number) => void): Command {
  return new Command('explain')
    .description('which path a URL, host name or IP address must take (ExpressRoute or Internet), and why')
    .argument(
      '<targets...>',
      'URLs, host names, host:port or IP addresses; "-" reads one per line from stdin (NDJSON out)',
    )
    .addOption(componentOption('Power BI component (default: saas)'))
    .option('--json', 'one JSON object per target (an array when there are several)')
    .addOption(
      new Option('--actual-path <path>', 'the path the traffic actually took, to get a verdict').choices([
        'expressroute',
        'internet',
      ]),
    )
    .addOption(
      new Option('--port <port>', 'destination port (narrows rules that list ports)').argParser(
        parsePortOption,
      ),
    )
    .addOption(catalogOption())
    .addOption(noBuiltinOption())
    .addOption(profileOption())
    .addHelpText(
      'after',
      `
Examples:
  pathwarden explain maxcdn.bootstrapcdn.com
  pathwarden explain --json https://app.powerbi.com/groups/me
  pathwarden explain --component mobile app.powerbi.com
  cut -d' ' -f3 hosts.txt | pathwarden explain - > decisions.ndjson`,
    )
    .action(async (targets: string[], options: ExplainOptions) => {
      const policy = compilePolicy((await loadProfileFromOptions(options)).catalog);
      const component = parseComponent(options.component, 'saas');
      const decideOptions = {
        component,
        actualPath: options.actualPath ?? 'unknown',
        port: options.port,
      } as const;
      if (targets.length === 1 && targets[0] === '-') {
        setExit(await explainStream(io, policy, decideOptions));
        return;
      }
      if (targets.includes('-'))
        throw new PathwardenError('PW_ERR_USAGE', '"-" (stdin) cannot be mixed with other targets');
      const decisions: Decision[] = [];
      let failed = 0;
      for (const text of targets) {
        const target = parseTarget(text);
        if (typeof target === 'string') {
          failed++;
          await write(io.stderr, `pathwarden: ${target}\n`);
          continue;
        }
        decisions.push(policy.decideTarget(target, decideOptions));
      }
      if (options.json) {
        const body =
          targets.length === 1
            ? decisions.map(decisionToJson).join('')
            : `[\n${decisions.map((decision) => `  ${decisionToJson(decision)}`).join(',\n')}\n]`;
        if (decisions.length > 0 || targets.length > 1) await write(io.stdout, `${body}\n`);
      } else {
        await write(
          io.stdout,
          decisions.map((decision) => formatDecision(decision, policy, component)).join('\n'),
        );
      }
      if (failed > 0) setExit(2);
    });
}

function parsePortOption(value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port < 1 || port > 65535) {
    throw new PathwardenError('PW_ERR_USAGE', `--port "${value}" is not a port number (1-65535)`);
  }
  return port;
}

/**
 * Output batch size. Larger batches were slower (measured: 64 KiB 290 ns per line in the serializer,
 * 1 MiB 340 ns): a batch that stays in the CPU cache is filled faster.
 */
const OUTPUT_BATCH_BYTES = 1 << 16;

/**
 * Output batches, reused: a batch goes back to the pool when the stream is done with it (its write
 * callback), so a long run allocates a few dozen batches instead of one per 64 KiB of output.
 */
class BatchPool {
  readonly #free: Buffer[] = [];

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafe(OUTPUT_BATCH_BYTES);
  }

  /** Writes `batch[0..used)`; the batch returns to the pool once written. Waits for 'drain'. */
  async write(stream: Writable, batch: Buffer, used: number): Promise<void> {
    // A line too long for a batch is written from a buffer of its own, which is not kept.
    const done = batch.length === OUTPUT_BATCH_BYTES ? () => this.#free.push(batch) : undefined;
    if (!stream.write(batch.subarray(0, used), done)) await once(stream, 'drain');
  }
}

/**
 * Streams stdin lines to NDJSON; bad lines are reported on stderr with their line number. Lines
 * come from the ingest formats' line reader (one await per input chunk, not one promise per line
 * as with readline); each chunk's lines are decided synchronously into byte batches, which are
 * written, with the chunk's problems, before the next chunk is read.
 */
async function explainStream(
  io: CliIo,
  policy: Policy,
  options: { component: Component; actualPath: ActualPath; port: number | undefined },
): Promise<number> {
  const { readLines } = await import('../ingest/line-reader.js');
  const { DnsAnswers } = await import('../ingest/dns-answers.js');
  let lastLine = 0;
  /** Newlines in the input, told by the line reader at the end (trailing blank lines count). */
  let newlines = 0;
  let bad = 0;
  let problems = '';
  // Output is gathered as bytes: most of a line is the same rule and reason text as thousands of
  // lines before it, and writeDecisionLine copies those bytes instead of encoding them again.
  const pool = new BatchPool();
  let out = pool.take();
  let used = 0;
  /** Batches filled while deciding the current input chunk, with their lengths. */
  const full: Buffer[] = [];
  const fullUsed: number[] = [];
  const ctx = {
    file: 'stdin',
    dns: new DnsAnswers(),
    problem(line: number, message: string) {
      bad++;
      lastLine = Math.max(lastLine, line);
      problems += `stdin:${line}: ${message}\n`;
    },
    linesRead(lines: number) {
      newlines = lines;
    },
  };
  const onLine = (line: string, lineNumber: number) => {
    lastLine = lineNumber;
    const text = line.trim();
    if (text === '' || text.charCodeAt(0) === 0x23) return; // blank, or a `#` comment
    const decision = policy.decideText(text, options);
    if (typeof decision === 'string') {
      bad++;
      problems += `stdin:${lineNumber}: ${escapeControls(decision)}\n`;
      return;
    }
    let end = writeDecisionLine(decision, out, used);
    if (end < 0) {
      // The batch is full: it is written after this chunk, and reused only once written.
      if (used > 0) {
        full.push(out);
        fullUsed.push(used);
        out = pool.take();
      }
      used = 0;
      end = writeDecisionLine(decision, out, 0);
      if (end < 0) {
        // A line longer than a batch (a very long URL): written on its own.
        const line = Buffer.from(`${decisionToJson(decision)}\n`);
        full.push(line);
        fullUsed.push(line.length);
        return;
      }
    }
    used = end;
  };
  const writeFull = async () => {
    for (let i = 0; i < full.length; i++) {
      await pool.write(io.stdout, full[i] as Buffer, fullUsed[i] as number);
    }
    full.length = 0;
    fullUsed.length = 0;
  };
  for await (const _ of readLines(io.stdin, ctx, onLine)) {
    // Problems of this chunk first: they name lines that come before the batch's last one.
    if (problems !== '') {
      await write(io.stderr, problems);
      problems = '';
    }
    await writeFull();
  }
  if (problems !== '') await write(io.stderr, problems);
  await writeFull();
  if (used > 0) await pool.write(io.stdout, out, used);
  if (bad > 0) {
    // Every line read counts, blank ones after the last target too (as `wc -l`, plus a last line
    // without a newline).
    const lines = Math.max(lastLine, newlines);
    await write(io.stderr, `pathwarden: ${bad} of ${lines} lines were not valid targets (skipped)\n`);
    return 2;
  }
  return 0;
}

/**
 * A problem message with the control characters of the quoted input written as escapes: a lone
 * `\r` (not a line break here) or an escape sequence must not rewrite the user's terminal.
 */
function escapeControls(message: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
  return message.replace(/[\u0000-\u001f\u007f]/g, (char) => {
    if (char === '\r') return '\\r';
    if (char === '\t') return '\\t';
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

const pathLabels: Record<Decision['path'], string> = {
  expressroute: 'expressroute (must ride the circuit)',
  internet: 'internet (documented exception)',
  either: 'either (documented on both paths, or the destination decides)',
  unknown: 'unknown (no rule matches)',
  'not-covered': 'not-covered (component outside the catalog source)',
};

export function formatDecision(decision: Decision, policy: Policy, component: Component): string {
  const lines = [`${decision.input}${decision.input === decision.host ? '' : `  (host ${decision.host})`}`];
  const field = (name: string, value: string) => lines.push(`  ${name.padEnd(10)}${value}`);
  field('profile', decision.profile);
  field('component', decision.component);
  field('path', pathLabels[decision.path]);
  field(
    'verdict',
    `${decision.verdict}${decision.actualPath === 'unknown' ? ' (actual path not given)' : ` (took ${decision.actualPath})`}`,
  );
  if (decision.rule) {
    field(
      'rule',
      `${decision.rule.id}: ${decision.rule.activity}${decision.rule.matched ? ` [${decision.rule.matched}]` : ''}`,
    );
    field('source', decision.rule.source);
    if (decision.rule.note) field('note', decision.rule.note);
  } else {
    field('rule', 'none');
  }
  field('reason', decision.reason);
  if (decision.path === 'unknown') {
    const open = policy.rulesWithoutDestinations(component);
    if (open.length > 0) {
      lines.push(`  rules without fixed destinations for ${component}:`);
      for (const rule of open) lines.push(`    ${rule.id.padEnd(28)}${rule.path.padEnd(13)}${rule.activity}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
