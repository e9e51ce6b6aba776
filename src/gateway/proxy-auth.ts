// Proxy authentication (RFC 9110 §11.7.1 Proxy-Authorization, Basic scheme RFC 7617): the users of
// the config, compared in constant time so a wrong password takes as long as a right one.
import { createHash, timingSafeEqual } from 'node:crypto';

export const proxyAuthenticate = 'Proxy-Authenticate: Basic realm="pathwarden", charset="UTF-8"\r\n';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class ProxyAuth {
  readonly #users = new Map<string, Buffer>();
  /** Compared against when the user is unknown, so unknown users cost the same as known ones. */
  readonly #decoy = digest('pathwarden-decoy');

  constructor(users: readonly { name: string; password: string }[]) {
    for (const user of users) this.#users.set(user.name, digest(user.password));
  }

  /** The user name when the header carries valid Basic credentials, otherwise null. */
  verify(header: string | null): string | null {
    if (header === null) return null;
    const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})$/i.exec(header);
    if (!match) return null;
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const name = decoded.slice(0, colon);
    const expected = this.#users.get(name);
    const ok = timingSafeEqual(digest(decoded.slice(colon + 1)), expected ?? this.#decoy);
    return ok && expected !== undefined ? name : null;
  }
}
