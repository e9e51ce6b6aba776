// Serves the pre-built dashboard (dist/web) from memory. Only files found in the build folder at
// start are servable: a request path is looked up in that map and never joined onto the file
// system, so no spelling of `..` can reach another file.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Text types are worth compressing; images and fonts already are. */
const compressible = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

/**
 * The page may load only its own scripts and styles and talk only to its own origin: the dashboard
 * shows an organisation's traffic, so nothing it renders (host names from logs) may pull in code.
 */
export const dashboardCsp =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer | undefined;
  etag: string;
  /** Vite puts content-hashed names under assets/: those never change, so caches may keep them. */
  immutable: boolean;
}

export interface StaticSite {
  /** Serves GET/HEAD of a known file; false when the path is not one of them. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
  /** False when the build folder has no index.html (the package was not built). */
  readonly built: boolean;
}

export function loadStaticSite(root: string): StaticSite {
  const files = new Map<string, StaticFile>();
  for (const file of listFiles(root)) {
    const extension = extname(file).toLowerCase();
    const type = contentTypes[extension];
    if (type === undefined) continue;
    const body = readFileSync(file);
    const urlPath = `/${relative(root, file).split(sep).join('/')}`;
    files.set(urlPath, {
      type,
      body,
      gzip: compressible.has(extension) && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      immutable: urlPath.startsWith('/assets/'),
    });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);

  return {
    built: index !== undefined,
    serve(req, res, pathname) {
      const file = files.get(pathname);
      if (file === undefined) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
        res.end('method not allowed\n');
        return true;
      }
      const headers: Record<string, string> = {
        'content-type': file.type,
        etag: file.etag,
        'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        'x-content-type-options': 'nosniff',
        vary: 'accept-encoding',
      };
      if (file.type.startsWith('text/html')) {
        headers['content-security-policy'] = dashboardCsp;
        headers['x-frame-options'] = 'DENY';
        headers['referrer-policy'] = 'no-referrer';
      }
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return true;
      }
      const gzip = file.gzip !== undefined && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
      const body = gzip && file.gzip ? file.gzip : file.body;
      if (gzip) headers['content-encoding'] = 'gzip';
      headers['content-length'] = String(body.length);
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}

function listFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) out.push(...listFiles(path));
    else if (stat.isFile()) out.push(path);
  }
  return out;
}
