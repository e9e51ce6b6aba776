// A lab origin: answers HTTPS (443) and HTTP (80) for every lab name on every local address of its
// namespace, with a small JSON body saying which side answered. Run as its own process inside a
// namespace: `node origin-server.js SIDE CERT KEY [SPA]`. With SPA, `https://app.powerbi.com/spa`
// answers that HTML page (the browser client); every answer allows cross-origin reads (CORS).
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

const [side = 'origin', certFile, keyFile, spaFile] = process.argv.slice(2);
const spa = spaFile ? readFileSync(spaFile) : null;
const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST',
  'access-control-allow-headers': 'content-type',
};

function answer(request: IncomingMessage, response: ServerResponse): void {
  let bytes = 0;
  request.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  request.on('end', () => {
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors);
      response.end();
      return;
    }
    if (spa && request.url === '/spa' && request.headers.host?.split(':')[0] === 'app.powerbi.com') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': spa.length });
      response.end(spa);
      return;
    }
    const body = `${JSON.stringify({
      side,
      host: request.headers.host ?? null,
      method: request.method,
      path: request.url,
      received: bytes,
      from: request.socket.remoteAddress,
    })}\n`;
    response.writeHead(200, {
      ...cors,
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
