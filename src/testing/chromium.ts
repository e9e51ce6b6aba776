// The flags every browser test starts Debian's Chromium with: headless, as root, and silent on a
// machine without network (no background, component or sync requests that would be refused).
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
