// Listen addresses (`host:port`, `[v6]:port`) as the gateway config and the admin server take them,
// already checked by the config schema: split them, and tell whether only this machine can reach one.
// Loopback is decided by parsing the address, never by its first characters: `127.evil.example` is
// a name that any DNS can point anywhere.
import { BlockList, isIP } from 'node:net';
import { PathwardenError } from '../errors.js';

export function splitHostPort(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(text.slice(colon + 1)) };
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for `localhost` and literal loopback addresses (127.0.0.0/8, ::1, IPv6 in brackets or not). */
export function isLoopbackHost(host: string): boolean {
  const text = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (text.toLowerCase() === 'localhost') return true;
  const family = isIP(text);
  if (family === 4) return loopback.check(text, 'ipv4');
  if (family === 6) return loopback.check(text, 'ipv6');
  return false;
}

export function isLoopbackHostPort(text: string): boolean {
  return isLoopbackHost(splitHostPort(text).host);
}

const hostHeaderRe = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/@]+))(?::(\d{1,5}))?$/;

/**
 * The host of an HTTP `Host` header (`name`, `name:port`, `[v6]`, `[v6]:port`), lower-case and
 * without brackets; null when the header is not of that shape.
 */
export function parseHostHeader(header: string): string | null {
  const match = hostHeaderRe.exec(header);
  if (!match) return null;
  return (match[1] ?? match[2] ?? '').toLowerCase() || null;
}

/**
 * PW_ERR_LISTEN for a listener (`role`: proxy, SOCKS, admin) that could not bind `hostPort`, saying
 * why in the operator's words; the errno stays in `cause`.
 */
export function listenError(role: string, hostPort: string, error: NodeJS.ErrnoException): PathwardenError {
  let why: string;
  switch (error.code) {
    case 'EADDRINUSE':
      why = 'the port is in use (another gateway or program listens there)';
      break;
    case 'EADDRNOTAVAIL':
      why = 'not an address of this host';
      break;
    case 'EACCES':
      why = 'permission denied (ports below 1024 need privileges)';
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      why = 'the host name does not resolve';
      break;
    default:
      why = error.message;
  }
  return new PathwardenError('PW_ERR_LISTEN', `cannot listen on ${role} address ${hostPort}: ${why}`, {
    cause: error,
  });
}
