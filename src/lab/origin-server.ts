// A lab origin: answers HTTPS (443) and HTTP (80) for every lab name on every local address of its
// namespace, with a small JSON body saying which side answered. Run as its own process inside a
// namespace: `node origin-server.js SIDE CERT KEY`.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

const [side = 'origin', certFile, keyFile] = process.argv.slice(2);

function answer(request: IncomingMessage, response: ServerResponse): void {
  let bytes = 0;
  request.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  request.on('end', () => {
    const body = `${JSON.stringify({
      side,
      host: request.headers.host ?? null,
      method: request.method,
      path: request.url,
      received: bytes,
      from: request.socket.remoteAddress,
    })}\n`;
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  });
}

const servers = [createHttpServer(answer)];
if (certFile && keyFile)
  servers.push(createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, answer));
let listening = 0;
servers.forEach((server, i) => {
  server.listen(i === 0 ? 80 : 443, '0.0.0.0', () => {
    listening++;
    if (listening === servers.length) process.stdout.write(`lab origin ${side} ready\n`);
  });
});
const stop = () => {
  for (const server of servers) server.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
