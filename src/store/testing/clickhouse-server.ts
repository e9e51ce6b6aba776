// Starts Debian's clickhouse-server for tests, without systemd: its own config, data and logs in a
// temporary folder, HTTP and native ports on loopback, and a `<remote_servers>` cluster of two shards
// that both point at this server with different default databases (so Distributed tables can be
// tested on one process). It can be stopped and started again on the same data and ports.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's package puts the server (`clickhouse-server`), or the single-binary build. */
const binaries = ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server'];

export function clickhouseServerBinary(): string | undefined {
  return binaries.find((path) => existsSync(path));
}

export const testClusterName = 'pathwarden_two_shards';
export const testShardDatabases = ['pw_shard1', 'pw_shard2'] as const;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function configXml(dir: string, httpPort: number, tcpPort: number): string {
  const replica = (database: string) =>
    `<shard><replica><host>127.0.0.1</host><port>${tcpPort}</port><default_database>${database}</default_database></replica></shard>`;
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>${dir}/log/server.log</log>
    <errorlog>${dir}/log/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
  <remote_servers>
    <${testClusterName}>
      ${testShardDatabases.map(replica).join('\n      ')}
    </${testClusterName}>
  </remote_servers>
</yandex>
`;
}

/**
 * A second user, `small_memory` (no password), whose queries may use only `smallMemoryBytes` (the
 * profile's max_memory_usage): a reader on a server with little memory per query. The `default`
 * user may use 2 GB.
 */
export const smallMemoryUser = 'small_memory';

export interface ClickHouseTestServerOptions {
  /** max_memory_usage of the `small_memory` user (default 100 MB). */
  smallMemoryBytes?: number;
}

const user = (name: string, profile: string) => `
    <${name}>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>${profile}</profile>
      <quota>default</quota>
    </${name}>`;

const usersXml = (options: ClickHouseTestServerOptions) => `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>2000000000</max_memory_usage></default>
    <small><max_memory_usage>${options.smallMemoryBytes ?? 100_000_000}</max_memory_usage></small>
  </profiles>
  <users>${user('default', 'default')}${user(smallMemoryUser, 'small')}
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

export class ClickHouseTestServer {
  readonly dir: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly binary: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  private constructor(binary: string, dir: string, httpPort: number, tcpPort: number) {
    this.binary = binary;
    this.dir = dir;
    this.httpPort = httpPort;
    this.tcpPort = tcpPort;
  }

  /** Writes a config in a new temporary folder and starts the server; resolves once /ping answers. */
  static async start(options: ClickHouseTestServerOptions = {}): Promise<ClickHouseTestServer> {
    const binary = clickhouseServerBinary();
    if (!binary) throw new Error('clickhouse-server is not installed (apt-get install clickhouse-server)');
    const dir = mkdtempSync(join(tmpdir(), 'pw-clickhouse-'));
    for (const sub of ['log', 'data', 'tmp', 'user_files', 'format_schemas']) mkdirSync(join(dir, sub));
    const httpPort = await freePort();
    let tcpPort = await freePort();
    while (tcpPort === httpPort) tcpPort = await freePort();
    writeFileSync(join(dir, 'config.xml'), configXml(dir, httpPort, tcpPort));
    writeFileSync(join(dir, 'users.xml'), usersXml(options));
    const server = new ClickHouseTestServer(binary, dir, httpPort, tcpPort);
    try {
      await server.resume();
      for (const database of testShardDatabases)
        await server.query(`CREATE DATABASE IF NOT EXISTS ${database}`);
    } catch (error) {
      await server.dispose();
      throw error;
    }
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** The server's process id while it runs (benchmarks read its CPU time from /proc). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts the server (again) on the same data folder and ports. */
  async resume(timeoutMs = 60_000): Promise<void> {
    if (this.#child) return;
    const child = spawn(this.binary, [`--config-file=${join(this.dir, 'config.xml')}`], {
      cwd: this.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.#child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.#child) throw new Error(`clickhouse-server exited while starting: ${stderr}`);
      try {
        const response = await fetch(`${this.url}/ping`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.stop();
    throw new Error(`clickhouse-server did not answer /ping within ${timeoutMs} ms: ${stderr}`);
  }

  /** SIGTERM and wait for the process to exit (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 30_000): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Stops the server and removes its folder. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs one statement over HTTP and returns the body (tests only: no escaping is done here). */
  async query(sql: string): Promise<string> {
    const response = await fetch(`${this.url}/`, { method: 'POST', body: sql });
    const text = await response.text();
    if (!response.ok) throw new Error(`ClickHouse ${response.status}: ${text.trim()}`);
    return text;
  }
}
