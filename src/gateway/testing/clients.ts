// Clients for gateway tests: a raw TCP client that writes exact bytes (for the strict-parser and
// smuggling cases), a CONNECT + TLS client with a chosen SNI and source address, and curl.
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/** Parses one HTTP/1.1 response (Content-Length or chunked body; test-side, not strict). */
function parseOne(buffer: Buffer): { response: RawResponse; used: number } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buffer.toString('latin1', 0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let at = end + 4;
  let body: Buffer;
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(buffer.toString('latin1', at, lineEnd), 16);
      if (buffer.length < lineEnd + 2 + size + 2) return null;
      parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
    body = Buffer.concat(parts);
  } else {
    const length = Number(headers['content-length'] ?? 0);
    if (buffer.length < at + length) return null;
    body = buffer.subarray(at, at + length);
    at += length;
  }
  const text = body.toString('utf8');
  return {
    response: {
      status: Number(statusLine?.split(' ')[1]),
      headers,
      body: text,
      raw: `${head}\r\n\r\n${text}`,
    },
    used: at,
  };
}

/** A TCP connection to the proxy that sends exact bytes and reads responses one by one. */
export class RawClient {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #ended = false;
  #waiters: (() => void)[] = [];
  /** Resolves when the peer has finished sending (FIN) or the connection is gone. */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      const finished = () => {
        this.#ended = true;
        this.#wake();
        resolve();
      };
      socket.on('end', finished);
      socket.on('close', finished);
    });
  }

  static open(port: number, localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        ...(localAddress ? { localAddress } : {}),
        allowHalfOpen: true,
      });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next complete response; rejects when the connection ends first or after `ms`. */
  async response(ms = 5000): Promise<RawResponse> {
    const deadline = Date.now() + ms;
    for (;;) {
      const parsed = parseOne(this.#buffer);
      if (parsed) {
        this.#buffer = this.#buffer.subarray(parsed.used);
        return parsed.response;
      }
      if (this.#ended)
        throw new Error(`connection ended; received ${JSON.stringify(this.#buffer.toString('latin1'))}`);
      if (Date.now() > deadline) throw new Error('no response in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Everything received until the peer closes (or `ms`). */
  async rest(ms = 5000): Promise<Buffer> {
    await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, ms))]);
    return this.#buffer;
  }

  /** True when the peer has ended or closed the connection. */
  get ended(): boolean {
    return this.#ended;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request through a CONNECT tunnel with TLS: the CONNECT answer, then the origin's. */
export async function tlsThroughProxy(options: {
  proxyPort: number;
  connectHost: string;
  port: number;
  servername?: string;
  localAddress?: string;
  extraHeaders?: string;
}): Promise<{ connect: RawResponse; status?: number; body?: string; error?: string }> {
  const client = await RawClient.open(options.proxyPort, options.localAddress);
  try {
    client.write(
      `CONNECT ${options.connectHost}:${options.port} HTTP/1.1\r\nHost: ${options.connectHost}:${options.port}\r\n${options.extraHeaders ?? ''}\r\n`,
    );
    const answer = await client.response();
    if (answer.status !== 200) return { connect: answer };
    client.socket.removeAllListeners('data');
    const tls = tlsConnect({
      socket: client.socket,
      servername: options.servername ?? options.connectHost,
      rejectUnauthorized: false,
    });
    return await new Promise((resolve) => {
      let text = '';
      tls.on('secureConnect', () => tls.write(`GET / HTTP/1.1\r\nHost: ${options.connectHost}\r\n\r\n`));
      tls.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      tls.on('error', (error) => resolve({ connect: answer, error: error.message }));
      tls.on('end', () => {
        const status = Number(text.split(' ')[1]);
        resolve({ connect: answer, status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
      });
    });
  } finally {
    client.close();
  }
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function curl(args: string[], timeoutMs = 15_000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', String(timeoutMs / 1000), ...args],
      { timeout: timeoutMs + 2000 },
      (error, stdout, stderr) => {
        const code = error
          ? typeof (error as { code?: unknown }).code === 'number'
            ? (error as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
