// The flags pathwarden starts Debian's Chromium with (browser tests, the lab, benchmarks): headless,
// as root, and silent on a machine without network (no background, component or sync requests).
export const chromiumArgs: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
