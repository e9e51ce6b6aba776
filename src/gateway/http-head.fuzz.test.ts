// Fuzz: 10,000 seeded malformed request heads at the head parser and a few hundred at a live
// gateway over TCP. Nothing may crash or throw anything but a GatewayError; every rejection carries
// a catalogued code whose status is a client-side refusal (4xx, or 501 / 505 for what the gateway
// does not support); finding the head end across two reads agrees with finding it in one; and the
// live gateway answers every head it got with its code (never PW_GW_INTERNAL), records each one
// and still serves a good request afterwards. Seeds are fixed: a failure names its index.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type GatewayErrorCode, gatewayErrorCodes, isGatewayError } from './errors.js';
import { findHeadEnd, parseRequestHead } from './http-head.js';
import { parseAbsoluteTarget, parseAuthority } from './request-target.js';
import { RawClient } from './testing/clients.js';
import { startTestGateway, type TestGateway } from './testing/gateway-fixture.js';
import { malformedHeads } from './testing/head-mutator.js';
import { type LoggingOrigin, startLoggingOrigin } from './testing/logging-origin.js';

type Outcome = { kind: 'accepted' } | { kind: 'rejected'; code: GatewayErrorCode };

function attempt(run: () => void): Outcome | { kind: 'crash'; error: unknown } {
  try {
    run();
    return { kind: 'accepted' };
  } catch (error) {
    if (isGatewayError(error)) return { kind: 'rejected', code: error.code };
    return { kind: 'crash', error };
  }
}

/**
 * What the proxy's request path does with a head: find its end, parse it, parse its target. A head
 * without its end (truncated, a CRLF mutated away) is completed with an empty line first, as a
 * client that goes on sending would, so that every mutant reaches the parser.
 */
function parseHead(head: Buffer) {
  return attempt(() => {
    let end = findHeadEnd(head);
    let complete = head;
    if (end < 0) {
      complete = Buffer.concat([head, Buffer.from('\r\n\r\n')]);
      end = findHeadEnd(complete);
    }
    const parsed = parseRequestHead(complete, end);
    if (parsed.method === 'CONNECT') parseAuthority(parsed.target);
    else parseAbsoluteTarget(parsed.target);
  });
}

/** findHeadEnd over two reads (the second resuming at `split`): the end, or the error code. */
function endInTwoReads(head: Buffer, split: number): string {
  try {
    const first = findHeadEnd(head.subarray(0, split));
    return String(first >= 0 ? first : findHeadEnd(head, split));
  } catch (error) {
    return isGatewayError(error) ? error.code : `crash: ${String(error)}`;
  }
}

function endInOneRead(head: Buffer): string {
  try {
    return String(findHeadEnd(head));
  } catch (error) {
    return isGatewayError(error) ? error.code : `crash: ${String(error)}`;
  }
}

const clientSide = (status: number) => (status >= 400 && status < 500) || status === 501 || status === 505;

describe('fuzz: malformed request heads', () => {
  test('10,000 heads at the parser: no crash, every rejection a coded client-side refusal', () => {
    const counts = new Map<string, number>();
    const problems: string[] = [];
    let index = 0;
    for (const head of malformedHeads(0x5eed10, 10_000)) {
      const outcome = parseHead(head);
      const key = outcome.kind === 'rejected' ? outcome.code : outcome.kind;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (outcome.kind === 'crash') {
        problems.push(
          `#${index} crashed: ${String(outcome.error)} on ${JSON.stringify(head.toString('latin1'))}`,
        );
      } else if (outcome.kind === 'rejected' && !clientSide(gatewayErrorCodes[outcome.code].status)) {
        problems.push(
          `#${index} rejected with ${outcome.code} (status ${gatewayErrorCodes[outcome.code].status})`,
        );
      }
      const split = head.length === 0 ? 0 : (index * 7919) % head.length;
      const one = endInOneRead(head);
      const two = endInTwoReads(head, split);
      if (one !== two) problems.push(`#${index} head end ${one} in one read, ${two} split at ${split}`);
      index++;
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(index).toBe(10_000);
    // The generator really produces malformed heads, and of the kinds the parser must tell apart.
    const rejected = [...counts]
      .filter(([key]) => key.startsWith('PW_GW_'))
      .reduce((sum, [, n]) => sum + n, 0);
    expect(rejected).toBeGreaterThan(8000);
    for (const code of ['PW_GW_BAD_REQUEST', 'PW_GW_BAD_FRAMING', 'PW_GW_VERSION_UNSUPPORTED']) {
      expect(counts.get(code) ?? 0, code).toBeGreaterThan(50);
    }
  });
});

describe('fuzz: malformed request heads at a live gateway', () => {
  let origin: LoggingOrigin;
  let gateway: TestGateway;

  beforeAll(async () => {
    origin = await startLoggingOrigin();
    // Seeds aim at ports 80 and 443, which this gateway does not allow, and nothing resolves by DNS:
    // a mutant that parses is refused by policy and nothing leaves the machine.
    gateway = await startTestGateway(
      { ports: [origin.port], limits: { headersTimeoutMs: 2000 } },
      { lookup: async () => [] },
    );
  });

  afterAll(async () => {
    await gateway?.close();
    await origin?.close();
  });

  test('300 heads over TCP: each answered with its code and recorded; the gateway keeps serving', async () => {
    const heads = [...malformedHeads(0x5eed11, 300)];
    const problems: string[] = [];
    let answered = 0;
    const send = async (head: Buffer, index: number) => {
      const client = await RawClient.open(gateway.port);
      try {
        client.write(head);
        client.socket.end(); // an incomplete head then ends mid-head: a 400 too
        if (head.length === 0) return;
        const response = await client.response(5000);
        answered++;
        const code = response.headers['x-pathwarden-error'] as GatewayErrorCode | undefined;
        if (code === undefined || !(code in gatewayErrorCodes)) {
          problems.push(`#${index} answered ${response.status} without a code`);
        } else if (code === 'PW_GW_INTERNAL' || gatewayErrorCodes[code].status !== response.status) {
          problems.push(`#${index} answered ${response.status} ${code}`);
        }
      } catch (error) {
        problems.push(`#${index} ${String(error)} on ${JSON.stringify(head.toString('latin1'))}`);
      } finally {
        client.close();
      }
    };
    for (let at = 0; at < heads.length; at += 20) {
      await Promise.all(heads.slice(at, at + 20).map((head, i) => send(head, at + i)));
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(origin.requests).toEqual([]);
    await gateway.store.waitFor(answered);
    expect(gateway.store.flows.every((flow) => typeof flow.error === 'string')).toBe(true);

    const good = await RawClient.open(gateway.port);
    good.write(`GET http://api.powerbi.com:${origin.port}/after HTTP/1.1\r\nHost: api.powerbi.com\r\n\r\n`);
    expect((await good.response()).status).toBe(200);
    good.close();
    expect(origin.requests.map((request) => request.target)).toEqual(['/after']);
  }, 60_000);
});
