// No record lost across SIGTERM: the built CLI runs a gateway with a JSONL store whose flush
// interval is far longer than the test, serves N flows (finished requests, requests still in flight
// at SIGTERM, tunnels held open past the drain time), gets SIGTERM, and must exit 0 with exactly N
// records on disk: in-flight requests drained and answered, held tunnels cut as PW_GW_SHUTDOWN.
// Needs `npm run build` first (npm test does it).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { needPeers } from '../testing/peers.js';
import { runCli as run, startCliGateway, writeGatewayConfig } from './testing/cli-gateway.js';
import { curl, RawClient } from './testing/clients.js';
import { type Origin, startHttpOrigin, startTcpOrigin } from './testing/origins.js';

describe.skipIf(!needPeers('build', 'curl'))('pathwarden gateway and SIGTERM', () => {
  let dir: string;
  let http: Origin;
  let echo: Origin;
  let child: ChildProcess | undefined;
  let inFlightArrived = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-sigterm-'));
    // Answers after 300 ms: requests sent just before SIGTERM are still in flight when it arrives.
    http = await startHttpOrigin((request, response) => {
      if (request.url?.startsWith('/in-flight/')) inFlightArrived++;
      request.resume();
      request.on('end', () => setTimeout(() => response.end(`done ${request.url}`), 300));
    });
    echo = await startTcpOrigin();
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await http.close();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('exactly N records after SIGTERM; in-flight requests answered; held tunnels cut and recorded', async () => {
    const flows = join(dir, 'flows.jsonl');
    const log = join(dir, 'gateway.log');
    const config = writeGatewayConfig(
      dir,
      'gateway.yaml',
      [
        "resolve: { '*.powerbi.com': 127.0.0.1 }",
        'allowDestinations: [127.0.0.0/8]',
        `ports: [${http.port}, ${echo.port}]`,
        'limits: { drainTimeoutMs: 1500 }',
      ],
      {
        store: `{ kind: jsonl, path: ${flows}, flushIntervalMs: 60000 }`,
        log: `{ level: info, file: ${log} }`,
      },
    );
    const check = await run(['gateway', '--config', config, '--check']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('valid');

    const gateway = await startCliGateway(config);
    const started = gateway.child;
    child = started;
    const { exited, proxyPort } = gateway;
    const proxy = `http://127.0.0.1:${proxyPort}`;

    // 1. Finished before SIGTERM: 10 sequential requests.
    const FINISHED = 10;
    for (let i = 0; i < FINISHED; i++) {
      const result = await curl(['-x', proxy, `http://api.powerbi.com:${http.port}/finished/${i}`]);
      expect(result.stdout).toBe(`done /finished/${i}`);
    }
    // 2. Tunnels held open across SIGTERM (cut at the drain time).
    const TUNNELS = 3;
    const tunnels: RawClient[] = [];
    for (let i = 0; i < TUNNELS; i++) {
      const client = await RawClient.open(proxyPort);
      client.write(`CONNECT api.powerbi.com:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect((await client.response()).status).toBe(200);
      tunnels.push(client);
    }
    // 3. In flight at SIGTERM: sent, answered 300 ms later, after the signal.
    const IN_FLIGHT = 5;
    const inFlight = Array.from({ length: IN_FLIGHT }, (_, i) =>
      curl(['-x', proxy, `http://api.powerbi.com:${http.port}/in-flight/${i}`]),
    );
    // SIGTERM once the origin holds every in-flight request (not after a fixed sleep: a loaded
    // machine may take longer than that to start the curl processes).
    const arrivalDeadline = Date.now() + 10_000;
    while (inFlightArrived < IN_FLIGHT) {
      if (Date.now() > arrivalDeadline) throw new Error(`only ${inFlightArrived} in-flight requests arrived`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    started.kill('SIGTERM');

    const answers = await Promise.all(inFlight);
    expect(answers.map((answer) => answer.stdout)).toEqual(
      Array.from({ length: IN_FLIGHT }, (_, i) => `done /in-flight/${i}`),
    );
    expect(await exited, gateway.stderr()).toBe(0);
    for (const client of tunnels) {
      await client.closed;
      client.close();
    }
    // After SIGTERM nothing is accepted any more.
    const refused = await curl(['-x', proxy, `http://api.powerbi.com:${http.port}/late`]);
    expect(refused.code).not.toBe(0);

    const records = readFileSync(flows, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { error: string | null; outcome: string });
    expect(records).toHaveLength(FINISHED + TUNNELS + IN_FLIGHT);
    expect(records.filter((record) => record.error === 'PW_GW_SHUTDOWN')).toHaveLength(TUNNELS);
    expect(records.filter((record) => record.error === null && record.outcome === 'forwarded')).toHaveLength(
      FINISHED + IN_FLIGHT,
    );
    const logged = readFileSync(log, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"msg":"flow"'));
    expect(logged).toHaveLength(FINISHED + TUNNELS + IN_FLIGHT);
  });
});
