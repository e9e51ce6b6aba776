// One running lab: namespaces and links, the lab CA, DNS, origins and the gateway, plus the
// files they read. `up()` builds it; `down()` removes every part of it, whatever state it is in.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot, resolveCatalog } from '../catalog/load.js';
import type { Catalog } from '../catalog/model.js';
import { PathwardenError } from '../errors.js';
import { Policy } from '../policy/policy.js';
import { browserActivities, spaHtml } from './browser.js';
import { type LabCertificates, makeCertificates } from './certificates.js';
import type { ClientContext } from './clients.js';
import {
  type LabFiles,
  type PrivateLinkName,
  squidConfig,
  writeDnsmasqConfig,
  writeLabFiles,
} from './lab-files.js';
import { buildNetwork, removeNetwork } from './network.js';
import { labAddresses as A, type LabName, type LabNaming, labHosts, labNaming, placeNames } from './plan.js';
import { type LabProcess, ProcessGroup, runInNs, waitFor } from './system.js';

export interface LabEnvironmentOptions {
  /** Folder for configs, captures and reports; a fresh temporary folder when absent. */
  outDir?: string;
  /** The catalog in use (built-in plus user catalogs), for the stand-in overlay. */
  catalog: Catalog;
  userCatalogs: readonly string[];
  log?: (line: string) => void;
}

export const cliMain = () => join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const originScript = () => join(packageRoot(), 'dist', 'src', 'lab', 'origin-server.js');

export class LabEnvironment {
  readonly naming: LabNaming;
  readonly dir: string;
  readonly group: ProcessGroup;
  files!: LabFiles;
  catalog!: Catalog;
  policy!: Policy;
  names: LabName[] = [];
  certificates!: LabCertificates;
  gateway?: LabProcess;
  #squids: LabProcess[] = [];
  #dns?: LabProcess;
  #built = false;

  constructor(readonly options: LabEnvironmentOptions) {
    this.naming = labNaming();
    this.dir = options.outDir ?? mkdtempSync(join(tmpdir(), `pwlab-${this.naming.id}-`));
    mkdirSync(this.dir, { recursive: true });
    this.group = new ProcessGroup(this.dir);
  }

  get spaFile(): string {
    return join(this.dir, 'spa.html');
  }

  clientContext(): ClientContext {
    return { ns: this.naming.ns.client, caFile: this.certificates.caFile };
  }

  log(line: string): void {
    this.options.log?.(line);
  }

  async up(): Promise<void> {
    for (const file of [cliMain(), originScript()]) {
      if (!existsSync(file))
        throw new PathwardenError('PW_ERR_LAB_SETUP', `${file} is missing: run \`npm run build\` first`);
    }
    this.log(`lab ${this.naming.id}: building namespaces in ${this.dir}`);
    this.#built = true;
    await buildNetwork(this.naming);
    this.certificates = await makeCertificates(this.dir, labHosts);
    this.files = writeLabFiles(this.dir, this.options.catalog, this.options.userCatalogs);
    // The policy of the catalog in use plus the lab overlay: what the gateway, the generators and
    // the audit all use, and what places each lab name behind the circuit or on the Internet.
    this.catalog = resolveCatalog({
      files: [...this.options.userCatalogs, ...this.files.catalogFiles],
    }).catalog;
    this.policy = Policy.compile(this.catalog);
    this.names = placeNames((host, component) => this.policy.decideHost(host, { component }).path);
    const { ns } = this.naming;
    await this.startDns();
    writeFileSync(this.spaFile, spaHtml(browserActivities));
    for (const side of ['circuit', 'internet'] as const) {
      await this.group.start(
        `origin ${side}`,
        ns[side],
        process.execPath,
        [originScript(), side, this.certificates.certFile, this.certificates.keyFile, this.spaFile],
        { pattern: /ready/, timeoutMs: 10_000 },
      );
    }
    await this.startGateway();
  }

  /** (Re)starts dnsmasq with the lab names, and the Private Link CNAMEs when given. */
  async startDns(privateLink: readonly PrivateLinkName[] = []): Promise<void> {
    if (this.#dns) await this.group.stop(this.#dns);
    const config = writeDnsmasqConfig(this.dir, this.names, privateLink);
    this.#dns = await this.group.start('dnsmasq', this.naming.ns.branch, 'dnsmasq', ['-k', '-C', config], {
      pattern: /started, version/,
      timeoutMs: 5000,
    });
  }

  async startGateway(config = this.files.gatewayConfig): Promise<void> {
    this.gateway = await this.group.start(
      'gateway',
      this.naming.ns.branch,
      process.execPath,
      [cliMain(), 'gateway', '--config', config],
      { pattern: /proxy on/, timeoutMs: 20_000 },
    );
    // Ready means both probes have answered once (the first result sets the state at once).
    const ok = await waitFor(async () => (await this.health()).status === 200, 5000, 100);
    if (!ok) throw new PathwardenError('PW_ERR_LAB_SETUP', 'the gateway did not report both paths up');
  }

  /** Stops the gateway (SIGTERM drains and flushes its flow store). */
  async stopGateway(): Promise<void> {
    if (this.gateway) await this.group.stop(this.gateway);
    this.gateway = undefined;
  }

  /**
   * Resolves each Private Link name from the client namespace (`getent ahostsv4`, whose first
   * line carries the canonical name); returns what differs from the CNAME and address expected.
   */
  async checkPrivateLinkDns(names: readonly PrivateLinkName[]): Promise<string[]> {
    const problems: string[] = [];
    for (const name of names) {
      const result = await runInNs(this.naming.ns.client, 'getent', ['ahostsv4', name.host], 5000);
      const first = result.stdout.split('\n')[0]?.trim().split(/\s+/) ?? [];
      if (first[0] !== name.address || first[2] !== name.alias)
        problems.push(
          `${name.host}: getent says "${result.stdout.split('\n')[0] ?? ''}", expected ${name.address} ${name.alias}`,
        );
    }
    return problems;
  }

  /** `GET /healthz?require=expressroute` on the gateway's admin address, from the branch. */
  async health(require = 'expressroute,internet'): Promise<{ status: number; body: string }> {
    const result = await runInNs(
      this.naming.ns.branch,
      'curl',
      ['-s', '-m', '2', '-w', '\n%{http_code}', `http://127.0.0.1:${A.adminPort}/healthz?require=${require}`],
      5000,
    );
    const lines = result.stdout.trimEnd().split('\n');
    const status = Number(lines.pop() ?? 0);
    return { status, body: lines.join('\n') };
  }

  /** Starts one Squid per uplink (pac-only); returns their `host:port`. */
  async startSquids(): Promise<{ circuit: string; internet: string }> {
    const squidDir = join(this.dir, 'squid');
    rmSync(squidDir, { recursive: true, force: true });
    // Squid drops to its own user: its folder must be writable by it.
    mkdirSync(squidDir);
    chmodSync(squidDir, 0o777);
    const ports = { circuit: A.squidCircuitPort, internet: A.squidInternetPort };
    const sources = { circuit: A.branchCircuitSide, internet: A.branchInternetSide };
    for (const uplink of ['circuit', 'internet'] as const) {
      const conf = join(squidDir, `squid-${uplink}.conf`);
      writeFileSync(conf, squidConfig(squidDir, uplink, ports[uplink], sources[uplink]));
      this.#squids.push(
        await this.group.start(
          `squid ${uplink}`,
          this.naming.ns.branch,
          'squid',
          ['-N', '-d', '1', '-n', this.squidService(uplink), '-f', conf],
          { pattern: /Accepting HTTP Socket connections/, timeoutMs: 20_000 },
        ),
      );
    }
    return {
      circuit: `${A.branchClientSide}:${A.squidCircuitPort}`,
      internet: `${A.branchClientSide}:${A.squidInternetPort}`,
    };
  }

  squidService(uplink: string): string {
    return `pwlab${this.naming.id}${uplink.slice(0, 3)}`;
  }

  async stopSquids(): Promise<void> {
    for (const squid of this.#squids) await this.group.stop(squid);
    this.#squids = [];
    removeSquidShm(`pwlab${this.naming.id}`);
  }

  /** Removes everything this lab started or created, in reverse order; safe to call twice. */
  async down(): Promise<void> {
    await this.group.stopAll();
    this.#squids = [];
    this.#dns = undefined;
    removeSquidShm(`pwlab${this.naming.id}`);
    if (this.#built) await removeNetwork(this.naming);
    this.#built = false;
  }

  /** Last resort on process exit: kill what still runs (namespaces go with `lab down`). */
  killNow(): void {
    this.group.killAllNow();
  }
}

/** Squid leaves its shared-memory segments in /dev/shm, named after its service name. */
export function removeSquidShm(prefix: string): void {
  let names: string[] = [];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(prefix)) rmSync(join('/dev/shm', name), { force: true });
}
