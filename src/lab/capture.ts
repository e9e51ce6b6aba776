// Packet captures of the branch's uplinks: tcpdump inside the branch namespace, one file per
// uplink and scenario, stopped with SIGINT so that the file ends on a whole packet.
import { join } from 'node:path';
import type { LabNaming } from './plan.js';
import type { LabProcess, ProcessGroup } from './system.js';

export type Uplink = 'circuit' | 'internet';
export const uplinks: readonly Uplink[] = ['circuit', 'internet'];

export interface UplinkCaptures {
  files: Record<Uplink, string>;
  stop(): Promise<void>;
}

export async function startCaptures(
  group: ProcessGroup,
  naming: LabNaming,
  dir: string,
  scenario: string,
): Promise<UplinkCaptures> {
  const files = {} as Record<Uplink, string>;
  const running: LabProcess[] = [];
  for (const uplink of uplinks) {
    const file = join(dir, `${scenario}-${uplink}.pcap`);
    files[uplink] = file;
    running.push(
      await group.start(
        `tcpdump ${uplink}`,
        naming.ns.branch,
        'tcpdump',
        [
          '-i',
          naming.links[uplink].branch,
          '-w',
          file,
          '-U',
          '--immediate-mode',
          '-n',
          '-s',
          '0',
          '-Z',
          'root',
          'ip',
        ],
        { pattern: /listening on/, timeoutMs: 5000 },
      ),
    );
  }
  return {
    files,
    async stop() {
      for (const process of running) await group.stop(process, 'SIGINT');
    },
  };
}
