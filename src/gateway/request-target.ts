// What a request head asks the proxy for: the absolute-form URL of a plain HTTP request, or the
// authority-form `host:port` of a CONNECT. Everything else is refused with a gateway code.
import { parseTarget, type Target } from '../policy/target.js';
import { GatewayError } from './errors.js';
import type { RequestHead } from './http-head.js';

const absoluteFormRe = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)$/;

/** `http://authority/path?query` -> target and origin-form path; everything else is refused. */
export function parseAbsoluteTarget(text: string): { target: Target; path: string } {
  const match = absoluteFormRe.exec(text);
  if (!match) {
    if (text.startsWith('/') || text === '*') {
      throw new GatewayError(
        'PW_GW_NOT_A_PROXY_REQUEST',
        'this is pathwarden, a forward proxy: send requests through it (curl -x http://this-address ...); its status is on the admin address',
      );
    }
    throw new GatewayError('PW_GW_BAD_REQUEST', 'the request target is not an absolute http:// URL');
  }
  const scheme = (match[1] as string).toLowerCase();
  if (scheme === 'https') {
    throw new GatewayError(
      'PW_GW_UNSUPPORTED',
      'https:// URLs go through a CONNECT tunnel, not as a plain request',
    );
  }
  if (scheme !== 'http') throw new GatewayError('PW_GW_UNSUPPORTED', `${scheme}:// URLs are not forwarded`);
  const authority = match[2] as string;
  if (authority === '' || authority.includes('@')) {
    throw new GatewayError('PW_GW_BAD_REQUEST', 'the URL has no host, or has user info');
  }
  const target = parseTarget(authority);
  if (typeof target === 'string') throw new GatewayError('PW_GW_BAD_REQUEST', `bad URL host: ${target}`);
  const rest = match[3] as string;
  return { target, path: rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest };
}

/** CONNECT's authority-form `host:port` (`[v6]:port`); the port is required. */
export function parseAuthority(text: string): Target {
  if (/[/@?#]/.test(text)) {
    throw new GatewayError('PW_GW_BAD_REQUEST', 'CONNECT takes host:port, not a URL');
  }
  const target = parseTarget(text);
  if (typeof target === 'string')
    throw new GatewayError('PW_GW_BAD_REQUEST', `bad CONNECT target: ${target}`);
  if (target.port === undefined) throw new GatewayError('PW_GW_BAD_REQUEST', 'CONNECT target has no port');
  return target;
}

/** The target of a CONNECT head, which must not announce a body. */
export function connectTarget(head: RequestHead): Target {
  if (head.chunked || (head.contentLength ?? 0) > 0) {
    throw new GatewayError('PW_GW_BAD_REQUEST', 'a CONNECT request has no body');
  }
  return parseAuthority(head.target);
}
