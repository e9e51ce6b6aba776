// Starts a gateway for a test on loopback: egress localAddress 127.0.0.2 (circuit) and 127.0.0.3
// (Internet) unless overridden, catalog hosts resolved to 127.0.0.1 through `resolve`, a memory
// store and recording metrics. Every test closes it in afterAll / finally.
import type { FlowRecord } from '../../flow/record.js';
import { type GatewayConfig, gatewayConfigSchema } from '../config.js';
import { type RunningGateway, startGateway } from '../gateway.js';
import type { LookupAll } from '../host-resolver.js';
import { MemoryFlowStore, RecordingMetrics } from './memory-store.js';

export const CIRCUIT_SOURCE = '127.0.0.2';
export const INTERNET_SOURCE = '127.0.0.3';

export interface TestGateway extends RunningGateway {
  port: number;
  store: MemoryFlowStore;
  metrics: RecordingMetrics;
  config: GatewayConfig;
  /** The records so far whose host is `host`. */
  flowsFor(host: string): FlowRecord[];
  /** The newest record matching `match`, waiting up to `ms` for it (tunnels record on close). */
  flowMatching(match: (flow: FlowRecord) => boolean, ms?: number): Promise<FlowRecord>;
}

/** `overrides` is config input (before defaults), merged over the test defaults. */
export async function startTestGateway(
  overrides: Record<string, unknown> = {},
  deps: { lookup?: LookupAll } = {},
): Promise<TestGateway> {
  const input = {
    listen: '127.0.0.1:0',
    egress: { expressroute: { localAddress: CIRCUIT_SOURCE }, internet: { localAddress: INTERNET_SOURCE } },
    resolve: {
      '*.powerbi.com': '127.0.0.1',
      'powerbi.com': '127.0.0.1',
      '*.analysis.windows.net': '127.0.0.1',
      '*.pbidedicated.windows.net': '127.0.0.1',
      'login.microsoftonline.com': '127.0.0.1',
      'maxcdn.bootstrapcdn.com': '127.0.0.1',
      'ajax.aspnetcdn.com': '127.0.0.1',
      '*.lab.test': '127.0.0.1',
    },
    allowDestinations: ['127.0.0.0/8'],
    store: { kind: 'jsonl', path: '/dev/null' },
    ...overrides,
  };
  const config = gatewayConfigSchema.parse(input);
  const store = new MemoryFlowStore();
  const metrics = new RecordingMetrics();
  const gateway = await startGateway(config, { store, metrics, ...deps });
  const port = Number(gateway.address.slice(gateway.address.lastIndexOf(':') + 1));
  return {
    ...gateway,
    port,
    store,
    metrics,
    config,
    flowsFor: (host) => store.flows.filter((flow) => flow.host === host),
    flowMatching: async (match, ms = 5000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const flow = store.flows.findLast(match);
        if (flow) return flow;
        if (Date.now() > deadline) throw new Error('no matching flow record');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
