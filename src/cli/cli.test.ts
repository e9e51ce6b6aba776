import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { loadBuiltinCatalog, packageRoot } from '../catalog/load.js';
import type { Component } from '../catalog/model.js';
import { selectProfile } from '../catalog/profiles.js';
import { Policy } from '../policy/policy.js';
import { parseTarget } from '../policy/target.js';
import { generalJson, randomTargets } from '../policy/test-decisions.js';
import type { ActualPath } from '../policy/verdict.js';
import { Random } from '../util/random.js';
import { runCli } from './program.js';

const root = packageRoot();

/** Runs the CLI in-process; stdin is one text, or several written one after the other (separate reads). */
async function run(argv: string[], stdinText?: string | readonly string[]) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => {
    out += chunk;
  });
  stderr.on('data', (chunk) => {
    err += chunk;
  });
  if (typeof stdinText === 'string') stdin.end(stdinText);
  else if (stdinText !== undefined) {
    for (const chunk of stdinText) stdin.write(chunk);
    stdin.end();
  }
  const code = await runCli(argv, { stdin, stdout, stderr });
  return { code, out, err };
}

describe('pathwarden explain', () => {
  test('a URL with backslashes is rejected with one clear message (exit 2)', async () => {
    const { code, out, err } = await run(['explain', '--json', 'https:\\\\app.powerbi.com\\groups']);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('contains a backslash');
  });

  test('--json on one target: one object with the documented fields', async () => {
    const { code, out } = await run(['explain', '--json', 'maxcdn.bootstrapcdn.com']);
    expect(code).toBe(0);
    const decision = JSON.parse(out);
    expect(decision).toMatchObject({
      input: 'maxcdn.bootstrapcdn.com',
      host: 'maxcdn.bootstrapcdn.com',
      component: 'saas',
      path: 'internet',
      rule: { id: 'saas.landing-page', activity: 'Landing page (prior to login)' },
    });
    expect(decision.rule.source).toContain('seed § SaaS table, row "Landing page (prior to login)"');
    expect(decision.reason).toContain('documented exception');
  });

  test('--json on several targets: an array', async () => {
    const { out } = await run(['explain', '--json', 'api.powerbi.com', 'evilpowerbi.com']);
    const decisions = JSON.parse(out);
    expect(decisions.map((d: { path: string }) => d.path)).toEqual(['expressroute', 'unknown']);
    expect(decisions[1].rule).toBeNull();
  });

  test('human output explains a URL', async () => {
    const { code, out } = await run(['explain', 'https://app.powerbi.com/groups/me']);
    expect(code).toBe(0);
    expect(out).toContain('(host app.powerbi.com)');
    expect(out).toMatch(/path\s+either/);
    expect(out).toMatch(/rule\s+service\.portal/);
    expect(out).toMatch(/source\s+seed §/);
  });

  test('mobile is not covered', async () => {
    const { out } = await run(['explain', '--json', '--component', 'mobile', 'app.powerbi.com']);
    expect(JSON.parse(out)).toMatchObject({
      path: 'not-covered',
      verdict: 'not-covered',
      component: 'mobile',
    });
  });

  test('unknown destinations list the rules without fixed destinations of the component', async () => {
    const { out } = await run(['explain', '--component', 'desktop', 'data.contoso.example']);
    expect(out).toContain('rules without fixed destinations for desktop:');
    expect(out).toContain('desktop.get-data-web');
  });

  test('--actual-path gives a verdict', async () => {
    const { out } = await run(['explain', '--json', '--actual-path', 'internet', 'api.powerbi.com']);
    expect(JSON.parse(out)).toMatchObject({ verdict: 'leak', actualPath: 'internet' });
  });

  test('stdin: NDJSON out, bad lines reported with their line number, exit 2', async () => {
    const { code, out, err } = await run(
      ['explain', '-'],
      'api.powerbi.com\n\n# comment\nbad host!\n13.73.248.4\r\nAPP.POWERBI.COM.\n',
    );
    const lines = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((d) => [d.host, d.path])).toEqual([
      ['api.powerbi.com', 'expressroute'],
      ['13.73.248.4', 'expressroute'],
      ['app.powerbi.com', 'either'],
    ]);
    expect(err).toContain('stdin:4: "bad host!" is not a valid host name');
    expect(code).toBe(2);
  });

  test('stdin in many reads: lines split across reads, CRLF split between reads, batches of output', async () => {
    const targets = ['api.powerbi.com', 'unknown-name.example', '20.37.195.66', 'https://app.powerbi.com/x'];
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++)
      lines.push(i === 1234 ? 'bad host!' : (targets[i % targets.length] as string));
    const text = `${lines.join('\r\n')}\r\n`;
    // Reads of 7 bytes: every line, and many "\r\n" pairs, span two reads.
    const reads: string[] = [];
    for (let i = 0; i < text.length; i += 7) reads.push(text.slice(i, i + 7));
    const { code, out, err } = await run(['explain', '-'], reads);
    const expected = await Promise.all(
      targets.map(async (target) => (await run(['explain', '--json', target])).out.trim()),
    );
    const written = out.trim().split('\n');
    expect(written).toHaveLength(2999);
    written.forEach((line, i) => {
      const index = i < 1234 ? i : i + 1;
      expect(line).toBe(expected[index % targets.length]);
    });
    expect(err).toBe(
      'stdin:1235: "bad host!" is not a valid host name\npathwarden: 1 of 3000 lines were not valid targets (skipped)\n',
    );
    expect(code).toBe(2);
  });

  test('explain - and --json give the bytes of the general serializer on random targets, for every option', async () => {
    // The fast path (cached rule/reason bytes, batches reused across chunks) against JSON.stringify
    // of each decision, in the documented field order, with the options explain offers.
    const random = new Random(20261207);
    const texts = randomTargets(random, 1500);
    const catalog = loadBuiltinCatalog().catalog;
    const optionSets: {
      args: string[];
      profile?: string;
      component: Component;
      actualPath: ActualPath;
      port?: number;
    }[] = [
      { args: [], component: 'saas', actualPath: 'unknown' },
      {
        args: ['--component', 'desktop', '--actual-path', 'internet'],
        component: 'desktop',
        actualPath: 'internet',
      },
      {
        args: ['--component', 'gateway', '--port', '443', '--actual-path', 'expressroute'],
        component: 'gateway',
        actualPath: 'expressroute',
        port: 443,
      },
      { args: ['--component', 'mobile'], component: 'mobile', actualPath: 'unknown' },
      {
        args: ['--profile', 'seed', '--component', 'paas'],
        profile: 'seed',
        component: 'paas',
        actualPath: 'unknown',
      },
    ];
    for (const options of optionSets) {
      const policy = Policy.compile(selectProfile(catalog, options.profile));
      const expected: string[] = [];
      for (const text of texts) {
        const target = parseTarget(text.trim());
        if (typeof target === 'string') continue;
        const decision = policy.decideTarget(target, options);
        expected.push(generalJson(decision));
      }
      // Reads of odd sizes, so that lines and batches straddle reads.
      const input = `${texts.join('\n')}\n`;
      const reads: string[] = [];
      for (let i = 0; i < input.length; i += 4093) reads.push(input.slice(i, i + 4093));
      const stream = await run(['explain', ...options.args, '-'], reads);
      expect(stream.out).toBe(expected.map((line) => `${line}\n`).join(''));
      const valid = texts.filter((text) => typeof parseTarget(text.trim()) !== 'string').slice(0, 40);
      const array = await run(['explain', '--json', ...options.args, ...valid]);
      expect(array.out).toBe(
        `[\n${expected
          .slice(0, 40)
          .map((line) => `  ${line}`)
          .join(',\n')}\n]\n`,
      );
      const one = await run(['explain', '--json', ...options.args, valid[0] as string]);
      expect(one.out).toBe(`${expected[0]}\n`);
    }
  });

  test('explain -: a lone \\r is not a line break; the summary counts every line; long lines are skipped', async () => {
    const long = `${'a'.repeat(1 << 20)}.example.com`;
    const input = [
      'api.powerbi.com',
      'app.powerbi.com\rapi.powerbi.com',
      long,
      'bad host!',
      '13.73.248.4',
      '',
      '',
      '',
    ].join('\n');
    const { code, out, err } = await run(['explain', '-'], [input.slice(0, 70_000), input.slice(70_000)]);
    expect(
      out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).host),
    ).toEqual(['api.powerbi.com', '13.73.248.4']);
    expect(err).toBe(
      [
        'stdin:2: "app.powerbi.com\\rapi.powerbi.com" is not a valid host name',
        `stdin:3: line is longer than ${1 << 20} bytes; skipped`,
        'stdin:4: "bad host!" is not a valid host name',
        // 7 newlines: lines 6 and 7 are blank, and count (line 8, after the last newline, is empty).
        'pathwarden: 3 of 7 lines were not valid targets (skipped)',
        '',
      ].join('\n'),
    );
    expect(code).toBe(2);
    // A last line without a newline counts too.
    const unterminated = await run(['explain', '-'], 'bad host!\n\napi.powerbi.com');
    expect(unterminated.err).toContain('pathwarden: 1 of 3 lines were not valid targets');
  });

  test('bad input: one-line error and exit code 2', async () => {
    const badTarget = await run(['explain', 'bad host!']);
    expect(badTarget.code).toBe(2);
    expect(badTarget.err.trim()).toBe('pathwarden: "bad host!" is not a valid host name');
    const badComponent = await run(['explain', '--component', 'tablet', 'a.com']);
    expect(badComponent.code).toBe(2);
    expect(badComponent.err).toContain("argument 'tablet' is invalid");
    const missing = await run(['explain']);
    expect(missing.code).toBe(2);
    const unknownOption = await run(['explain', '--nope', 'a.com']);
    expect(unknownOption.code).toBe(2);
  });

  test('--catalog extends the built-in catalog', async () => {
    const { out } = await run([
      'explain',
      '--json',
      '--component',
      'gateway',
      '--catalog',
      join(root, 'test/fixtures/catalogs/extra.yaml'),
      'relay.servicebus.windows.net',
    ]);
    expect(JSON.parse(out).rule.id).toBe('contoso.gateway-relay');
  });

  test('--no-builtin-catalog uses only the given files', async () => {
    const { out } = await run([
      'explain',
      '--json',
      '--no-builtin-catalog',
      '--catalog',
      join(root, 'test/fixtures/catalogs/extra.yaml'),
      'api.powerbi.com',
    ]);
    expect(JSON.parse(out).path).toBe('unknown');
  });

  test('--help exits 0 and shows examples', async () => {
    const { code, out } = await run(['explain', '--help']);
    expect(code).toBe(0);
    expect(out).toContain('Examples:');
  });
});

describe('pathwarden catalog', () => {
  test('list', async () => {
    const { code, out } = await run(['catalog', 'list']);
    expect(code).toBe(0);
    expect(out).toMatch(/^ID\s+PATH\s+COMPONENTS\s+DESTINATIONS/);
    expect(out).toMatch(/service\.backend-api\s+expressroute\s+all\s+api\.powerbi\.com/);
  });

  test('list --json --component paas', async () => {
    const { out } = await run(['catalog', 'list', '--json', '--component', 'paas']);
    const rules = JSON.parse(out) as { id: string; components: string[] }[];
    expect(rules.every((rule) => rule.components.includes('paas'))).toBe(true);
    expect(rules.map((rule) => rule.id)).toContain('paas.public-embed-telemetry');
    expect(rules.map((rule) => rule.id)).not.toContain('saas.cortana');
  });

  test('show', async () => {
    const { code, out } = await run(['catalog', 'show', 'saas.login-page']);
    expect(code).toBe(0);
    expect(out).toContain('*.aadcdn.microsoftonline-p.com');
    expect(out).toContain('carries     § SaaS table, row "Login"');
    expect(out).toMatch(/defined at\s+.*powerbi\.yaml:\d+/);
  });

  test('show of an unknown id: exit 2 with suggestions', async () => {
    const { code, err } = await run(['catalog', 'show', 'saas.login']);
    expect(code).toBe(2);
    expect(err).toContain('no rule "saas.login"');
  });

  test('validate: a valid user catalog', async () => {
    const { code, out } = await run(['catalog', 'validate', join(root, 'test/fixtures/catalogs/extra.yaml')]);
    expect(code).toBe(0);
    expect(out).toContain('valid, 2 rules');
  });

  test('validate: every problem with file:line:column (field)', async () => {
    const file = join(root, 'test/fixtures/catalogs/broken.yaml');
    const { code, err } = await run(['catalog', 'validate', file]);
    expect(code).toBe(2);
    expect(err).toContain(`${file}:20:24 (rules[2].components[1]): unknown component "tablet"`);
    expect(err).toContain(`${file}:23:11 (rules[2].path)`);
    expect(err).toContain('2 problems');
  });

  test('validate: conflicts with the built-in catalog are found', async () => {
    const file = join(root, 'test/fixtures/catalogs/overlay-conflict.yaml');
    const { code, err } = await run(['catalog', 'validate', file]);
    expect(code).toBe(2);
    expect(err).toContain(
      'over the built-in catalog: rule "contoso.api-over-internet" (internet) conflicts with rule "service.backend-api"',
    );
    expect((await run(['catalog', 'validate', '--standalone', file])).code).toBe(0);
  });

  test('validate: missing file', async () => {
    const { code, err } = await run(['catalog', 'validate', '/nonexistent/catalog.yaml']);
    expect(code).toBe(2);
    expect(err).toContain('cannot read catalog /nonexistent/catalog.yaml: no such file');
  });
});
