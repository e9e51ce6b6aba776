// Listen addresses (`host:port`, `[v6]:port`) as the gateway config and the admin server take them,
// already checked by the config schema: split them, and tell whether only this machine can reach one.

export function splitHostPort(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(text.slice(colon + 1)) };
}

export function isLoopbackHostPort(text: string): boolean {
  const { host } = splitHostPort(text);
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
